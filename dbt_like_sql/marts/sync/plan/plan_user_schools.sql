-- One row per school of an imported student or educator (the primary school is the user's
-- school_app_id) with its action, plus one row per app link of a user this landing sends that
-- no longer lists the school (deactivate). A link follows its user: only users this run
-- imports have their links planned; a school the user lists that cannot take records this
-- run (its own row explains) leaves that link as it is. A link's source_id is
-- '<user source id>@<school source id>' (the source has no id for it).
with imported_users as (
    select app_id as user_app_id, source_id, role
    from sync.plan_users
    where action in ('create', 'update', 'reactivate', 'unchanged')
),

listed as (
    -- every school the source lists for the user, in the source's order
    select
        imported_users.user_app_id,
        imported_users.source_id as user_source_id,
        org.school_source_id,
        org.school_source_id = users.school_source_id as is_primary
    from core.users as users
    join imported_users
        on imported_users.source_id = users.user_source_id
        and imported_users.role = users.role
    cross join unnest(users.school_source_ids) as org(school_source_id)
),

placed as (
    -- one link per app school (two orgs the district config maps to one app school are one)
    select listed.*, schools.app_id as school_app_id
    from listed
    join sync.school_app_ids as schools on schools.source_id = listed.school_source_id
    where schools.action in ('create', 'update', 'reactivate', 'unchanged')
    qualify row_number() over (
        partition by listed.user_app_id, schools.app_id
        order by listed.is_primary desc, listed.school_source_id
    ) = 1
),

roster_links as (
    select * from roster.user_schools
),

settings as (
    select * from sync.sync_settings where entity = 'users'
),

next_id as (
    select coalesce(max(app_id), 0) as max_app_id from roster.user_schools
),

compared as (
    select
        placed.*,
        roster_links.app_id as link_app_id,
        roster_links.status as roster_status,
        list_filter([
            case when placed.is_primary is distinct from roster_links.is_primary
                then 'is_primary' end
        ], lambda x: x is not null) as changed_fields
    from placed
    left join roster_links
        on roster_links.user_app_id = placed.user_app_id
        and roster_links.school_app_id = placed.school_app_id
),

actions as (
    select
        compared.*,
        rs_link_action(link_app_id, roster_status, changed_fields) as action
    from compared
),

missing as (
    -- active links of imported users to a school the source no longer lists for them
    select
        roster_links.*,
        imported_users.source_id || '@' || coalesce(schools.source_id, '') as link_source_id
    from roster_links
    join imported_users on imported_users.user_app_id = roster_links.user_app_id
    left join roster.schools as schools on schools.app_id = roster_links.school_app_id
    cross join settings
    where settings.may_deactivate
        and roster_links.status = 'active'
        and roster_links.origin = 'sync'
        and not exists (
            select 1 from placed
            where placed.user_app_id = roster_links.user_app_id
                and placed.school_app_id = roster_links.school_app_id
        )
        -- listed, but the school cannot take records this run: left as it is
        and not exists (
            select 1 from listed
            where listed.user_app_id = roster_links.user_app_id
                and listed.school_source_id = schools.source_id
        )
),

final as (
    select
        'user_schools' as entity,
        actions.action,
        coalesce(
            actions.link_app_id,
            case when actions.action = 'create' then next_id.max_app_id + row_number() over (
                partition by actions.action = 'create'
                order by actions.user_app_id, actions.school_app_id
            ) end
        ) as app_id,
        actions.user_source_id || '@' || actions.school_source_id as source_id,
        case when actions.action = 'create' then ['user_app_id', 'school_app_id', 'is_primary']
            else actions.changed_fields end as changed_fields,
        null::varchar as matched_rule,
        actions.user_app_id,
        actions.school_app_id,
        actions.is_primary
    from actions
    cross join next_id

    union all

    select
        'user_schools' as entity,
        'deactivate' as action,
        missing.app_id,
        missing.link_source_id as source_id,
        []::varchar[] as changed_fields,
        null::varchar as matched_rule,
        missing.user_app_id,
        missing.school_app_id,
        missing.is_primary
    from missing
)

select * from final
