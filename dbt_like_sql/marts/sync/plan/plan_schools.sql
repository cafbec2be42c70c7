-- One row per incoming school: what sync does with it. Schools are never deactivated by sync;
-- the app's custom name is app-owned and only set when sync creates the school.
with schools as (
    select * from core.schools
),

matches as (
    select * from sync.matches where entity = 'schools'
),

roster_schools as (
    select * from roster.schools
),

settings as (
    select * from config.district
),

refused as (
    -- an unsafe value, a status or org type that cannot be read, a repeated source id
    select source_id from sync.value_checks where fetch_entity = 'schools'
    union
    select source_id from sync.invalid_value_checks
    where fetch_entity = 'schools' and blocks_import
    union
    select source_id from sync.duplicate_checks where fetch_entity = 'schools'
),

next_id as (
    select coalesce(max(app_id), 0) as max_app_id from roster.schools
),

decided as (
    select
        schools.*,
        matches.match_status,
        matches.matched_rule,
        matches.app_id as matched_app_id,
        roster_schools.status as roster_status,
        list_filter([
            case when schools.school_source_id is distinct from roster_schools.source_id
                then 'source_id' end,
            case when schools.sis_id is not null
                and schools.sis_id is distinct from roster_schools.sis_id then 'sis_id' end,
            case when schools.state_id is not null
                and schools.state_id is distinct from roster_schools.state_id then 'state_id' end,
            case when schools.nces_id is not null
                and schools.nces_id is distinct from roster_schools.nces_id then 'nces_id' end
        ], lambda x: x is not null) as changed_fields
    from schools
    join matches on matches.source_id = schools.school_source_id
    left join roster_schools on roster_schools.app_id = matches.app_id
),

actions as (
    select
        decided.*,
        case
            when exists (select 1 from refused where refused.source_id = decided.school_source_id)
                then 'refused'
            when match_status = 'ambiguous' then 'error'
            when match_status = 'new' and is_deleted then 'skip'
            when match_status = 'new' and not settings.create_unmatched_schools then 'unmatched'
            when match_status = 'new' then 'create'
            when roster_status <> 'active' then 'reactivate'
            when len(changed_fields) > 0 then 'update'
            else 'unchanged'
        end as action
    from decided
    cross join settings
),

final as (
    select
        'schools' as entity,
        actions.action,
        coalesce(
            actions.matched_app_id,
            case when actions.action = 'create' then next_id.max_app_id + row_number() over (
                partition by actions.action = 'create' order by actions.school_source_id
            ) end
        ) as app_id,
        actions.school_source_id as source_id,
        actions.changed_fields,
        actions.matched_rule,
        actions.school_name as custom_name,
        actions.sis_id,
        actions.state_id,
        actions.nces_id
    from actions
    cross join next_id
)

select * from final
