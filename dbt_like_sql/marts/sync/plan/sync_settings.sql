-- One row per synced entity: what this run may do to it. Deactivations need the district's
-- import rule to allow them, a complete fetch, and no record of the entity refused for an
-- unsafe ID (sync.value_checks); deactivating records a landing no longer lists also needs
-- that entity landed as a bulk snapshot.
with district as (
    select * from config.district
),

run as (
    select * from config.run
),

fetch_entities as (
    select * from config.fetch_entities
),

unsafe_ids as (
    select distinct fetch_entity as entity from sync.value_checks where blocks_deactivation
),

allowed as (
    select
        fetch_entities.entity,
        fetch_entities.mode,
        district.import_rule,
        run.fetch_complete,
        district.import_rule = 'create_update_deactivate' and run.fetch_complete
            and unsafe_ids.entity is null as may_deactivate
    from fetch_entities
    cross join district
    cross join run
    left join unsafe_ids on unsafe_ids.entity = fetch_entities.entity
),

final as (
    select
        entity,
        import_rule,
        fetch_complete,
        may_deactivate,
        may_deactivate and mode = 'bulk' as may_deactivate_missing
    from allowed
)

select * from final
