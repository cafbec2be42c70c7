-- One row per incoming enrollment whose section and user are both imported, with its action,
-- plus one row per app enrollment that a complete bulk landing no longer lists (deactivate).
-- Enrollments of records held back (errors, unmatched school) are left as they are.
with enrollments as (
    select * from core.enrollments
),

blocked as (
    select distinct source_id from sync.enrollment_checks
),

plan_users as (
    select * from sync.plan_users
),

plan_sections as (
    select * from sync.plan_sections
),

roster_enrollments as (
    select * from roster.enrollments
),

settings as (
    select * from config.district
),

deactivation_allowed as (
    select
        fetch_entities.mode = 'bulk'
        and run.fetch_complete
        and settings.import_rule = 'create_update_deactivate' as allowed
    from config.fetch_entities
    cross join config.run as run
    cross join settings
    where fetch_entities.entity = 'enrollments'
),

users_resolved as (
    select source_id, app_id from plan_users
    where action in ('create', 'update', 'reactivate', 'unchanged')
    union all
    -- a delta landing: users not in this landing keep their app record
    select source_id, app_id from roster.users
    where status = 'active' and source_id is not null
        and source_id not in (select user_source_id from core.users)
),

sections_resolved as (
    select source_id, app_id from plan_sections
    where action in ('create', 'update', 'reactivate', 'unchanged')
    union all
    select source_id, app_id from roster.sections
    where status = 'active' and source_id is not null
        and source_id not in (select section_source_id from core.sections)
),

incoming as (
    select
        enrollments.*,
        users_resolved.app_id as user_app_id,
        sections_resolved.app_id as section_app_id
    from enrollments
    join users_resolved on users_resolved.source_id = enrollments.user_source_id
    join sections_resolved on sections_resolved.source_id = enrollments.section_source_id
    where enrollments.enrollment_source_id not in (select source_id from blocked)
    qualify row_number() over (
        partition by section_app_id, user_app_id, enrollments.role
        order by enrollments.is_deleted, enrollments.enrollment_source_id
    ) = 1
),

current_enrollments as (
    select *
    from roster_enrollments
    qualify row_number() over (
        partition by section_app_id, user_app_id, role
        order by status = 'active' desc, app_id desc
    ) = 1
),

compared as (
    select
        incoming.*,
        current_enrollments.app_id as matched_app_id,
        current_enrollments.status as roster_status,
        current_enrollments.origin
    from incoming
    left join current_enrollments
        on current_enrollments.section_app_id = incoming.section_app_id
        and current_enrollments.user_app_id = incoming.user_app_id
        and current_enrollments.role = incoming.role
),

incoming_actions as (
    select
        compared.*,
        case
            when matched_app_id is null and (is_deleted or settings.import_rule = 'update_only')
                then 'skip'
            when matched_app_id is null then 'create'
            when is_deleted and roster_status = 'active' and origin = 'sync'
                and settings.import_rule = 'create_update_deactivate'
                and (select fetch_complete from config.run) then 'deactivate'
            when is_deleted then 'unchanged'
            when roster_status <> 'active' then 'reactivate'
            else 'unchanged'
        end as action
    from compared
    cross join settings
),

held_users as (
    -- app users an incoming record points at but that were not imported this run
    select matches.app_id
    from sync.matches
    where matches.entity in ('students', 'educators') and matches.app_id is not null
        and matches.source_id not in (
            select source_id from plan_users where source_id is not null
        )
),

held_sections as (
    select matches.app_id
    from sync.matches
    where matches.entity = 'sections' and matches.app_id is not null
        and matches.source_id not in (
            select source_id from plan_sections where source_id is not null
        )
),

missing as (
    select roster_enrollments.*
    from roster_enrollments
    cross join deactivation_allowed
    where deactivation_allowed.allowed
        and roster_enrollments.status = 'active'
        and roster_enrollments.origin = 'sync'
        and roster_enrollments.app_id not in (
            select matched_app_id from compared where matched_app_id is not null
        )
        and roster_enrollments.user_app_id not in (select app_id from held_users)
        and roster_enrollments.section_app_id not in (select app_id from held_sections)
),

next_id as (
    select coalesce(max(app_id), 0) as max_app_id from roster.enrollments
),

final as (
    select
        'enrollments' as entity,
        incoming_actions.action,
        coalesce(
            incoming_actions.matched_app_id,
            case when incoming_actions.action = 'create' then next_id.max_app_id + row_number() over (
                partition by incoming_actions.action = 'create'
                order by incoming_actions.enrollment_source_id
            ) end
        ) as app_id,
        incoming_actions.enrollment_source_id as source_id,
        []::varchar[] as changed_fields,
        incoming_actions.section_app_id,
        incoming_actions.user_app_id,
        incoming_actions.role
    from incoming_actions
    cross join next_id
    where incoming_actions.action <> 'skip'

    union all

    select
        'enrollments' as entity,
        'deactivate' as action,
        missing.app_id,
        missing.source_id,
        []::varchar[] as changed_fields,
        missing.section_app_id,
        missing.user_app_id,
        missing.role
    from missing
)

select * from final
