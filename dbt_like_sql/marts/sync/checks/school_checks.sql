-- One row per incoming school that is not imported: unmatched (SCHOOL_NOT_MATCHED, with the
-- three closest app school names and how many records were held back), ambiguous, or refused:
-- an unsafe value (UNSAFE_VALUE, sync.value_checks), a status or org type that cannot be read
-- (INVALID_VALUE), a source id listed twice with different data (DUPLICATE_SOURCE_ID).
with plan_schools as (
    select * from sync.plan_schools where action in ('unmatched', 'error')
),

schools as (
    select * from core.schools
),

matches as (
    select * from sync.matches where entity = 'schools'
),

app_schools as (
    select custom_name from roster.schools where status = 'active'
),

closest as (
    select
        plan_schools.source_id,
        list(app_schools.custom_name order by jaro_winkler_similarity(
            lower(schools.school_name), lower(app_schools.custom_name)
        ) desc, app_schools.custom_name)[1:3] as suggestions
    from plan_schools
    join schools on schools.school_source_id = plan_schools.source_id
    cross join app_schools
    group by plan_schools.source_id
),

held_users as (
    select school_source_id, count(*) filter (where role = 'student') as students,
        count(*) filter (where role = 'educator') as educators
    from core.users
    where school_source_id in (select source_id from plan_schools)
    group by school_source_id
),

held_sections as (
    select school_source_id, count(*) as sections
    from core.sections
    where school_source_id in (select source_id from plan_schools)
    group by school_source_id
),

held_enrollments as (
    select sections.school_source_id, count(*) as enrollments
    from core.enrollments
    join core.sections on sections.section_source_id = enrollments.section_source_id
    where sections.school_source_id in (select source_id from plan_schools)
    group by sections.school_source_id
),

matching_problems as (
    select
        'school' as record_type,
        case when plan_schools.action = 'error' then matches.matched_rule else 'name' end
            as field,
        case when plan_schools.action = 'error' then matches.matched_value
            else schools.school_name end as error_value,
        case when plan_schools.action = 'error' then 'EXACT_MATCH_MULTIPLE'
            else 'SCHOOL_NOT_MATCHED' end as error_code,
        plan_schools.source_id,
        case when plan_schools.action = 'error' then matches.candidate_app_ids[1] end as app_id,
        schools.school_name as school,
        schools.school_name as name,
        case
            when plan_schools.action = 'error' then
                matches.matched_rule || ' matches app schools '
                || array_to_string(matches.candidate_app_ids, ', ')
            else
                'no app school matches; closest app names: '
                || coalesce(nullif(array_to_string(closest.suggestions, ' | '), ''), '(none)')
        end
        || '; held back: ' || coalesce(held_users.students, 0) || ' students, '
        || coalesce(held_users.educators, 0) || ' educators, '
        || coalesce(held_sections.sections, 0) || ' sections, '
        || coalesce(held_enrollments.enrollments, 0) || ' enrollments' as message,
        schools.source_file,
        schools.source_row
    from plan_schools
    join schools on schools.school_source_id = plan_schools.source_id
    join matches on matches.source_id = plan_schools.source_id
    left join closest on closest.source_id = plan_schools.source_id
    left join held_users on held_users.school_source_id = plan_schools.source_id
    left join held_sections on held_sections.school_source_id = plan_schools.source_id
    left join held_enrollments on held_enrollments.school_source_id = plan_schools.source_id
),

unsafe_values as (
    select
        value_checks.record_type,
        value_checks.field,
        value_checks.error_value,
        value_checks.error_code,
        value_checks.source_id,
        null::bigint as app_id,
        schools.school_name as school,
        schools.school_name as name,
        value_checks.message,
        value_checks.source_file,
        value_checks.source_row
    from sync.value_checks as value_checks
    left join schools on schools.school_source_id = value_checks.source_id
    where value_checks.fetch_entity = 'schools'
),

input_problems as (
    select
        problems.record_type,
        problems.field,
        problems.error_value,
        problems.error_code,
        problems.source_id,
        matches.app_id,
        schools.school_name as school,
        schools.school_name as name,
        problems.message,
        problems.source_file,
        problems.source_row
    from (
        select record_type, field, error_value, error_code, source_id, message, source_file,
            source_row
        from sync.invalid_value_checks
        where fetch_entity = 'schools'
        union all
        select record_type, field, error_value, error_code, source_id, message, source_file,
            source_row
        from sync.duplicate_checks
        where fetch_entity = 'schools'
    ) as problems
    left join schools on schools.school_source_id = problems.source_id
    left join matches on matches.source_id = problems.source_id
),

final as (
    select * from matching_problems
    union all by name
    select * from unsafe_values
    union all by name
    select * from input_problems
)

select * from final
