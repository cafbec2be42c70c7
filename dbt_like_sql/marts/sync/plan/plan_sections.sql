-- One row per incoming section that can be imported, with its action, plus one row per app
-- section that a complete bulk landing no longer lists (deactivate).
with sections as (
    select * from core.sections
),

matches as (
    select * from sync.matches where entity = 'sections'
),

blocked as (
    select distinct source_id from sync.section_checks
),

held_terms_and_courses as (
    -- sections whose term or course is not imported wait with it (the term's or course's row
    -- explains)
    select sections.section_source_id as source_id
    from core.sections as sections
    join sync.term_checks as term_checks on term_checks.source_id = sections.term_source_id
    where term_checks.blocks_import
    union
    select sections.section_source_id
    from core.sections as sections
    join sync.course_checks as course_checks
        on course_checks.source_id = sections.course_source_id
    where course_checks.blocks_import
),

schools as (
    select * from sync.school_app_ids
),

term_app_ids as (
    -- the section's term and course: of this landing, else already in the app (a delta)
    select * from sync.term_app_ids
),

course_app_ids as (
    select * from sync.course_app_ids
),

roster_sections as (
    select * from roster.sections
),

settings as (
    select * from sync.sync_settings where entity = 'sections'
),

next_id as (
    select coalesce(max(app_id), 0) as max_app_id from roster.sections
),

incoming as (
    select
        sections.*,
        matches.match_status,
        matches.matched_rule,
        matches.app_id as matched_app_id,
        schools.app_id as school_app_id,
        term_app_ids.app_id as term_app_id,
        course_app_ids.app_id as course_app_id
    from sections
    join matches on matches.source_id = sections.section_source_id
    left join schools on schools.source_id = sections.school_source_id
    left join term_app_ids on term_app_ids.source_id = sections.term_source_id
    left join course_app_ids on course_app_ids.source_id = sections.course_source_id
    where not exists (select 1 from blocked where blocked.source_id = sections.section_source_id)
        and not exists (
            select 1 from held_terms_and_courses as held
            where held.source_id = sections.section_source_id
        )
        and (
            -- no school (a school that cannot take the section is a section_checks row)
            sections.school_source_id is null
            or schools.action in ('create', 'update', 'reactivate', 'unchanged')
        )
),

compared as (
    select
        incoming.*,
        roster_sections.status as roster_status,
        roster_sections.origin,
        list_filter([
            case when incoming.section_source_id is distinct from roster_sections.source_id
                then 'source_id' end,
            case when incoming.sis_id is not null
                and incoming.sis_id is distinct from roster_sections.sis_id then 'sis_id' end,
            case when incoming.section_name is not null
                and incoming.section_name is distinct from roster_sections.name then 'name' end,
            case when incoming.course_name is not null
                and incoming.course_name is distinct from roster_sections.course_name
                then 'course_name' end,
            case when incoming.term_name is not null
                and incoming.term_name is distinct from roster_sections.term_name
                then 'term_name' end,
            case when incoming.school_app_id is not null
                and incoming.school_app_id is distinct from roster_sections.school_app_id
                then 'school_app_id' end,
            case when incoming.term_app_id is not null
                and incoming.term_app_id is distinct from roster_sections.term_app_id
                then 'term_app_id' end,
            case when incoming.course_app_id is not null
                and incoming.course_app_id is distinct from roster_sections.course_app_id
                then 'course_app_id' end
        ], lambda x: x is not null) as changed_fields
    from incoming
    left join roster_sections on roster_sections.app_id = incoming.matched_app_id
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
    select app_id from matches where app_id is not null
    union
    select unnest(candidate_app_ids) as app_id from matches
),

missing as (
    select roster_sections.*
    from roster_sections
    cross join settings
    anti join protected on protected.app_id = roster_sections.app_id
    where settings.may_deactivate_missing
        and roster_sections.status = 'active'
        and roster_sections.origin = 'sync'
),

final as (
    select
        'sections' as entity,
        incoming_actions.action,
        coalesce(
            incoming_actions.matched_app_id,
            case when incoming_actions.action = 'create' then next_id.max_app_id + row_number() over (
                partition by incoming_actions.action = 'create'
                order by incoming_actions.section_source_id
            ) end
        ) as app_id,
        incoming_actions.section_source_id as source_id,
        incoming_actions.changed_fields,
        incoming_actions.matched_rule,
        incoming_actions.sis_id,
        incoming_actions.section_name as name,
        incoming_actions.course_name,
        incoming_actions.term_name,
        incoming_actions.school_app_id,
        incoming_actions.term_app_id,
        incoming_actions.course_app_id
    from incoming_actions
    cross join next_id
    where incoming_actions.action <> 'skip'

    union all

    select
        'sections' as entity,
        'deactivate' as action,
        missing.app_id,
        missing.source_id,
        []::varchar[] as changed_fields,
        null as matched_rule,
        missing.sis_id,
        missing.name,
        missing.course_name,
        missing.term_name,
        missing.school_app_id,
        missing.term_app_id,
        missing.course_app_id
    from missing
)

select * from final
