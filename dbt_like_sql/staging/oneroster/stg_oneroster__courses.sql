with courses as (
    select * from raw.oneroster_courses
),

final as (
    select
        sourcedId as course_source_id,
        nullif(trim(title), '') as course_name,
        nullif(trim(courseCode), '') as course_code,
        nullif(trim(orgSourcedId), '') as school_source_id,
        lower(trim(coalesce(status, ''))) in ('tobedeleted', 'inactive') as is_deleted
    from courses
)

select * from final
