with unioned as (
    -- every provider's staging model for this entity (see dbt_like_sql/README.md)
    {{ union_staging('users') }}
),

final as (
    -- a source id listed twice in one landing: the last occurrence wins; a record without one
    -- (MISSING_SOURCE_ID at landing) is not imported
    select *
    from unioned
    where nullif(trim(user_source_id), '') is not null
    qualify row_number() over (partition by user_source_id order by source_row desc) = 1
)

select * from final
