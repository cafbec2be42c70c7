-- one row per class of classes.csv. The CSV import has no term or course IDs: they are derived
-- from the class's school and term name / dates, and school and course code (or name), as for
-- Clever CSV. CSV import section values need no cast: invalid_values is always empty.
with classes as (
    select * from raw.csv_import_classes
),

final as (
    select
        nullif(trim(class_id), '') as section_source_id,
        nullif(trim(class_id), '') as sis_id,
        nullif(trim(class_name), '') as section_name,
        nullif(trim(school_id), '') as school_source_id,
        case
            when coalesce(nullif(trim(course_code), ''), nullif(trim(course_name), ''))
                is not null
            then concat_ws(':', 'course', trim(school_id),
                           coalesce(nullif(trim(course_code), ''), trim(course_name)))
        end as course_source_id,
        case
            when nullif(trim(term_name), '') is not null
            then concat_ws(':', 'term', trim(school_id), trim(term_name),
                           coalesce(trim(term_start), ''), coalesce(trim(term_end), ''))
        end as term_source_id,
        nullif(trim(subject), '') as subject,
        false as is_deleted,
        rs_no_invalid_values() as invalid_values,
        _source_file as source_file,
        _source_row as source_row
    from classes
)

select * from final
