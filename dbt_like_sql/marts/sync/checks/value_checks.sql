-- One row per incoming record and field whose value rostersync will not import (UNSAFE_VALUE):
-- a control character (NUL and the other codes below U+0020, and U+007F; in an ID field also
-- tab, CR and LF, which text fields may hold) or a value longer than the district's
-- max_field_bytes. The record is not imported and its app record is left
-- as it is. A refused ID field also stops that entity's deactivations this run
-- (blocks_deactivation): the record that had the ID cannot be told apart from the others.
with settings as (
    select max_field_bytes from config.district
),

flagged_schools as (
    select schools.school_source_id as record_id, schools.*
    from core.schools as schools
    cross join settings
    where regexp_matches(
            concat(school_source_id, sis_id, state_id, nces_id, school_name), '[\x00-\x1F\x7F]')
        or greatest(strlen(school_source_id), strlen(sis_id), strlen(state_id), strlen(nces_id),
            strlen(school_name)) > settings.max_field_bytes
),

flagged_users as (
    select
        users.user_source_id as record_id,
        users.* replace (array_to_string(program_names, ',') as program_names)
    from core.users as users
    cross join settings
    where regexp_matches(
            concat(user_source_id, sis_id, state_id, student_number, email, username, first_name,
                middle_name, last_name, grade_raw, array_to_string(program_names, ',')),
            '[\x00-\x1F\x7F]')
        or greatest(strlen(user_source_id), strlen(sis_id), strlen(state_id),
            strlen(student_number), strlen(email), strlen(username), strlen(first_name),
            strlen(middle_name), strlen(last_name), strlen(grade_raw),
            strlen(array_to_string(program_names, ','))) > settings.max_field_bytes
),

flagged_sections as (
    select sections.section_source_id as record_id, sections.*
    from core.sections as sections
    cross join settings
    where regexp_matches(
            concat(section_source_id, sis_id, section_name, school_source_id, course_source_id,
                course_name, term_source_id, term_name, subject),
            '[\x00-\x1F\x7F]')
        or greatest(strlen(section_source_id), strlen(sis_id), strlen(section_name),
            strlen(school_source_id), strlen(course_source_id), strlen(course_name),
            strlen(term_source_id), strlen(term_name), strlen(subject))
            > settings.max_field_bytes
),

flagged_enrollments as (
    select enrollments.enrollment_source_id as record_id, enrollments.*
    from core.enrollments as enrollments
    cross join settings
    where regexp_matches(
            concat(enrollment_source_id, section_source_id, user_source_id, school_source_id),
            '[\x00-\x1F\x7F]')
        or greatest(strlen(enrollment_source_id), strlen(section_source_id),
            strlen(user_source_id), strlen(school_source_id)) > settings.max_field_bytes
),

field_values as (
    select
        'schools' as fetch_entity, 'school' as record_type, record_id as source_id,
        source_file, source_row, field, field_value,
        field in ('school_source_id', 'sis_id', 'state_id', 'nces_id') as is_id
    from flagged_schools
    unpivot (field_value for field in (school_source_id, sis_id, state_id, nces_id, school_name))

    union all

    select
        'users', role, record_id, source_file, source_row, field, field_value,
        field in ('user_source_id', 'sis_id', 'state_id', 'student_number')
    from flagged_users
    unpivot (field_value for field in (
        user_source_id, sis_id, state_id, student_number, email, username, first_name,
        middle_name, last_name, grade_raw, program_names
    ))

    union all

    select
        'sections', 'section', record_id, source_file, source_row, field, field_value,
        field in ('section_source_id', 'sis_id')
    from flagged_sections
    unpivot (field_value for field in (
        section_source_id, sis_id, section_name, school_source_id, course_source_id, course_name,
        term_source_id, term_name, subject
    ))

    union all

    select
        'enrollments', 'enrollment', record_id, source_file, source_row, field,
        field_value, field = 'enrollment_source_id'
    from flagged_enrollments
    unpivot (field_value for field in (
        enrollment_source_id, section_source_id, user_source_id, school_source_id
    ))
),

refused as (
    select
        *,
        regexp_matches(field_value, '[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]')
            or (is_id and regexp_matches(field_value, '[\t\n\r]')) as has_control_character
    from field_values
),

final as (
    select
        refused.fetch_entity,
        refused.record_type,
        refused.source_id,
        refused.field,
        left(refused.field_value, 200) as error_value,
        'UNSAFE_VALUE' as error_code,
        case
            when refused.has_control_character
                then 'the value contains a control character (NUL or another code below U+0020; '
                    || 'in an ID also a tab or line break); the record is not imported'
            else 'the value is ' || strlen(refused.field_value) || ' bytes, over the limit of '
                || settings.max_field_bytes || ' (max_field_bytes); the record is not imported'
        end as message,
        refused.is_id as blocks_deactivation,
        refused.source_file,
        refused.source_row
    from refused
    cross join settings
    where refused.has_control_character
        or strlen(refused.field_value) > settings.max_field_bytes
)

select * from final
