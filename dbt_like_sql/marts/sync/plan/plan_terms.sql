-- One row per incoming term (academic session) that can be imported, with its action, plus one
-- row per app term that a complete bulk landing no longer lists (deactivate). A term matches the
-- app term with its source id, else the one app term with its name and dates whose source id
-- this landing does not use (a move to another source keeps the app's terms). A term's parent
-- (school year -> semester -> grading period) is kept as the parent's app id.
with terms as (
    select
        *,
        lower(trim(term_name)) || '|' || start_date::varchar || '|' || end_date::varchar
            as natural_key
    from core.terms
),

blocked as (
    select distinct source_id from sync.term_checks where blocks_import
),

roster_terms as (
    select * from roster.terms
),

settings as (
    select * from sync.sync_settings where entity = 'terms'
),

next_id as (
    select coalesce(max(app_id), 0) as max_app_id from roster.terms
),

by_natural_key as (
    -- app terms this landing does not name by source id, one per name and dates
    select
        lower(trim(roster_terms.name)) || '|' || roster_terms.start_date::varchar || '|'
            || roster_terms.end_date::varchar as natural_key,
        min(roster_terms.app_id) as app_id
    from roster_terms
    anti join terms on terms.term_source_id = roster_terms.source_id
    where roster_terms.name is not null
        and roster_terms.start_date is not null
        and roster_terms.end_date is not null
    group by all
    having count(*) = 1
),

unique_incoming_keys as (
    select natural_key from terms group by natural_key having count(*) = 1
),

incoming as (
    select
        terms.*,
        coalesce(by_source.app_id, by_natural_key.app_id) as matched_app_id,
        case when by_source.app_id is not null then 'source_id'
            when by_natural_key.app_id is not null then 'name_and_dates' end as matched_rule
    from terms
    left join roster_terms as by_source on by_source.source_id = terms.term_source_id
    left join by_natural_key
        on by_source.app_id is null
        and by_natural_key.natural_key = terms.natural_key
        and terms.natural_key in (select natural_key from unique_incoming_keys)
    anti join blocked on blocked.source_id = terms.term_source_id
),

matched as (
    select
        incoming.*,
        roster_terms.status as roster_status,
        roster_terms.origin
    from incoming
    left join roster_terms on roster_terms.app_id = incoming.matched_app_id
),

actions as (
    select
        matched.*,
        plan_action(
            matched_app_id is null,
            is_deleted,
            settings.import_rule,
            settings.may_deactivate,
            roster_status,
            origin,
            -- the fields are compared once the parent's app id is known (below)
            ['pending']
        ) as provisional_action
    from matched
    cross join settings
),

assigned as (
    select
        actions.*,
        coalesce(
            actions.matched_app_id,
            case when actions.provisional_action = 'create'
                then next_id.max_app_id + row_number() over (
                    partition by actions.provisional_action = 'create'
                    order by actions.term_source_id
                ) end
        ) as app_id
    from actions
    cross join next_id
    where actions.provisional_action <> 'skip'
),

parent_app_ids as (
    -- a parent of this landing (new or known), else one the app already has
    select term_source_id as source_id, app_id from assigned
    union all
    select roster_terms.source_id, roster_terms.app_id
    from roster_terms
    anti join assigned on assigned.term_source_id = roster_terms.source_id
    where roster_terms.source_id is not null
),

compared as (
    select
        assigned.*,
        parents.app_id as parent_term_app_id,
        list_filter([
            case when assigned.term_source_id is distinct from roster_terms.source_id
                then 'source_id' end,
            case when assigned.term_name is not null
                and assigned.term_name is distinct from roster_terms.name then 'name' end,
            case when assigned.term_type is not null
                and assigned.term_type is distinct from roster_terms.term_type
                then 'term_type' end,
            case when assigned.start_date is not null
                and assigned.start_date is distinct from roster_terms.start_date
                then 'start_date' end,
            case when assigned.end_date is not null
                and assigned.end_date is distinct from roster_terms.end_date
                then 'end_date' end,
            case when assigned.school_year is not null
                and assigned.school_year is distinct from roster_terms.school_year
                then 'school_year' end,
            case when parents.app_id is not null
                and parents.app_id is distinct from roster_terms.parent_term_app_id
                then 'parent_term_app_id' end
        ], lambda x: x is not null) as changed_fields
    from assigned
    left join parent_app_ids as parents
        on parents.source_id = assigned.parent_term_source_id
    left join roster_terms on roster_terms.app_id = assigned.matched_app_id
),

decided as (
    select
        compared.*,
        -- plan_action said 'update' for every active record it did not deactivate
        case
            when provisional_action <> 'update' then provisional_action
            when len(changed_fields) > 0 then 'update'
            else 'unchanged'
        end as action
    from compared
),

missing as (
    select roster_terms.*
    from roster_terms
    cross join settings
    anti join terms on terms.term_source_id = roster_terms.source_id
    anti join incoming on incoming.matched_app_id = roster_terms.app_id
    where settings.may_deactivate_missing
        and roster_terms.status = 'active'
        and roster_terms.origin = 'sync'
),

final as (
    select
        'terms' as entity,
        decided.action,
        decided.app_id,
        decided.term_source_id as source_id,
        decided.changed_fields,
        decided.matched_rule,
        decided.term_name as name,
        decided.term_type,
        decided.start_date,
        decided.end_date,
        decided.school_year,
        decided.parent_term_app_id
    from decided

    union all

    select
        'terms' as entity,
        'deactivate' as action,
        missing.app_id,
        missing.source_id,
        []::varchar[] as changed_fields,
        null as matched_rule,
        missing.name,
        missing.term_type,
        missing.start_date,
        missing.end_date,
        missing.school_year,
        missing.parent_term_app_id
    from missing
)

select * from final
