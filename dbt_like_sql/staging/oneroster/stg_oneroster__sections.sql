-- one row per OneRoster class. A class in several terms keeps its first (the app stores one
-- term per section); of several subjects, the first.
with classes as (
    select * from raw.oneroster_classes
),

read_values as (
    select *, rs_oneroster_status(status) as status_read
    from classes
),

final as (
    select
        sourcedId as section_source_id,
        sourcedId as sis_id,
        nullif(trim(title), '') as section_name,
        nullif(trim(schoolSourcedId), '') as school_source_id,
        nullif(trim(courseSourcedId), '') as course_source_id,
        nullif(trim(split_part(termSourcedIds, ',', 1)), '') as term_source_id,
        nullif(trim(split_part(subjects, ',', 1)), '') as subject,
        coalesce(status_read.is_deleted, false) as is_deleted,
        list_filter([
            rs_invalid_value('status', status, status_read.problem, _source_file, _source_row)
        ], lambda p: p.reason is not null) as invalid_values,
        _source_file as source_file,
        _source_row as source_row
    from read_values
)

select * from final
