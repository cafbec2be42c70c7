-- one row per course. Clever CSV courses are the distinct (school, Course_number or
-- Course_name) of sections.csv; the name is the first such section's Course_name. Clever
-- courses carry no school year, and no value that needs a cast.
with api_courses as (
    select
        id as course_source_id,
        nullif(trim(data ->> '$.name'), '') as course_name,
        nullif(trim(data ->> '$.number'), '') as course_code,
        coalesce(
            nullif(trim(data ->> '$.school'), ''), nullif(trim(data ->> '$.schools[0]'), '')
        ) as school_source_id,
        coalesce(try_cast(_ext ->> '$.deleted' as boolean), false) as is_deleted,
        _source_file as source_file,
        _source_row as source_row
    from raw.clever_courses
),

csv_courses as (
    select
        concat_ws(':', 'course', trim("School_id"),
                  coalesce(nullif(trim("Course_number"), ''), trim("Course_name")))
            as course_source_id,
        arg_min(nullif(trim("Course_name"), ''), _source_row) as course_name,
        nullif(trim("Course_number"), '') as course_code,
        nullif(trim("School_id"), '') as school_source_id,
        false as is_deleted,
        arg_min(_source_file, _source_row) as source_file,
        min(_source_row) as source_row
    from raw.clever_csv_sections
    where coalesce(nullif(trim("Course_number"), ''), nullif(trim("Course_name"), ''))
        is not null
    group by 1, 3, 4
),

final as (
    select * from api_courses
    union all by name
    select * from csv_courses
)

select
    course_source_id,
    course_name,
    course_code,
    school_source_id,
    null::varchar as school_year_source_id,
    is_deleted,
    rs_no_invalid_values() as invalid_values,
    source_file,
    source_row
from final
