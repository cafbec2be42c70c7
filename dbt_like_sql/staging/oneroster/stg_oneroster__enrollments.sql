with enrollments as (
    select * from raw.oneroster_enrollments
),

final as (
    select
        sourcedId as enrollment_source_id,
        nullif(trim(classSourcedId), '') as section_source_id,
        nullif(trim(userSourcedId), '') as user_source_id,
        nullif(trim(schoolSourcedId), '') as school_source_id,
        case
            when lower(trim(role)) = 'student' then 'student'
            when lower(trim(role)) in ('teacher', 'aide', 'proctor', 'administrator')
                then 'teacher'
            else 'other'
        end as role,
        lower(trim(coalesce(status, ''))) in ('tobedeleted', 'inactive') as is_deleted,
        _source_file as source_file,
        _source_row as source_row
    from enrollments
)

select * from final
