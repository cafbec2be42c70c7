with unioned as (
    -- every provider's staging model for this entity (see dbt_like_sql/README.md)
    {{ union_staging('terms') }}
),

final as (
    -- a source id listed twice in one landing is kept once
    select *
    from unioned
    where nullif(trim(term_source_id), '') is not null
    qualify row_number() over (partition by term_source_id order by provider) = 1
)

select * from final
