-- One row per problem with an incoming enrollment: its section or user exists nowhere, not in
-- this landing and not in the app's roster (ORPHAN_ENROLLMENT), or a value it carries is unsafe.
with enrollments as (
    select * from core.enrollments where not is_deleted
),

known_users as (
    select user_source_id as source_id from intermediate.int_users_unioned
    union
    select source_id from roster.users where source_id is not null
),

known_sections as (
    select section_source_id as source_id from core.sections
    union
    select source_id from roster.sections where source_id is not null
),

schools as (
    select school_source_id, school_name from core.schools
),

orphans as (
    select
        enrollments.*,
        case when known_sections.source_id is null then 'section' else 'user' end as field
    from enrollments
    left join known_sections on known_sections.source_id = enrollments.section_source_id
    left join known_users on known_users.source_id = enrollments.user_source_id
    where known_sections.source_id is null or known_users.source_id is null
),

orphan_rows as (
    select
        'enrollment' as record_type,
        orphans.field,
        case when orphans.field = 'section' then orphans.section_source_id
            else orphans.user_source_id end as error_value,
        'ORPHAN_ENROLLMENT' as error_code,
        orphans.enrollment_source_id as source_id,
        null::bigint as app_id,
        schools.school_name as school,
        null::varchar as name,
        'the enrollment refers to a ' || orphans.field || ' that is in neither the file nor the app'
            as message,
        orphans.source_file,
        orphans.source_row
    from orphans
    left join schools on schools.school_source_id = orphans.school_source_id
),

unsafe_rows as (
    select
        record_type,
        field,
        error_value,
        error_code,
        source_id,
        null::bigint as app_id,
        null::varchar as school,
        null::varchar as name,
        message,
        source_file,
        source_row
    from sync.value_checks
    where fetch_entity = 'enrollments'
),

final as (
    select * from orphan_rows
    union all by name
    select * from unsafe_rows
)

select * from final
