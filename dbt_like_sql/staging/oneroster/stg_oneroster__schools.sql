with orgs as (
    select * from raw.oneroster_orgs
),

final as (
    select
        sourcedId as school_source_id,
        nullif(trim(identifier), '') as sis_id,
        null::varchar as state_id,
        null::varchar as nces_id,
        nullif(trim(name), '') as school_name,
        lower(trim(coalesce(status, ''))) in ('tobedeleted', 'inactive') as is_deleted,
        _source_file as source_file,
        _source_row as source_row
    from orgs
    where lower(trim(coalesce(type, 'school'))) = 'school'
)

select * from final
