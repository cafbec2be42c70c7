with orgs as (
    -- every provider's staging model of orgs (see dbt_like_sql/README.md)
    {{ union_staging('schools') }}
),

final as (
    -- one row per landed org id of any type (the last copy), for the reference checks: an org
    -- a record points at exists, and is or is not a school
    select
        school_source_id,
        org_type,
        school_name
    from orgs
    where nullif(trim(school_source_id), '') is not null
    qualify row_number() over (
        partition by school_source_id order by source_file desc, source_row desc
    ) = 1
)

select * from final
