-- One row per problem with an incoming student, educator or guardian, or with a landed user
-- whose role could not be read (record_type 'user'). blocks_import: the record is not imported
-- (most codes). Not blocking: INVALID_PROGRAM_NAME (the record imports without that program),
-- MULTIPLE_GRADES (the first grade is stored), INVALID_VALUE of a descriptive field (the
-- record imports without it). POSSIBLE_DUPLICATE rows appear only under
-- alerts.open_alert_policy 'hold' (the record waits for a decision); under 'create' the alert
-- stays in sync.match_alerts only. Guardians are a login namespace of their own: an email or
-- username is a duplicate among guardians, or among students and educators, so a teacher who is
-- also a parent with the same email is imported twice (an educator and a guardian), and neither
-- blocks the other.
with users as (
    select * from intermediate.int_people
),

landed_users as (
    -- every landed user, of any role: a role that cannot be read keeps a user out of core
    select * from intermediate.int_users_unioned
),

matches as (
    select * from sync.matches where entity in ('students', 'educators', 'guardians')
),

roster_users as (
    select * from roster.users
),

required as (
    select * from config.required_fields
),

schools as (
    select school_source_id, school_name from core.schools
),

user_fields as (
    select
        user_source_id,
        role || 's' as entity,
        sis_id,
        state_id,
        student_number,
        email,
        username,
        first_name,
        middle_name,
        last_name,
        cast(birth_date as varchar) as birth_date,
        grade_raw as grade,
        school_source_id as school
    from users
    where not is_deleted
),

field_values as (
    select *
    from user_fields
    unpivot include nulls (
        field_value for field in (
            sis_id, state_id, student_number, email, username, first_name, middle_name,
            last_name, birth_date, grade, school
        )
    )
),

missing_values as (
    select
        field_values.user_source_id,
        'VALUE_NOT_SPECIFIED' as error_code,
        field_values.field,
        null::varchar as error_value,
        null::bigint as app_id,
        'required field ' || field_values.field || ' is empty' as message
    from field_values
    join required
        on required.entity = field_values.entity
        and required.field = field_values.field
    where field_values.field_value is null or trim(field_values.field_value) = ''
),

ambiguous as (
    select
        source_id as user_source_id,
        'EXACT_MATCH_MULTIPLE' as error_code,
        matched_rule as field,
        matched_value as error_value,
        candidate_app_ids[1] as app_id,
        matched_rule || ' matches app records ' || array_to_string(candidate_app_ids, ', ')
            as message
    from matches
    where match_status = 'ambiguous'
),

invalid_grades as (
    select
        user_source_id,
        'INVALID_GRADE' as error_code,
        'grade' as field,
        grade_raw as error_value,
        null::bigint as app_id,
        'grade value has no entry in the district grade code table' as message
    from users
    where role = 'student' and not is_deleted and grade_raw is not null and grade_code is null
),

live_users as (
    select users.*, matches.app_id as matched_app_id
    from users
    join matches
        on matches.source_id = users.user_source_id
        and matches.entity = users.role || 's'
    where not users.is_deleted and matches.match_status <> 'ambiguous'
),

email_held_by_app_record as (
    select
        live_users.user_source_id,
        'DUPLICATE_EMAIL_ADDRESS' as error_code,
        'email' as field,
        live_users.email as error_value,
        min(roster_users.app_id) as app_id,
        'email already belongs to another app record' as message
    from live_users
    join roster_users
        on lower(trim(roster_users.email)) = live_users.email
        and (roster_users.role = 'guardian') = (live_users.role = 'guardian')
    where roster_users.app_id is distinct from live_users.matched_app_id
    group by all
),

email_shared_in_source as (
    select
        user_source_id,
        'DUPLICATE_EMAIL_ADDRESS' as error_code,
        'email' as field,
        email as error_value,
        null::bigint as app_id,
        'email is used by ' || count(*) over (partition by email, role = 'guardian')
            || ' incoming records' as message
    from live_users
    where email is not null
    qualify count(*) over (partition by email, role = 'guardian') > 1
),

