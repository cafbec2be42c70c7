with oneroster as (
    select 'oneroster' as provider, * from staging.stg_oneroster__courses
),

clever as (
    select 'clever' as provider, * from staging.stg_clever__courses
),

unioned as (
    select * from oneroster
    union all by name
    select * from clever
),

final as (
    -- a source id listed twice in one landing is kept once
    select *
    from unioned
    where nullif(trim(course_source_id), '') is not null
    qualify row_number() over (partition by course_source_id order by provider) = 1
)

select * from final
