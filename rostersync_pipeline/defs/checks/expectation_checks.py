"""Expectation suites as Dagster asset checks, and the gate they guard before apply.

The suite runs on ``checks/users_validated``, a gate between the plan and apply: a failed hard
expectation blocks only ``roster/synced_roster`` (and the run summary after it). Matching, the
plan and the error export still run, and the check itself records the run as ``blocked``.
"""

import dagster as dg

from rostersync_pipeline.defs.partitions import districts_partitions
from rostersync_pipeline.lib.ingest.landing import require_this_run
from rostersync_pipeline.lib.report.export import export_path
from rostersync_pipeline.lib.report.run_record import record_run, sync_run_summary
from rostersync_pipeline.lib.report.run_status import RunStatus
from rostersync_pipeline.lib.storage.analytics import publish_run
from rostersync_pipeline.lib.validate.expectations import USERS_COLUMNS, users_suite, validate_frame
from rostersync_pipeline.resources.warehouse import RosterWarehouse

USERS_SUITE_CHECK = "users_expectation_suite"
GATE_KEY = dg.AssetKey(["checks", "users_validated"])


@dg.asset(
    key=GATE_KEY,
    deps=[dg.AssetKey(["core", "users"]), dg.AssetKey(["sync", "sync_plan"])],
    partitions_def=districts_partitions,
    group_name="checks",
    kinds={"duckdb"},
)
def users_validated(context: dg.AssetExecutionContext, warehouse: RosterWarehouse) -> dg.MaterializeResult:
    """The gate before apply: this run's ``core.users`` as checked by its expectation suite.

    Grain: one row per incoming student or educator (the rows of ``core.users``).
    """
    with warehouse.connect(context.partition_key) as con:
        rows = con.execute("select count(*) from core.users").fetchall()[0][0]
    return dg.MaterializeResult(metadata={"dagster/row_count": rows})


def record_blocked_run(
    warehouse: RosterWarehouse, district_id: str, run_id: str, reasons: list[str]
) -> None:
    """The ``sync.runs`` row of a run whose apply a failed hard expectation stopped."""
    with warehouse.connect(district_id) as con:
        require_this_run(con, run_id)
        summary = sync_run_summary(
            con, district_id=district_id, run_id=run_id, status=RunStatus.BLOCKED,
            reasons=reasons,
            export_path=str(export_path(warehouse.warehouse_dir, district_id, run_id)),
        )
        record_run(con, summary)
        publish_run(con, warehouse.warehouse_dir, district_id, run_id)


@dg.asset_check(
    asset=GATE_KEY,
    name=USERS_SUITE_CHECK,
    blocking=True,
    description="Great Expectations suite on core.users: ids present and unique, roles known "
    "(hard: a failure stops apply); email format and mapped grades (soft: warn).",
)
def users_expectation_suite(
    context: dg.AssetCheckExecutionContext, warehouse: RosterWarehouse
) -> dg.AssetCheckResult:
    district_id = context.run.tags.get("dagster/partition") or context.partition_key
    with warehouse.connect(district_id) as con:
        frame = con.execute(f"select {', '.join(USERS_COLUMNS)} from core.users").df()
    outcomes = validate_frame("core_users", frame, users_suite())
    failed = [o for o in outcomes if not o.success]
    hard_failed = [o for o in failed if o.hard]
    metadata = {
        "rows_checked": len(frame),
        "expectations": len(outcomes),
        "failed": len(failed),
    }
    for o in failed:
        # IDs only, never names or emails
        sample = o.unexpected_sample if o.column in ("user_source_id", "role") else []
        metadata[f"{o.expectation}({o.column})"] = dg.MetadataValue.json(
            {"unexpected_count": o.unexpected_count, "hard": o.hard, "sample": sample}
        )
    if hard_failed:
        record_blocked_run(warehouse, district_id, context.run.run_id, [
            f"expectation {o.expectation} on core.users.{o.column} failed for "
            f"{o.unexpected_count} row(s): apply did not run" for o in hard_failed
        ])
    return dg.AssetCheckResult(
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR if hard_failed else dg.AssetCheckSeverity.WARN,
        metadata=metadata,
    )
