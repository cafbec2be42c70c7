-- One row per incoming student, educator or guardian that can be imported, with its action, plus one
-- row per app record that a complete bulk landing no longer lists (deactivate).
-- Synced fields are owned by the source, but an empty incoming value never blanks a stored one.
with users as (
    select * from intermediate.int_people
),

matches as (
    select * from sync.matches where entity in ('students', 'educators', 'guardians')
),

blocked as (
    select distinct source_id from sync.user_checks where blocks_import
),

program_list as (
    -- the district's program list (custom names); empty -> programs are not validated
    select
        coalesce(list(program_name order by program_name), []::varchar[]) as names,
        coalesce(list(lower(trim(program_name)) order by program_name), []::varchar[])
            as lower_names
    from config.programs
),

schools as (
    select * from sync.school_app_ids
),

roster_users as (
    select * from roster.users
),

settings as (
    select * from sync.sync_settings where entity = 'users'
),

next_id as (
    select coalesce(max(app_id), 0) as max_app_id from roster.users
),

incoming as (
    select
        users.* replace (
            case when len(program_list.lower_names) = 0 then users.program_names
            else list_transform(
                list_filter(users.program_names,
                    lambda p: list_contains(program_list.lower_names, lower(trim(p)))),
                lambda p: program_list.names[list_position(program_list.lower_names, lower(trim(p)))]
            ) end as program_names
        ),
        matches.match_status,
        matches.matched_rule,
        matches.app_id as matched_app_id,
        schools.app_id as school_app_id
    from users
    join matches
        on matches.source_id = users.user_source_id
        and matches.entity = users.role || 's'
    left join schools on schools.source_id = users.school_source_id
    cross join program_list
    where not exists (select 1 from blocked where blocked.source_id = users.user_source_id)
        and (
            users.school_source_id is null
            or schools.action in ('create', 'update', 'reactivate', 'unchanged')
        )
),

compared as (
    select
        incoming.*,
        roster_users.status as roster_status,
        roster_users.origin,
        list_filter([
            case when incoming.user_source_id is distinct from roster_users.source_id
                then 'source_id' end,
            case when incoming.sis_id is not null
                and incoming.sis_id is distinct from roster_users.sis_id then 'sis_id' end,
            case when incoming.state_id is not null
                and incoming.state_id is distinct from roster_users.state_id then 'state_id' end,
            case when incoming.student_number is not null
                and incoming.student_number is distinct from roster_users.student_number
                then 'student_number' end,
            case when incoming.email is not null
                and incoming.email is distinct from lower(trim(roster_users.email)) then 'email' end,
            case when incoming.username is not null
                and incoming.username is distinct from roster_users.username then 'username' end,
            case when incoming.first_name is not null
                and incoming.first_name is distinct from roster_users.first_name
                then 'first_name' end,
            case when incoming.middle_name is not null
                and incoming.middle_name is distinct from roster_users.middle_name
                then 'middle_name' end,
            case when incoming.last_name is not null
                and incoming.last_name is distinct from roster_users.last_name
                then 'last_name' end,
            case when incoming.birth_date is not null
                and incoming.birth_date is distinct from roster_users.birth_date
                then 'birth_date' end,
            case when incoming.grade_code is not null
                and incoming.grade_code is distinct from roster_users.grade then 'grade' end,
            case when incoming.school_app_id is not null
                and incoming.school_app_id is distinct from roster_users.school_app_id
                then 'school_app_id' end,
            case when len(incoming.program_names) > 0
                and incoming.program_names is distinct from roster_users.programs
                then 'programs' end,
            case when len(incoming.roles) > 0
                and incoming.roles is distinct from roster_users.roles then 'roles' end
        ], lambda x: x is not null) as changed_fields
    from incoming
    left join roster_users on roster_users.app_id = incoming.matched_app_id
),

incoming_actions as (
    select
        compared.*,
        plan_action(
            match_status = 'new',
            is_deleted,
            settings.import_rule,
            settings.may_deactivate,
            roster_status,
            origin,
            changed_fields
        ) as action
    from compared
    cross join settings
),

protected as (
    -- app records an incoming record points at, even if that record could not be imported
    select app_id from matches where app_id is not null
    union
    select unnest(candidate_app_ids) as app_id from matches
    union
    -- app records a problem row points at (EMAIL_CHANGED_IN_SIS, a held POSSIBLE_DUPLICATE,
    -- a role that cannot be read, ...)
    select app_id from sync.user_checks where app_id is not null and blocks_import
),

missing as (
    select roster_users.*
    from roster_users
    cross join settings
    anti join protected on protected.app_id = roster_users.app_id
    where settings.may_deactivate_missing
        and roster_users.status = 'active'
        and roster_users.origin = 'sync'
),

final as (
    select
        incoming_actions.role || 's' as entity,
        incoming_actions.action,
        coalesce(
            incoming_actions.matched_app_id,
            case when incoming_actions.action = 'create' then next_id.max_app_id + row_number() over (
                partition by incoming_actions.action = 'create'
                order by incoming_actions.user_source_id
            ) end
        ) as app_id,
        incoming_actions.user_source_id as source_id,
        incoming_actions.changed_fields,
        incoming_actions.matched_rule,
        incoming_actions.match_status = 'matched'
            and list_has_any(incoming_actions.changed_fields, ['source_id', 'sis_id'])
            as id_change,
        incoming_actions.role,
        incoming_actions.sis_id,
        incoming_actions.state_id,
        incoming_actions.student_number,
        incoming_actions.email,
        incoming_actions.username,
        incoming_actions.first_name,
        incoming_actions.middle_name,
        incoming_actions.last_name,
        incoming_actions.birth_date,
        incoming_actions.grade_code as grade,
        incoming_actions.school_app_id,
        incoming_actions.program_names as programs,
        incoming_actions.roles
    from incoming_actions
    cross join next_id
    where incoming_actions.action <> 'skip'

    union all

    select
        missing.role || 's' as entity,
        'deactivate' as action,
        missing.app_id,
        missing.source_id,
        []::varchar[] as changed_fields,
        null as matched_rule,
        false as id_change,
        missing.role,
        missing.sis_id,
        missing.state_id,
        missing.student_number,
        missing.email,
        missing.username,
        missing.first_name,
        missing.middle_name,
        missing.last_name,
        missing.birth_date,
        missing.grade,
        missing.school_app_id,
        missing.programs,
        missing.roles
    from missing
)

select * from final
