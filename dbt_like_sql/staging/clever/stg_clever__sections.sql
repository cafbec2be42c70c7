-- one row per section. Clever CSV has no term or course IDs: they are derived from the
-- section's school and term name / dates, and school and course number (or name). Clever
-- section values need no cast: invalid_values is always empty.
with api_sections as (
    select
        id as section_source_id,
        nullif(trim(data ->> '$.sis_id'), '') as sis_id,
        nullif(trim(data ->> '$.name'), '') as section_name,
        nullif(trim(data ->> '$.school'), '') as school_source_id,
        nullif(trim(data ->> '$.course'), '') as course_source_id,
        nullif(trim(data ->> '$.term_id'), '') as term_source_id,
        nullif(trim(data ->> '$.subject'), '') as subject,
        coalesce(try_cast(_ext ->> '$.deleted' as boolean), false) as is_deleted,
        _source_file as source_file,
        _source_row as source_row
    from raw.clever_sections
),

csv_sections as (
    select
        nullif(trim("Section_id"), '') as section_source_id,
        nullif(trim("Section_id"), '') as sis_id,
        nullif(trim("Name"), '') as section_name,
        nullif(trim("School_id"), '') as school_source_id,
        case
            when coalesce(nullif(trim("Course_number"), ''), nullif(trim("Course_name"), ''))
                is not null
            then concat_ws(':', 'course', trim("School_id"),
                           coalesce(nullif(trim("Course_number"), ''), trim("Course_name")))
        end as course_source_id,
        case
            when nullif(trim("Term_name"), '') is not null
            then concat_ws(':', 'term', trim("School_id"), trim("Term_name"),
                           coalesce(trim("Term_start"), ''), coalesce(trim("Term_end"), ''))
        end as term_source_id,
        nullif(trim("Subject"), '') as subject,
        false as is_deleted,
        _source_file as source_file,
        _source_row as source_row
    from raw.clever_csv_sections
),

final as (
    select * from api_sections
    union all by name
    select * from csv_sections
)

select
    section_source_id,
    sis_id,
    section_name,
    school_source_id,
    course_source_id,
    term_source_id,
    subject,
    is_deleted,
    rs_no_invalid_values() as invalid_values,
    source_file,
    source_row
from final
