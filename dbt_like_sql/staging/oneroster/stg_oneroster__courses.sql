-- one row per OneRoster course
with courses as (
    select * from raw.oneroster_courses
),

read_values as (
    select *, rs_oneroster_status(status) as status_read
    from courses
),

final as (
    select
        sourcedId as course_source_id,
        nullif(trim(title), '') as course_name,
        nullif(trim(courseCode), '') as course_code,
        nullif(trim(orgSourcedId), '') as school_source_id,
        nullif(trim(schoolYearSourcedId), '') as school_year_source_id,
        coalesce(status_read.is_deleted, false) as is_deleted,
        list_filter([
            rs_invalid_value('status', status, status_read.problem, _source_file, _source_row)
        ], lambda p: p.reason is not null) as invalid_values,
        _source_file as source_file,
        _source_row as source_row
    from read_values
)

select * from final
