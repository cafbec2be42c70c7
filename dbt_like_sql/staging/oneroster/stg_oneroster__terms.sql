with sessions as (
    select * from raw.oneroster_academicsessions
),

final as (
    select
        sourcedId as term_source_id,
        nullif(trim(title), '') as term_name,
        lower(nullif(trim(type), '')) as term_type,
        try_cast(startDate as date) as start_date,
        try_cast(endDate as date) as end_date,
        nullif(trim(schoolYear), '') as school_year,
        lower(trim(coalesce(status, ''))) in ('tobedeleted', 'inactive') as is_deleted
    from sessions
)

select * from final
