-- One row per problem with an incoming enrollment. Blocking (the enrollment is not imported and
-- its app enrollment is left as it is): its section or user exists nowhere (ORPHAN_ENROLLMENT:
-- not in this landing and, when the landing does not send that entity whole, not in the app's
-- roster); its role contradicts the user's (ROLE_MISMATCH: a student in a teacher enrollment,
-- an educator in a student one, a user rostersync does not import in either); a value it
-- carries is unsafe, cannot be read, or points at a school that cannot be followed; its source
-- id is listed twice with different data. Not blocking: a primary flag that cannot be read.
-- Enrollments whose role cannot be read are read before core drops them.
with enrollments as (
    select * from core.enrollments where not is_deleted
),

landed_enrollments as (
    select * from intermediate.int_enrollments_unioned
),

fetch_modes as (
    select entity, mode from config.fetch_entities
),

landed_users as (
    select * from intermediate.int_users_unioned
),

known_users as (
    select user_source_id as source_id, role from landed_users
    union all
    select roster_users.source_id, roster_users.role
    from roster.users as roster_users
    join fetch_modes on fetch_modes.entity = 'users' and fetch_modes.mode <> 'bulk'
    anti join landed_users on landed_users.user_source_id = roster_users.source_id
    where roster_users.source_id is not null
),

known_sections as (
    select section_source_id as source_id from core.sections
    union
    select roster_sections.source_id
    from roster.sections as roster_sections
    join fetch_modes on fetch_modes.entity = 'sections' and fetch_modes.mode <> 'bulk'
    where roster_sections.source_id is not null
),

schools as (
    select school_source_id, school_name from core.schools
),

orphans as (
    select
        enrollments.enrollment_source_id,
        case when known_sections.source_id is null then 'section' else 'user' end as field,
        case when known_sections.source_id is null then enrollments.section_source_id
            else enrollments.user_source_id end as error_value,
        'ORPHAN_ENROLLMENT' as error_code,
        'the enrollment refers to a '
            || case when known_sections.source_id is null then 'section' else 'user' end
            || ' that is in neither the landing nor the app' as message,
        true as blocks_import
    from enrollments
    left join known_sections on known_sections.source_id = enrollments.section_source_id
    left join (select distinct source_id from known_users) as found_users
        on found_users.source_id = enrollments.user_source_id
    where known_sections.source_id is null or found_users.source_id is null
),

user_roles as (
    -- one role per known user; a user whose role could not be read has its own INVALID_VALUE
    select
        source_id,
        any_value(role) as role
    from known_users
    anti join (
        select source_id from sync.invalid_value_checks
        where fetch_entity = 'users' and field = 'role'
    ) as unreadable using (source_id)
    group by source_id
),

role_mismatches as (
    select
        enrollments.enrollment_source_id,
        'role' as field,
        enrollments.role as error_value,
        'ROLE_MISMATCH' as error_code,
        'a ' || enrollments.role || ' enrollment of a user whose role is ' || user_roles.role
            || '; the enrollment is not imported' as message,
        true as blocks_import
    from enrollments
    join user_roles on user_roles.source_id = enrollments.user_source_id
    where (enrollments.role = 'student' and user_roles.role <> 'student')
        or (enrollments.role = 'teacher' and user_roles.role <> 'educator')
),

unsafe_values as (
    select
        source_id as enrollment_source_id, field, error_value, error_code, message,
        true as blocks_import
    from sync.value_checks
    where fetch_entity = 'enrollments'
),

input_problems as (
    select
        source_id as enrollment_source_id, field, error_value, error_code, message,
        blocks_import, source_file, source_row
    from sync.invalid_value_checks
    where fetch_entity = 'enrollments'
    union all
    select source_id, field, error_value, error_code, message, true, source_file, source_row
    from sync.reference_checks
    where fetch_entity = 'enrollments'
    union all
    select source_id, field, error_value, error_code, message, true, source_file, source_row
    from sync.duplicate_checks
    where fetch_entity = 'enrollments'
),

problems as (
    select * from orphans
    union all by name select * from role_mismatches
    union all by name select * from unsafe_values
    union all by name select * from input_problems
),

final as (
    select
        'enrollment' as record_type,
        problems.field,
        problems.error_value,
        problems.error_code,
        problems.enrollment_source_id as source_id,
        null::bigint as app_id,
        schools.school_name as school,
        null::varchar as name,
        problems.message,
        coalesce(problems.source_file, landed_enrollments.source_file) as source_file,
        coalesce(problems.source_row, landed_enrollments.source_row) as source_row,
        problems.blocks_import
    from problems
    join landed_enrollments
        on landed_enrollments.enrollment_source_id = problems.enrollment_source_id
    left join schools on schools.school_source_id = landed_enrollments.school_source_id
)

select * from final
