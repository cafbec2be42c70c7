-- Every incoming school, student, educator and section -> the app record it matches, or new.
-- The first match key (in the district's order) that finds any app record decides:
-- exactly one app record -> matched; several -> ambiguous (EXACT_MATCH_MULTIPLE).
with incoming_keys as (
    select * from intermediate.int_match_keys_incoming
),

roster_keys as (
    select * from intermediate.int_match_keys_roster
),

match_keys as (
    select * from config.match_keys
),

incoming as (
    select distinct entity, source_id from incoming_keys
),

candidates as (
    select
        incoming_keys.entity,
        incoming_keys.source_id,
        match_keys.priority,
        incoming_keys.key_name,
        incoming_keys.key_value,
        roster_keys.app_id
    from incoming_keys
    join match_keys
        on match_keys.entity = incoming_keys.entity
        and match_keys.key_name = incoming_keys.key_name
    join roster_keys
        on roster_keys.entity = incoming_keys.entity
        and roster_keys.key_name = incoming_keys.key_name
        and roster_keys.key_value = incoming_keys.key_value
),

per_key as (
    select
        entity,
        source_id,
        priority,
        key_name,
        any_value(key_value) as key_value,
        count(distinct app_id) as candidate_count,
        min(app_id) as app_id,
        list(distinct app_id order by app_id) as candidate_app_ids
    from candidates
    group by entity, source_id, priority, key_name
),

deciding as (
    select *
    from per_key
    qualify row_number() over (partition by entity, source_id order by priority) = 1
),

final as (
    select
        incoming.entity,
        incoming.source_id,
        case
            when deciding.candidate_count = 1 then 'matched'
            when deciding.candidate_count > 1 then 'ambiguous'
            else 'new'
        end as match_status,
        deciding.key_name as matched_rule,
        deciding.key_value as matched_value,
        case when deciding.candidate_count = 1 then deciding.app_id end as app_id,
        coalesce(deciding.candidate_app_ids, []::bigint[]) as candidate_app_ids
    from incoming
    left join deciding
        on deciding.entity = incoming.entity
        and deciding.source_id = incoming.source_id
)

select * from final
