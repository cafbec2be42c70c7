-- For analysts: how each incoming student, educator or guardian was matched. One row per incoming record
-- and configured match key, in the district's order: the key's value, the app records it found,
-- whether it decided; with the record's outcome, possible-duplicate alerts and error codes.
-- `rostersync explain DISTRICT KEY` reads this view (plus roster.change_log for the history).
with match_keys as (
    select * from config.match_keys where entity in ('students', 'educators', 'guardians')
),

incoming_keys as (
    select * from intermediate.int_match_keys_incoming where entity in ('students', 'educators', 'guardians')
),

roster_keys as (
    select * from intermediate.int_match_keys_roster where entity in ('students', 'educators', 'guardians')
),

matches as (
    select * from sync.matches where entity in ('students', 'educators', 'guardians')
),

keys_tried as (
    select
        matches.entity,
        matches.source_id,
        match_keys.priority,
        match_keys.key_name,
        incoming_keys.key_value
    from matches
    join match_keys on match_keys.entity = matches.entity
    left join incoming_keys
        on incoming_keys.entity = matches.entity
        and incoming_keys.source_id = matches.source_id
        and incoming_keys.key_name = match_keys.key_name
),

found as (
    select
        keys_tried.entity,
        keys_tried.source_id,
        keys_tried.key_name,
        list(distinct roster_keys.app_id order by roster_keys.app_id) as app_ids_found
    from keys_tried
    join roster_keys
        on roster_keys.entity = keys_tried.entity
        and roster_keys.key_name = keys_tried.key_name
        and roster_keys.key_value = keys_tried.key_value
    group by all
),

alerts as (
    select entity, source_id_l as source_id, list(app_id_r order by score desc) as alert_app_ids
    from sync.match_alerts
    where status = 'open'
    group by all
),

errors as (
    select source_id, list(distinct error_code order by error_code) as error_codes
    from sync.user_checks
    group by all
),

final as (
    select
        keys_tried.entity,
        keys_tried.source_id,
        keys_tried.priority,
        keys_tried.key_name,
        keys_tried.key_value,
        coalesce(found.app_ids_found, []::bigint[]) as app_ids_found,
        keys_tried.key_name = matches.matched_rule as decided,
        matches.match_status,
        matches.matched_rule,
        matches.app_id,
        coalesce(alerts.alert_app_ids, []::bigint[]) as alert_app_ids,
        coalesce(errors.error_codes, []::varchar[]) as error_codes
    from keys_tried
    join matches
        on matches.entity = keys_tried.entity
        and matches.source_id = keys_tried.source_id
    left join found
        on found.entity = keys_tried.entity
        and found.source_id = keys_tried.source_id
        and found.key_name = keys_tried.key_name
    left join alerts
        on alerts.entity = keys_tried.entity
        and alerts.source_id = keys_tried.source_id
    left join errors on errors.source_id = keys_tried.source_id
)

select * from final
