-- one row per course: the distinct school and course code (or, without one, course name) of
-- classes.csv, named after its first class's course name. CSV import course values need no
-- cast: invalid_values is always empty.
with courses as (
    select
        concat_ws(':', 'course', trim(school_id),
                  coalesce(nullif(trim(course_code), ''), trim(course_name)))
            as course_source_id,
        arg_min(nullif(trim(course_name), ''), _source_row) as course_name,
        nullif(trim(course_code), '') as course_code,
        nullif(trim(school_id), '') as school_source_id,
        arg_min(_source_file, _source_row) as source_file,
        min(_source_row) as source_row
    from raw.csv_import_classes
    where coalesce(nullif(trim(course_code), ''), nullif(trim(course_name), '')) is not null
    group by 1, 3, 4
),

final as (
    select
        course_source_id,
        course_name,
        course_code,
        school_source_id,
        null::varchar as school_year_source_id,
        false as is_deleted,
        rs_no_invalid_values() as invalid_values,
        source_file,
        source_row
    from courses
)

select * from final
