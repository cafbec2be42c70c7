"""Expectation suites surfaced as Dagster asset checks; a failed hard expectation blocks apply."""


import dagster as dg

from rostersync_pipeline.lib.expectations import USERS_COLUMNS, users_suite, validate_frame
from rostersync_pipeline.resources.warehouse import RosterWarehouse

USERS_SUITE_CHECK = "users_expectation_suite"


@dg.asset_check(
    asset=dg.AssetKey(["core", "users"]),
    name=USERS_SUITE_CHECK,
    blocking=True,
    description="Great Expectations suite on core.users: ids present and unique, roles known "
    "(hard: stops apply); email format and mapped grades (soft: warn).",
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
    return dg.AssetCheckResult(
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR if hard_failed else dg.AssetCheckSeverity.WARN,
        metadata=metadata,
    )
