-- Possible duplicates: an incoming student or educator that matched no app record (it would
-- be created) but looks like an existing one. One row per (incoming record, app record) pair,
-- splink-style: incoming on the left (_l), the app record on the right (_r).
-- Candidates come from blocking keys only, never all pairs:
--   same_name_birth_date   role + birth date + normalized last name, same normalized first name
--                          (nicknames folded: Bill = William)
--   close_name_same_school role + school + grade + first two letters of the last name, then
--                          Jaro-Winkler >= 0.9 on the normalized full name
-- A candidate app record that is deactivated adds the evidence "deactivated_lookalike".
-- status: open, or decided_create when roster.match_decisions says "create new".
with settings as (
    select open_alert_policy from config.district
),

matches as (
    select * from sync.matches where entity in ('students', 'educators')
),

school_matches as (
    select source_id, app_id from sync.matches where entity = 'schools' and app_id is not null
),

nicknames as (
    select * from (values
        ('abby', 'abigail'), ('alex', 'alexander'), ('andy', 'andrew'), ('ben', 'benjamin'),
        ('beth', 'elizabeth'), ('bill', 'william'), ('billy', 'william'), ('bob', 'robert'),
        ('bobby', 'robert'), ('chris', 'christopher'), ('dan', 'daniel'), ('danny', 'daniel'),
        ('dave', 'david'), ('jen', 'jennifer'), ('jenny', 'jennifer'), ('jim', 'james'),
        ('jimmy', 'james'), ('joe', 'joseph'), ('josh', 'joshua'), ('kate', 'katherine'),
        ('katie', 'katherine'), ('liz', 'elizabeth'), ('maggie', 'margaret'),
        ('matt', 'matthew'), ('meg', 'margaret'), ('mike', 'michael'), ('nick', 'nicholas'),
        ('peggy', 'margaret'), ('rob', 'robert'), ('sam', 'samuel'), ('tom', 'thomas'),
        ('tony', 'anthony'), ('will', 'william')
    ) as t(nickname, canonical)
),

decided as (
    select entity, source_id
    from roster.match_decisions
    qualify row_number() over (partition by entity, source_id order by decided_at desc) = 1
        and decision = 'create'
),

incoming_raw as (
    select
        users.role || 's' as entity,
        users.user_source_id as source_id,
        users.role,
        users.first_name,
        users.last_name,
        users.birth_date,
        users.grade_code as grade,
        school_matches.app_id as school_app_id,
        regexp_replace(lower(strip_accents(coalesce(users.first_name, ''))), '[^a-z]', '', 'g')
            as first_norm,
        regexp_replace(lower(strip_accents(coalesce(users.last_name, ''))), '[^a-z]', '', 'g')
            as last_norm
    from core.users as users
    join matches
        on matches.source_id = users.user_source_id
        and matches.entity = users.role || 's'
    left join school_matches on school_matches.source_id = users.school_source_id
    where matches.match_status = 'new' and not users.is_deleted
),

incoming as (
    select
        incoming_raw.*,
        coalesce(nicknames.canonical, incoming_raw.first_norm) as first_canon
    from incoming_raw
    left join nicknames on nicknames.nickname = incoming_raw.first_norm
    where incoming_raw.last_norm <> ''
),

taken as (
    -- app records another incoming record already matches this run
    select app_id from matches where app_id is not null
),

roster_pool as (
    -- only app records that share a blocking key with some incoming record
    select *
    from roster.users as users
    where users.app_id not in (select app_id from taken)
        and (
            (users.role, users.birth_date) in (select role, birth_date from incoming)
            or (users.role, users.school_app_id) in (select role, school_app_id from incoming)
        )
),

roster_raw as (
    select
        roster_pool.app_id,
        roster_pool.role,
        roster_pool.status,
        roster_pool.first_name,
        roster_pool.last_name,
        roster_pool.birth_date,
        roster_pool.grade,
        roster_pool.school_app_id,
        regexp_replace(lower(strip_accents(coalesce(roster_pool.first_name, ''))), '[^a-z]', '',
            'g') as first_norm,
        regexp_replace(lower(strip_accents(coalesce(roster_pool.last_name, ''))), '[^a-z]', '',
            'g') as last_norm
    from roster_pool
),

roster_people as (
    select
        roster_raw.*,
        coalesce(nicknames.canonical, roster_raw.first_norm) as first_canon
    from roster_raw
    left join nicknames on nicknames.nickname = roster_raw.first_norm
),

same_name_birth_date as (
    select incoming.source_id, roster_people.app_id, 'same_name_birth_date' as rule, 0.95 as score
    from incoming
    join roster_people
        on roster_people.role = incoming.role
        and roster_people.birth_date = incoming.birth_date
        and roster_people.last_norm = incoming.last_norm
        and roster_people.first_canon = incoming.first_canon
),

close_name_same_school as (
    select
        incoming.source_id,
        roster_people.app_id,
        'close_name_same_school' as rule,
        jaro_winkler_similarity(
            incoming.first_canon || ' ' || incoming.last_norm,
            roster_people.first_canon || ' ' || roster_people.last_norm
        ) as score
    from incoming
    join roster_people
        on roster_people.role = incoming.role
        and roster_people.school_app_id = incoming.school_app_id
        and coalesce(roster_people.grade, '') = coalesce(incoming.grade, '')
        and left(roster_people.last_norm, 2) = left(incoming.last_norm, 2)
    where jaro_winkler_similarity(
        incoming.first_canon || ' ' || incoming.last_norm,
        roster_people.first_canon || ' ' || roster_people.last_norm
    ) >= 0.9
),

pairs as (
    select source_id, app_id, list(rule order by rule) as rules, max(score) as score
    from (
        select * from same_name_birth_date
        union all
        select * from close_name_same_school
    )
    group by source_id, app_id
),

final as (
    select
        incoming.entity,
        pairs.source_id as source_id_l,
        pairs.app_id as app_id_r,
        incoming.first_name as first_name_l,
        roster_people.first_name as first_name_r,
        incoming.last_name as last_name_l,
        roster_people.last_name as last_name_r,
        incoming.school_app_id as school_app_id_l,
        roster_people.school_app_id as school_app_id_r,
        incoming.grade as grade_l,
        roster_people.grade as grade_r,
        roster_people.status as status_r,
        incoming.birth_date is not distinct from roster_people.birth_date as gamma_birth_date,
        round(jaro_winkler_similarity(incoming.first_norm, roster_people.first_norm), 3)
            as gamma_first_name,
        levenshtein(incoming.last_norm, roster_people.last_norm) as last_name_edits,
        case when roster_people.status <> 'active'
            then list_append(pairs.rules, 'deactivated_lookalike') else pairs.rules end as rules,
        round(least(1.0, pairs.score
            + case when roster_people.status <> 'active' then 0.02 else 0 end), 3) as score,
        case when decided.source_id is not null then 'decided_create' else 'open' end as status,
        settings.open_alert_policy
    from pairs
    join incoming on incoming.source_id = pairs.source_id
    join roster_people on roster_people.app_id = pairs.app_id
    left join decided
        on decided.entity = incoming.entity
        and decided.source_id = pairs.source_id
    cross join settings
)

select * from final
