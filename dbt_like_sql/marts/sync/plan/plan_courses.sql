-- One row per incoming course that can be imported, with its action, plus one row per app
-- course that a complete bulk landing no longer lists (deactivate). A course matches the app
-- course with its source id, else the one app course of the same school with its course code
-- (its title when it has no code) whose source id this landing does not use (a move to another
-- source keeps the app's courses). A course's school is an app school
-- when its org is a school this run can place records in (a course of the district has none);
-- its school year is the app id of that term. A course of a school that cannot take records
-- (SCHOOL_NOT_MATCHED, ...) is held back, like that school's sections.
with courses as (
    select * from core.courses
),

blocked as (
    select distinct source_id from sync.course_checks where blocks_import
    union
    -- a course of a school that cannot take records waits with it (the school's row explains,
    -- as for its people and sections)
    select courses.course_source_id
    from core.courses as courses
    join sync.school_app_ids as school_app_ids
        on school_app_ids.source_id = courses.school_source_id
    where school_app_ids.action not in ('create', 'update', 'reactivate', 'unchanged')
),

roster_courses as (
    select * from roster.courses
),

schools as (
    select source_id, app_id from sync.school_app_ids
    where action in ('create', 'update', 'reactivate', 'unchanged')
),

term_app_ids as (
    select * from sync.term_app_ids
),

settings as (
    select * from sync.sync_settings where entity = 'courses'
),

next_id as (
    select coalesce(max(app_id), 0) as max_app_id from roster.courses
),

located as (
    -- the course's school and school year as app ids, and its natural key
    select
        courses.*,
        schools.app_id as school_app_id,
        term_app_ids.app_id as school_year_app_id,
        coalesce(schools.app_id::varchar, '-') || '|'
            || coalesce(lower(trim(courses.course_code)), 'title:' || lower(trim(courses.course_name)))
            as natural_key
    from courses
    left join schools on schools.source_id = courses.school_source_id
    left join term_app_ids on term_app_ids.source_id = courses.school_year_source_id
    anti join blocked on blocked.source_id = courses.course_source_id
),

by_natural_key as (
    -- app courses this landing does not name by source id, one per school and code (or title)
    select
        coalesce(roster_courses.school_app_id::varchar, '-') || '|'
            || coalesce(lower(trim(roster_courses.course_code)),
                'title:' || lower(trim(roster_courses.title))) as natural_key,
        min(roster_courses.app_id) as app_id
    from roster_courses
    anti join courses on courses.course_source_id = roster_courses.source_id
    where coalesce(roster_courses.course_code, roster_courses.title) is not null
    group by all
    having count(*) = 1
),

unique_incoming_keys as (
    select natural_key from located group by natural_key having count(*) = 1
),

incoming as (
    select
        located.*,
        coalesce(by_source.app_id, by_natural_key.app_id) as matched_app_id,
        case when by_source.app_id is not null then 'source_id'
            when by_natural_key.app_id is not null then 'course_code' end as matched_rule
    from located
    left join roster_courses as by_source on by_source.source_id = located.course_source_id
    left join by_natural_key
        on by_source.app_id is null
        and by_natural_key.natural_key = located.natural_key
        and located.natural_key in (select natural_key from unique_incoming_keys)
),

compared as (
    select
        incoming.*,
        roster_courses.status as roster_status,
        roster_courses.origin,
        list_filter([
            case when incoming.course_source_id is distinct from roster_courses.source_id
                then 'source_id' end,
            case when incoming.course_name is not null
                and incoming.course_name is distinct from roster_courses.title then 'title' end,
            case when incoming.course_code is not null
                and incoming.course_code is distinct from roster_courses.course_code
                then 'course_code' end,
            case when incoming.school_app_id is not null
                and incoming.school_app_id is distinct from roster_courses.school_app_id
                then 'school_app_id' end,
            case when incoming.school_year_app_id is not null
                and incoming.school_year_app_id is distinct from roster_courses.school_year_app_id
                then 'school_year_app_id' end
        ], lambda x: x is not null) as changed_fields
    from incoming
    left join roster_courses on roster_courses.app_id = incoming.matched_app_id
),

actions as (
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

missing as (
    select roster_courses.*
    from roster_courses
    cross join settings
    anti join courses on courses.course_source_id = roster_courses.source_id
    anti join incoming on incoming.matched_app_id = roster_courses.app_id
    where settings.may_deactivate_missing
        and roster_courses.status = 'active'
        and roster_courses.origin = 'sync'
),

final as (
    select
        'courses' as entity,
        actions.action,
        coalesce(
            actions.matched_app_id,
            case when actions.action = 'create' then next_id.max_app_id + row_number() over (
                partition by actions.action = 'create' order by actions.course_source_id
            ) end
        ) as app_id,
        actions.course_source_id as source_id,
        actions.changed_fields,
        actions.matched_rule,
        actions.course_name as title,
        actions.course_code,
        actions.school_app_id,
        actions.school_year_app_id
    from actions
    cross join next_id
    where actions.action <> 'skip'

    union all

    select
        'courses' as entity,
        'deactivate' as action,
        missing.app_id,
        missing.source_id,
        []::varchar[] as changed_fields,
        null as matched_rule,
        missing.title,
        missing.course_code,
        missing.school_app_id,
        missing.school_year_app_id
    from missing
)

select * from final
