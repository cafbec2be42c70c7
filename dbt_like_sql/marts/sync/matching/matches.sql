-- Every incoming school, student, educator, guardian and section -> the app record it
-- matches, or new. Keys are compared within an entity: a guardian never matches a student or
-- an educator.
-- The first match key (in the district's order) that finds any app record decides:
-- exactly one app record -> matched; several -> ambiguous (EXACT_MATCH_MULTIPLE).
-- A recorded decision (roster.match_decisions, "match to app record X") is consulted first and
-- wins (matched_rule 'decision'); a "create" decision only closes the possible-duplicate alert.
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

decisions as (
    -- the latest decision per incoming record that names an existing app record
    select match_decisions.entity, match_decisions.source_id, match_decisions.app_id
    from roster.match_decisions as match_decisions
    qualify row_number() over (
        partition by match_decisions.entity, match_decisions.source_id
        order by match_decisions.decided_at desc
    ) = 1
        and match_decisions.decision = 'match'
        and match_decisions.app_id in (select app_id from roster.users)
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
            when decisions.app_id is not null then 'matched'
            when deciding.candidate_count = 1 then 'matched'
            when deciding.candidate_count > 1 then 'ambiguous'
            else 'new'
        end as match_status,
        case when decisions.app_id is not null then 'decision'
            else deciding.key_name end as matched_rule,
        case when decisions.app_id is not null then cast(decisions.app_id as varchar)
            else deciding.key_value end as matched_value,
        case
            when decisions.app_id is not null then decisions.app_id
            when deciding.candidate_count = 1 then deciding.app_id
        end as app_id,
        case when decisions.app_id is not null then [decisions.app_id]
            else coalesce(deciding.candidate_app_ids, []::bigint[]) end as candidate_app_ids
    from incoming
    left join deciding
        on deciding.entity = incoming.entity
        and deciding.source_id = incoming.source_id
    left join decisions
        on decisions.entity = incoming.entity
        and decisions.source_id = incoming.source_id
)

select * from final
