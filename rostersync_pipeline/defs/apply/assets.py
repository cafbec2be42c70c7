"""Guard and apply: the run's plan reaches the roster only through here, in one transaction."""


import dagster as dg

from rostersync_pipeline.defs.partitions import districts_partitions
from rostersync_pipeline.lib.apply.apply_plan import apply_plan
from rostersync_pipeline.lib.apply.guard import evaluate_guard, record_guard_decision
from rostersync_pipeline.lib.apply.plan_store import store_plan
from rostersync_pipeline.lib.report.run_record import REQUIRES_REVIEW, run_status, summarize_plan
from rostersync_pipeline.resources.warehouse import RosterWarehouse


class SyncRunConfig(dg.Config):
    dry_run: bool = False
    """Test import: plan and report, change nothing in the roster."""


@dg.asset(
    key=["roster", "synced_roster"],
    deps=[
        dg.AssetKey(["sync", "sync_plan"]),
        dg.AssetKey(["sync", "run_errors"]),
        dg.AssetKey(["checks", "users_validated"]),
    ],
    partitions_def=districts_partitions,
    group_name="sync",
    kinds={"duckdb"},
)
def synced_roster(
    context: dg.AssetExecutionContext, config: SyncRunConfig, warehouse: RosterWarehouse
) -> dg.MaterializeResult:
    """The app's roster (``roster.*``) after this run: the plan applied, held, or (dry run) left.

    Grain: one row per app school, user, section and enrollment; ``roster.change_log`` holds one
    row per applied change and ``roster.*_history`` one row per record version. A held plan
    (status ``requires_review``) is kept in the plan store (``sync.stored_plans``, plan id = run
    id) until ``rostersync approve`` / the ``approve_plan`` job applies it or it is discarded.
    """
    district = warehouse.district(context.partition_key)
    dry_run = config.dry_run or district.dry_run
    with warehouse.connect(district.district_id) as con:
        decision = evaluate_guard(
            con, district.guard, dry_run=dry_run, require_approval=district.require_approval
        )
        applied = apply_plan(con, context.run_id) if decision.applies else 0
        record_guard_decision(con, context.run_id, decision, applied)
        status = run_status(decision.run_status)
        if status == REQUIRES_REVIEW:
            store_plan(con, context.run_id, district.district_id, decision.reasons,
                       summarize_plan(con))
        active = dict(con.execute(
            "select 'users', count(*) from roster.users where status = 'active' "
            "union all select 'sections', count(*) from roster.sections where status = 'active' "
            "union all select 'enrollments', count(*) from roster.enrollments "
            "where status = 'active'"
        ).fetchall())
    context.log.info(f"district {district.district_id}: {status}, {applied} change(s) applied")
    for reason in decision.reasons:
        context.log.warning(reason)
    return dg.MaterializeResult(
        metadata={
            "status": status,
            "plan_id": context.run_id if status == REQUIRES_REVIEW else "none",
            "changes_applied": applied,
            "reasons": "; ".join(decision.reasons) or "none",
            "active_users": active.get("users", 0),
            "active_sections": active.get("sections", 0),
            "active_enrollments": active.get("enrollments", 0),
        },
    )
