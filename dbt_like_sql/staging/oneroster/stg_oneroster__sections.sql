with classes as (
    select * from raw.oneroster_classes
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
        lower(trim(coalesce(status, ''))) in ('tobedeleted', 'inactive') as is_deleted,
        _source_file as source_file,
        _source_row as source_row
    from classes
)

select * from final
