-- One row per problem with an incoming course: a status that cannot be read (INVALID_VALUE),
-- an org or school year that cannot be followed (REFERENCE_NOT_FOUND), a source id listed
-- twice with different data (DUPLICATE_SOURCE_ID). Each keeps the course out, and its sections
-- with it (plan_sections holds them back; they get no row of their own).
with courses as (
    select * from core.courses
),

orgs as (
    select school_source_id, school_name from intermediate.int_org_types
),

problems as (
    select source_id, field, error_value, error_code, message, blocks_import, source_file,
        source_row
    from sync.invalid_value_checks
    where fetch_entity = 'courses'
    union all
    select source_id, field, error_value, error_code, message, true, source_file, source_row
    from sync.reference_checks
    where fetch_entity = 'courses'
    union all
    select source_id, field, error_value, error_code, message, true, source_file, source_row
    from sync.duplicate_checks
    where fetch_entity = 'courses'
),

final as (
    select
        'course' as record_type,
        problems.field,
        problems.error_value,
        problems.error_code,
        problems.source_id,
        null::bigint as app_id,
        orgs.school_name as school,
        courses.course_name as name,
        problems.message,
        coalesce(problems.source_file, courses.source_file) as source_file,
        coalesce(problems.source_row, courses.source_row) as source_row,
        problems.blocks_import
    from problems
    join courses on courses.course_source_id = problems.source_id
    left join orgs on orgs.school_source_id = courses.school_source_id
)

select * from final
