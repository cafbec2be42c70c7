-- One row per related guardian and student (core.guardian_relationships) that this run
-- imports both of, with its action, plus one row per app link of an imported guardian or
-- student that a complete landing no longer lists (deactivate; a pair still listed whose other
-- person cannot be imported this run is left as it is). A guardian shared by siblings
-- is one app user with a link per sibling. relationship is the source's word; an empty
-- incoming word never blanks a stored one. A link's source_id is
-- '<guardian source id>@<student source id>' (the source has no id for it).
with imported_users as (
    select app_id, source_id, role
    from sync.plan_users
    where action in ('create', 'update', 'reactivate', 'unchanged')
        and role in ('guardian', 'student')
),

listed as (
    select
        guardians.app_id as guardian_app_id,
        students.app_id as student_app_id,
        pairs.guardian_source_id,
        pairs.student_source_id,
        pairs.relationship
    from core.guardian_relationships as pairs
    join imported_users as guardians
        on guardians.source_id = pairs.guardian_source_id and guardians.role = 'guardian'
    join imported_users as students
        on students.source_id = pairs.student_source_id and students.role = 'student'
),

roster_links as (
    select * from roster.guardian_relationships
),

settings as (
    select * from sync.sync_settings where entity = 'users'
),

next_id as (
    select coalesce(max(app_id), 0) as max_app_id from roster.guardian_relationships
),

compared as (
    select
        listed.*,
        roster_links.app_id as link_app_id,
        roster_links.status as roster_status,
        roster_links.relationship as roster_relationship,
        list_filter([
            case when listed.relationship is not null
                and listed.relationship is distinct from roster_links.relationship
                then 'relationship' end
        ], lambda x: x is not null) as changed_fields
    from listed
    left join roster_links
        on roster_links.guardian_app_id = listed.guardian_app_id
        and roster_links.student_app_id = listed.student_app_id
),

actions as (
    select
        compared.*,
        rs_link_action(link_app_id, roster_status, changed_fields) as action
    from compared
),

missing as (
    -- active links of a guardian or student this complete landing sends that it no longer
    -- lists together
    select
        roster_links.*,
        coalesce(guardians.source_id, '') || '@' || coalesce(students.source_id, '')
            as link_source_id
    from roster_links
    left join roster.users as guardians on guardians.app_id = roster_links.guardian_app_id
    left join roster.users as students on students.app_id = roster_links.student_app_id
    cross join settings
    where settings.may_deactivate_missing
        and roster_links.status = 'active'
        and roster_links.origin = 'sync'
        and (
            roster_links.guardian_app_id in (select app_id from imported_users)
            or roster_links.student_app_id in (select app_id from imported_users)
        )
        and not exists (
            select 1 from listed
            where listed.guardian_app_id = roster_links.guardian_app_id
                and listed.student_app_id = roster_links.student_app_id
        )
        -- still listed, but one of the two is not imported this run (its own row explains):
        -- left as it is
        and not exists (
            select 1 from core.guardian_relationships as pairs
            where pairs.guardian_source_id = guardians.source_id
                and pairs.student_source_id = students.source_id
        )
),

final as (
    select
        'guardian_relationships' as entity,
        actions.action,
        coalesce(
            actions.link_app_id,
            case when actions.action = 'create' then next_id.max_app_id + row_number() over (
                partition by actions.action = 'create'
                order by actions.guardian_app_id, actions.student_app_id
            ) end
        ) as app_id,
        actions.guardian_source_id || '@' || actions.student_source_id as source_id,
        case when actions.action = 'create'
            then ['guardian_app_id', 'student_app_id', 'relationship']
            else actions.changed_fields end as changed_fields,
        null::varchar as matched_rule,
        actions.guardian_app_id,
        actions.student_app_id,
        coalesce(actions.relationship, actions.roster_relationship) as relationship
    from actions
    cross join next_id

    union all

    select
        'guardian_relationships' as entity,
        'deactivate' as action,
        missing.app_id,
        missing.link_source_id as source_id,
        []::varchar[] as changed_fields,
        null::varchar as matched_rule,
        missing.guardian_app_id,
        missing.student_app_id,
        missing.relationship
    from missing
)

select * from final