username_held_by_app_record as (
    select
        live_users.user_source_id,
        'DUPLICATE_USERNAME' as error_code,
        'username' as field,
        live_users.username as error_value,
        min(roster_users.app_id) as app_id,
        'username already belongs to another app record' as message
    from live_users
    join roster_users
        on lower(trim(roster_users.username)) = lower(trim(live_users.username))
        and (roster_users.role = 'guardian') = (live_users.role = 'guardian')
    where roster_users.app_id is distinct from live_users.matched_app_id
    group by all
),

username_shared_in_source as (
    select
        user_source_id,
        'DUPLICATE_USERNAME' as error_code,
        'username' as field,
        username as error_value,
        null::bigint as app_id,
        'username is used by '
            || count(*) over (partition by lower(trim(username)), role = 'guardian')
            || ' incoming records' as message
    from live_users
    where username is not null
    qualify count(*) over (partition by lower(trim(username)), role = 'guardian') > 1
),

same_app_record as (
    -- two incoming records resolved to one app record: neither is imported
    select
        user_source_id,
        'DUPLICATE_RECORD' as error_code,
        null::varchar as field,
        null::varchar as error_value,
        matched_app_id as app_id,
        'another incoming record matches the same app record' as message
    from live_users
    where matched_app_id is not null
    qualify count(*) over (partition by matched_app_id) > 1
),

unmatched_users as (
    select users.*
    from users
    join matches
        on matches.source_id = users.user_source_id
        and matches.entity = users.role || 's'
    where matches.match_status = 'new' and not users.is_deleted and users.email is not null
),

same_person_in_app as (
    -- app records holding an unmatched record's source id or sis id (two equi-joins, no OR
    -- join: this runs against the whole roster)
    select unmatched_users.user_source_id, roster_users.app_id, roster_users.email,
        'source id' as via
    from unmatched_users
    join roster_users
        on roster_users.source_id = unmatched_users.user_source_id
        and roster_users.role = unmatched_users.role
    union all
    select unmatched_users.user_source_id, roster_users.app_id, roster_users.email,
        'sis id' as via
    from unmatched_users
    join roster_users
        on roster_users.sis_id = unmatched_users.sis_id
        and roster_users.role = unmatched_users.role
),

email_changed_in_sis as (
    -- matching found nothing, but an app record holds this record's source id or sis id with
    -- another email: the email changed in the SIS, not in the app (email-first districts)
    select
        unmatched_users.user_source_id,
        'EMAIL_CHANGED_IN_SIS' as error_code,
        'email' as field,
        unmatched_users.email as error_value,
        min(same_person_in_app.app_id) as app_id,
        'email changed in the SIS: the app record ' || min(same_person_in_app.app_id)
            || ' with this person''s ' || min(same_person_in_app.via)
            || ' still has the old email ' || coalesce(min(same_person_in_app.email), '(none)')
            || '; not imported (it would create a duplicate). Update the email of app record '
            || min(same_person_in_app.app_id) || ' to the SIS email, then sync again' as message
    from unmatched_users
    join same_person_in_app on same_person_in_app.user_source_id = unmatched_users.user_source_id
    where lower(trim(same_person_in_app.email)) is distinct from unmatched_users.email
    group by unmatched_users.user_source_id, unmatched_users.email
),

program_list as (
    select
        coalesce(list(lower(trim(program_name))), []::varchar[]) as lower_names
    from config.programs
),

invalid_programs as (
    -- validated only when the district has a program list; one row per unknown program
    select
        users.user_source_id,
        'INVALID_PROGRAM_NAME' as error_code,
        'programs' as field,
        program.program_name as error_value,
        null::bigint as app_id,
        'program is not in the district program list; the record is imported without it'
            as message
    from users
    cross join unnest(users.program_names) as program(program_name)
    cross join program_list
    where not users.is_deleted
        and len(program_list.lower_names) > 0
        and not list_contains(program_list.lower_names, lower(trim(program.program_name)))
),

