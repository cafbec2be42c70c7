-- One row per problem with an incoming section that keeps it from being imported: a required
-- value empty, an ambiguous match, an unsafe value, a value that cannot be read (its status), a
-- school, course or term that cannot be followed, a source id listed twice with different data.
with sections as (
    select * from core.sections
),

matches as (
    select * from sync.matches where entity = 'sections'
),

required as (
    select * from config.required_fields where entity = 'sections'
),

schools as (
    select school_source_id, school_name from core.schools
),

section_fields as (
    select
        section_source_id,
        sis_id,
        section_name as name,
        school_source_id as school,
        course_name as course,
        term_name as term
    from sections
    where not is_deleted
),

field_values as (
    select *
    from section_fields
    unpivot include nulls (field_value for field in (sis_id, name, school, course, term))
),

missing_values as (
    select
        field_values.section_source_id,
        'VALUE_NOT_SPECIFIED' as error_code,
        field_values.field,
        null::varchar as error_value,
        null::bigint as app_id,
        'required field ' || field_values.field || ' is empty' as message
    from field_values
    join required on required.field = field_values.field
    where field_values.field_value is null or trim(field_values.field_value) = ''
),

ambiguous as (
    select
        source_id as section_source_id,
        'EXACT_MATCH_MULTIPLE' as error_code,
        matched_rule as field,
        matched_value as error_value,
        candidate_app_ids[1] as app_id,
        matched_rule || ' matches app records ' || array_to_string(candidate_app_ids, ', ')
            as message
    from matches
    where match_status = 'ambiguous'
),

unsafe_values as (
    select
        source_id as section_source_id,
        error_code,
        field,
        error_value,
        null::bigint as app_id,
        message
    from sync.value_checks
    where fetch_entity = 'sections'
),

input_problems as (
    select
        invalid.source_id as section_source_id, invalid.error_code, invalid.field,
        invalid.error_value, matches.app_id, invalid.message, invalid.source_file,
        invalid.source_row
    from sync.invalid_value_checks as invalid
    left join matches on matches.source_id = invalid.source_id
    where invalid.fetch_entity = 'sections'
    union all
    select
        refs.source_id, refs.error_code, refs.field, refs.error_value, matches.app_id,
        refs.message, refs.source_file, refs.source_row
    from sync.reference_checks as refs
    left join matches on matches.source_id = refs.source_id
    where refs.fetch_entity = 'sections'
    union all
    select
        copies.source_id, copies.error_code, copies.field, copies.error_value, matches.app_id,
        copies.message, copies.source_file, copies.source_row
    from sync.duplicate_checks as copies
    left join matches on matches.source_id = copies.source_id
    where copies.fetch_entity = 'sections'
),

problems as (
    select * from missing_values
    union all by name select * from ambiguous
    union all by name select * from unsafe_values
    union all by name select * from input_problems
),

final as (
    select
        'section' as record_type,
        problems.field,
        problems.error_value,
        problems.error_code,
        problems.section_source_id as source_id,
        problems.app_id,
        schools.school_name as school,
        sections.section_name as name,
        problems.message,
        coalesce(problems.source_file, sections.source_file) as source_file,
        coalesce(problems.source_row, sections.source_row) as source_row
    from problems
    join sections on sections.section_source_id = problems.section_source_id
    left join schools on schools.school_source_id = sections.school_source_id
)

select * from final
