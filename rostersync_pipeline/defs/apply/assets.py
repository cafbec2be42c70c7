"""Guard and apply: the run's plan reaches the roster only through here, in one transaction.

Apply does not run when a hard expectation of this run failed (``sync.expectation_results``,
written by ``normalize_roster``'s expectation-suite checks): the run is recorded as
``blocked`` and the step fails with the reasons, so the run reads as failed everywhere (CLI exit
code, the failure e-mail) while its plan, errors and export are kept.
"""

import time

import dagster as dg
import duckdb

from rostersync_pipeline.defs.partitions import district_check_spec, districts_partitions
from rostersync_pipeline.lib.apply.guard import evaluate_guard, record_guard_decision
from rostersync_pipeline.lib.apply.plan_store import store_plan
from rostersync_pipeline.lib.apply.plan_tables import CURRENT_PLAN
from rostersync_pipeline.lib.apply.refresh import deliver_pending_webhooks
from rostersync_pipeline.lib.ingest.landing import require_this_run
from rostersync_pipeline.lib.report.export import export_path
from rostersync_pipeline.lib.report.run_record import record_run, sync_run_summary
from rostersync_pipeline.lib.report.run_status import RunStatus
from rostersync_pipeline.lib.storage.analytics import publish_run
from rostersync_pipeline.lib.storage.destinations import DestinationRefused
from rostersync_pipeline.lib.storage.warehouse import transaction
from rostersync_pipeline.lib.validate.expectation_results import hard_failures
from rostersync_pipeline.resources.warehouse import RosterWarehouse

ACTIVE_COUNTS_SQL = """
select 'users', count(*) from roster.users where status = 'active'
union all select 'sections', count(*) from roster.sections where status = 'active'
union all select 'enrollments', count(*) from roster.enrollments where status = 'active'
"""


class SyncRunConfig(dg.Config):
    dry_run: bool = False
    """Test import: plan and report, change nothing in the roster."""


SYNCED_ROSTER = dg.AssetKey(["roster", "synced_roster"])
REVIEW_CHECK = "plan_applied"
STATUS_TAG = "rostersync/status"


