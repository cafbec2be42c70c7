-- One row per matched student or educator whose stored IDs this run changes (an ID rotation:
-- deleted and re-added in the SIS, or an integration switch). The app record keeps its app_id;
-- only its stored source_id / sis_id are rewritten. primary_id_change: the sis_id (the
-- district's student / staff ID) changes from one value to another; the guard counts these.
with plan as (
    select * from sync.plan_users where id_change
),

roster_users as (
    select app_id, source_id, sis_id from roster.users
),

run as (
    select run_id from config.run
),

final as (
    select
        run.run_id,
        plan.entity,
        plan.app_id,
        roster_users.source_id as old_source_id,
        plan.source_id as new_source_id,
        roster_users.sis_id as old_sis_id,
        coalesce(plan.sis_id, roster_users.sis_id) as new_sis_id,
        plan.matched_rule,
        plan.action,
        roster_users.sis_id is not null
            and plan.sis_id is not null
            and plan.sis_id <> roster_users.sis_id as primary_id_change
    from plan
    join roster_users on roster_users.app_id = plan.app_id
    cross join run
)

select * from final