possible_duplicates as (
    select
        alerts.source_id_l as user_source_id,
        'POSSIBLE_DUPLICATE' as error_code,
        null::varchar as field,
        array_to_string(any_value(alerts.rules order by alerts.score desc), ', ') as error_value,
        arg_max(alerts.app_id_r, alerts.score) as app_id,
        'looks like app record ' || arg_max(alerts.app_id_r, alerts.score) || ' (score '
            || max(alerts.score) || '); '
            || '; held until a decision: rostersync alerts decide' as message
    from sync.match_alerts as alerts
    where alerts.status = 'open' and alerts.open_alert_policy = 'hold'
    group by alerts.source_id_l
),

unsafe_values as (
    select
        source_id as user_source_id,
        error_code,
        field,
        error_value,
        null::bigint as app_id,
        message
    from sync.value_checks
    where fetch_entity = 'users'
),

several_grades as (
    select
        user_source_id,
        'MULTIPLE_GRADES' as error_code,
        'grade' as field,
        array_to_string(grade_values, ',') as error_value,
        null::bigint as app_id,
        'several grades are listed; the first, ' || grade_values[1] || ', is stored' as message,
        false as blocks_import
    from users
    where not is_deleted and len(grade_values) > 1
),

input_problems as (
    -- values that could not be read, references that cannot be followed, a source id listed
    -- twice with different data; each row has its own file and row
    select
        source_id as user_source_id, error_code, field, error_value, message, blocks_import,
        source_file, source_row
    from sync.invalid_value_checks
    where fetch_entity = 'users'
    union all
    select
        source_id, error_code, field, error_value, message, true, source_file, source_row
    from sync.reference_checks
    where fetch_entity = 'users'
    union all
    select
        source_id, error_code, field, error_value, message, true, source_file, source_row
    from sync.duplicate_checks
    where fetch_entity = 'users'
),

app_user_by_source_id as (
    select source_id, min(app_id) as app_id
    from roster_users
    where source_id is not null
    group by source_id
),

input_problem_rows as (
    -- column F: the app record the incoming one matched, else the one holding its source id;
    -- a blocking row protects it from deactivation (plan_users) with its enrollments
    select
        input_problems.*,
        coalesce(matches.app_id, app_user_by_source_id.app_id) as app_id
    from input_problems
    left join matches on matches.source_id = input_problems.user_source_id
    left join app_user_by_source_id
        on app_user_by_source_id.source_id = input_problems.user_source_id
),

problems as (
    select * from missing_values
    union all by name select * from unsafe_values
    union all by name select * from ambiguous
    union all by name select * from invalid_grades
    union all by name select * from email_held_by_app_record
    union all by name select * from email_shared_in_source
    union all by name select * from username_held_by_app_record
    union all by name select * from username_shared_in_source
    union all by name select * from same_app_record
    union all by name select * from email_changed_in_sis
    union all by name select * from invalid_programs
    union all by name select * from possible_duplicates
    union all by name select * from several_grades
    union all by name select * from input_problem_rows
),

final as (
    select
        coalesce(users.role, 'user') as record_type,
        problems.field,
        problems.error_value,
        problems.error_code,
        problems.user_source_id as source_id,
        problems.app_id,
        schools.school_name as school,
        concat_ws(' ', landed_users.first_name, landed_users.last_name) as name,
        problems.message,
        coalesce(problems.source_file, landed_users.source_file) as source_file,
        coalesce(problems.source_row, landed_users.source_row) as source_row,
        case
            when problems.error_code = 'INVALID_PROGRAM_NAME' then false
            else coalesce(problems.blocks_import, true)
        end as blocks_import
    from problems
    join landed_users on landed_users.user_source_id = problems.user_source_id
    left join users on users.user_source_id = problems.user_source_id
    left join schools on schools.school_source_id = users.school_source_id
)

select * from final
