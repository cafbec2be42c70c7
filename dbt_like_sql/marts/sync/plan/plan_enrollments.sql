-- One row per incoming enrollment whose section and user are both imported, with its action,
-- plus one row per app enrollment that a complete bulk landing no longer lists (deactivate).
-- Enrollments of records held back (errors, unmatched school) are left as they are.
-- The one synced field is is_primary (a section's primary teacher among its co-teachers): a
-- change is an update.
with enrollments as (
    select * from core.enrollments
),

blocked as (
    select distinct source_id from sync.enrollment_checks where blocks_import
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
    select * from sync.sync_settings where entity = 'enrollments'
),

users_resolved as (
    select source_id, app_id from plan_users
    where action in ('create', 'update', 'reactivate', 'unchanged')
    union all
    -- a delta landing: users not in this landing keep their app record
    select roster_users.source_id, roster_users.app_id
    from roster.users as roster_users
    anti join core.users on core.users.user_source_id = roster_users.source_id
    where roster_users.status = 'active' and roster_users.source_id is not null
),

sections_resolved as (
    select source_id, app_id from plan_sections
    where action in ('create', 'update', 'reactivate', 'unchanged')
    union all
    select roster_sections.source_id, roster_sections.app_id
    from roster.sections as roster_sections
    anti join core.sections on core.sections.section_source_id = roster_sections.source_id
    where roster_sections.status = 'active' and roster_sections.source_id is not null
),

incoming as (
    -- one row per (section, user, role): a live enrollment wins over a deleted one, then the
    -- smallest source id; its is_primary is the first one stated in that order. A window, not
    -- a group by: 7M groups of about one row each aggregate more than twice as slowly as they sort.
    select section_app_id, user_app_id, role, enrollment_source_id, is_deleted, is_primary
    from (
        select
            sections_resolved.app_id as section_app_id,
            users_resolved.app_id as user_app_id,
            enrollments.role,
            enrollments.enrollment_source_id,
            enrollments.is_deleted,
            first_value(enrollments.is_primary ignore nulls) over copies as is_primary,
            row_number() over copies as copy_rank
        from enrollments
        join users_resolved on users_resolved.source_id = enrollments.user_source_id
        join sections_resolved on sections_resolved.source_id = enrollments.section_source_id
        anti join blocked on blocked.source_id = enrollments.enrollment_source_id
        window copies as (
            partition by sections_resolved.app_id, users_resolved.app_id, enrollments.role
            order by enrollments.is_deleted, enrollments.enrollment_source_id
            rows between unbounded preceding and unbounded following
        )
    )
    where copy_rank = 1
),

current_enrollments as (
    -- apply keeps one app enrollment per (section, user, role): it reactivates, never re-creates
    select section_app_id, user_app_id, role, app_id, status, origin, is_primary
    from roster_enrollments
),

compared as (
    select
        incoming.*,
        current_enrollments.app_id as matched_app_id,
        current_enrollments.status as roster_status,
        current_enrollments.origin,
        case when incoming.is_primary is not null
            and incoming.is_primary is distinct from current_enrollments.is_primary
            then ['is_primary'] else []::varchar[] end as changed_fields
    from incoming
    left join current_enrollments
        on current_enrollments.section_app_id = incoming.section_app_id
        and current_enrollments.user_app_id = incoming.user_app_id
        and current_enrollments.role = incoming.role
),

incoming_actions as (
    select
        compared.*,
        plan_action(
            matched_app_id is null,
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

held_users as (
    -- app users an incoming record points at but that were not imported this run, and app
    -- users a problem row names (EMAIL_CHANGED_IN_SIS, a held POSSIBLE_DUPLICATE...): plan_users
    -- leaves them as they are, so their enrollments stay too
    select matches.app_id
    from sync.matches as matches
    anti join plan_users on plan_users.source_id = matches.source_id
    where matches.entity in ('students', 'educators', 'guardians') and matches.app_id is not null
    union
    select app_id from sync.user_checks where app_id is not null and blocks_import
),

held_sections as (
    select matches.app_id
    from sync.matches as matches
    anti join plan_sections on plan_sections.source_id = matches.source_id
    where matches.entity = 'sections' and matches.app_id is not null
),

blocked_enrollments as (
    -- landed enrollments with a blocking enrollment_checks row, of any role (a role that
    -- cannot be read keeps an enrollment out of core)
    select landed.*
    from intermediate.int_enrollments_unioned as landed
    semi join blocked on blocked.source_id = landed.enrollment_source_id
),

held_enrollments as (
    -- app enrollments a blocked enrollment stands for: the one holding its source id, and
    -- those of its section and user
    select roster_enrollments.app_id
    from roster_enrollments
    semi join blocked_enrollments
        on blocked_enrollments.enrollment_source_id = roster_enrollments.source_id
    union
    select roster_enrollments.app_id
    from blocked_enrollments
    join users_resolved on users_resolved.source_id = blocked_enrollments.user_source_id
    join sections_resolved
        on sections_resolved.source_id = blocked_enrollments.section_source_id
    join roster_enrollments
        on roster_enrollments.section_app_id = sections_resolved.app_id
        and roster_enrollments.user_app_id = users_resolved.app_id
),

missing as (
    select roster_enrollments.*
    from roster_enrollments
    cross join settings
    anti join compared on compared.matched_app_id = roster_enrollments.app_id
    anti join held_users on held_users.app_id = roster_enrollments.user_app_id
    anti join held_sections on held_sections.app_id = roster_enrollments.section_app_id
    anti join held_enrollments on held_enrollments.app_id = roster_enrollments.app_id
    where settings.may_deactivate_missing
        and roster_enrollments.status = 'active'
        and roster_enrollments.origin = 'sync'
),

new_ids as (
    select
        incoming_actions.enrollment_source_id,
        (select coalesce(max(app_id), 0) from roster.enrollments)
            + row_number() over (order by incoming_actions.enrollment_source_id) as app_id
    from incoming_actions
    where incoming_actions.action = 'create'
),

final as (
    select
        'enrollments' as entity,
        incoming_actions.action,
        coalesce(incoming_actions.matched_app_id, new_ids.app_id) as app_id,
        incoming_actions.enrollment_source_id as source_id,
        case when incoming_actions.action in ('update', 'reactivate')
            then incoming_actions.changed_fields else []::varchar[] end as changed_fields,
        incoming_actions.section_app_id,
        incoming_actions.user_app_id,
        incoming_actions.role,
        incoming_actions.is_primary
    from incoming_actions
    left join new_ids on new_ids.enrollment_source_id = incoming_actions.enrollment_source_id
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
        missing.role,
        missing.is_primary
    from missing
)

select * from final
