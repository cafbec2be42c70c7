with courses as (
    select * from intermediate.int_courses_unioned
),

final as (
    select
        course_source_id,
        course_name,
        course_code,
        school_source_id,
        school_year_source_id,
        is_deleted,
        provider,
        invalid_values,
        conflicting_copies,
        source_file,
        source_row
    from courses
)

select * from final