@dg.asset(
    key=SYNCED_ROSTER,
    deps=[
        dg.AssetKey(["sync", "sync_plan"]),
        dg.AssetKey(["sync", "run_errors"]),
    ],
    partitions_def=districts_partitions,
    group_name="sync",
    kinds={"duckdb"},
    check_specs=[district_check_spec(
        name=REVIEW_CHECK, asset=SYNCED_ROSTER,
        description="The run's plan reached the roster: fails (WARN) while a plan is held for "
        "review, with the plan id and the guard's reasons; approve it with the approve_plan "
        "job for this partition (or rostersync approve).",
    )],
)
def synced_roster(
    context: dg.AssetExecutionContext, config: SyncRunConfig, warehouse: RosterWarehouse
) -> dg.MaterializeResult:
    """The app's roster after this run: the plan applied, held, or (dry run) left.

    The roster lives in the district's destination: the ``roster`` schema of its DuckDB file, or
    a schema of the app's PostgreSQL database (docs/destinations.md). Grain: one row per app
    school, user, section and enrollment; ``change_log`` holds one row per applied change,
    ``change_feed`` the same with a cursor for the app, ``*_history`` one row per record
    version. The run's ``sync.runs`` row, the guard's decision and (when held) the stored plan
    commit in the same transaction as a DuckDB roster's changes, or right after a PostgreSQL
    destination's commit (a crash in between is recorded by the next run). A held plan
    (status ``requires_review``) waits in ``sync.stored_plans`` (plan id = run id) until
    ``rostersync approve`` / the ``approve_plan`` job applies it or it is discarded. A failed
    hard expectation blocks apply (status ``blocked``, see the module docstring).
    """
    district = warehouse.district(context.partition_key)
    destination = warehouse.destination(district.district_id)
    dry_run = config.dry_run or district.dry_run
    export = str(export_path(warehouse.warehouse_dir, district.district_id, context.run_id))
    with warehouse.connect(district.district_id) as con:
        require_this_run(con, context.run_id)
        blocked = hard_failures(con, context.run_id)
        if blocked:
            _record_blocked(con, warehouse, district.district_id, context.run_id, blocked, export)
            context.instance.add_run_tags(context.run_id, {STATUS_TAG: RunStatus.BLOCKED.value})
            raise dg.Failure(
                description="; ".join(blocked),
                metadata={"status": RunStatus.BLOCKED.value, "changes_applied": 0,
                          "reasons": "; ".join(blocked)},
                allow_retries=False,
            )
        decision = evaluate_guard(
            con, district.guard, dry_run=dry_run, require_approval=district.require_approval
        )
        summary = sync_run_summary(
            con, district_id=district.district_id, run_id=context.run_id,
            status=decision.status, reasons=decision.reasons, export_path=export,
        )

        def record(applied: int) -> None:
            record_guard_decision(con, context.run_id, decision, applied)
            if decision.status is RunStatus.REQUIRES_REVIEW:
                store_plan(con, context.run_id, district.district_id, decision.reasons,
                           summary.counts)
            record_run(con, summary)

        started = time.perf_counter()
        try:
            result = destination.apply(con, context.run_id,
                                       CURRENT_PLAN if decision.applies else None, record,
                                       summary=summary)
        except DestinationRefused as exc:
            raise dg.Failure(description=f"apply refused: {exc}", allow_retries=False) from exc
        apply_seconds = time.perf_counter() - started
        applied = result.changes if result is not None else 0
        active = dict(con.execute(ACTIVE_COUNTS_SQL).fetchall())
        if result is not None:
            deliver_pending_webhooks(con, destination, context.log)
    context.log.info(f"district {district.district_id}: {decision.status}, {applied} change(s) "
                     "applied")
    for reason in decision.reasons:
        context.log.warning(reason)
    held = decision.status is RunStatus.REQUIRES_REVIEW
    context.instance.add_run_tags(context.run_id, {STATUS_TAG: decision.status.value})
    return dg.MaterializeResult(
        metadata={
            "status": decision.status.value,
            "plan_id": context.run_id if held else "none",
            "changes_applied": applied,
            "destination": destination.label,
            "apply_seconds": round(apply_seconds, 3),
            "feed_until": result.feed_until if result is not None else "none",
            "reasons": "; ".join(decision.reasons) or "none",
            "active_users": active.get("users", 0),
            "active_sections": active.get("sections", 0),
            "active_enrollments": active.get("enrollments", 0),
        },
        check_results=[review_check(decision.status, decision.reasons, context.run_id)],
    )


def review_check(status: RunStatus, reasons: list[str], run_id: str) -> dg.AssetCheckResult:
    """Whether the plan reached the roster: a held plan is a warning a person notices."""
    held = status is RunStatus.REQUIRES_REVIEW
    metadata = {"status": status.value}
    if held:
        metadata.update({
            "plan_id": run_id,
            "reasons": dg.MetadataValue.md("\n".join(f"- {r}" for r in reasons)),
            "to approve": "launch approve_plan for this partition (plan_id may be left out when "
            "it is the district's only plan waiting), or: rostersync approve DISTRICT "
            f"{run_id}",
        })
    return dg.AssetCheckResult(
        check_name=REVIEW_CHECK, passed=not held, severity=dg.AssetCheckSeverity.WARN,
        description="held for review: nothing applied" if held else None, metadata=metadata)


def _record_blocked(
    con: duckdb.DuckDBPyConnection, warehouse: RosterWarehouse, district_id: str, run_id: str,
    reasons: list[str], export: str,
) -> None:
    """The ``sync.runs`` row of a blocked run, and its analytics (``run_summary`` will not run)."""
    summary = sync_run_summary(con, district_id=district_id, run_id=run_id,
                               status=RunStatus.BLOCKED, reasons=reasons, export_path=export)
    with transaction(con):
        record_run(con, summary)
    publish_run(con, warehouse.warehouse_dir, district_id, run_id)
