-- One row per synced entity: what this run may do to it. Deactivations need the district's
-- import rule to allow them and a complete fetch; deactivating records a landing no longer
-- lists also needs that entity landed as a bulk snapshot.
with district as (
    select * from config.district
),

run as (
    select * from config.run
),

fetch_entities as (
    select * from config.fetch_entities
),

final as (
    select
        fetch_entities.entity,
        district.import_rule,
        run.fetch_complete,
        district.import_rule = 'create_update_deactivate' and run.fetch_complete
            as may_deactivate,
        district.import_rule = 'create_update_deactivate' and run.fetch_complete
            and fetch_entities.mode = 'bulk' as may_deactivate_missing
    from fetch_entities
    cross join district
    cross join run
)

select * from final
