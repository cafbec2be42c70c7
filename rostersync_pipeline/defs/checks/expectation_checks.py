"""The Great Expectations suite on ``core/users`` as a Dagster asset check.

``normalize_roster`` declares the check (``check_specs``) and evaluates it right after the core
tables are built, in the same step. It is not a Dagster blocking check: matching, the plan and
the error export still run, because a district needs them to fix its data. Each expectation's
outcome is kept in ``sync.expectation_results``; ``roster/synced_roster`` reads this run's rows
and does not apply when a hard one failed (the run is recorded as ``blocked``).
"""

import dagster as dg
import duckdb

from rostersync_pipeline.lib.validate.expectation_results import record_expectation_results
from rostersync_pipeline.lib.validate.expectations import (
    USERS_COLUMNS,
    USERS_ID_COLUMN,
    users_suite,
    validate_frame,
)

USERS_SUITE_CHECK = "users_expectation_suite"
USERS_TABLE = "core.users"
USERS_ASSET = dg.AssetKey(["core", "users"])


def users_suite_spec() -> dg.AssetCheckSpec:
    """The check's declaration on ``core/users``."""
    return dg.AssetCheckSpec(
        name=USERS_SUITE_CHECK,
        asset=USERS_ASSET,
        description="Great Expectations suite on core.users: ids present and unique, roles "
        "known (hard: a failure stops apply, the run is `blocked`); email format and mapped "
        "grades (soft: warn). Matching, the plan and the error export run either way.",
    )


def evaluate_users_suite(con: duckdb.DuckDBPyConnection, run_id: str) -> dg.AssetCheckResult:
    """Validate this run's ``core.users``, keep the outcomes for apply, and report them.

    Metadata: rows checked, expectations, failed; per failed expectation its unexpected count,
    whether it is hard, and up to 5 user IDs (IDs only).
    """
    frame = con.execute(f"select {', '.join(USERS_COLUMNS)} from {USERS_TABLE}").df()
    outcomes = validate_frame("core_users", frame, users_suite(), USERS_ID_COLUMN)
    record_expectation_results(con, run_id, USERS_TABLE, outcomes)
    failed = [o for o in outcomes if not o.success]
    metadata = {"rows_checked": len(frame), "expectations": len(outcomes), "failed": len(failed)}
    for o in failed:
        metadata[f"{o.expectation}({o.column})"] = dg.MetadataValue.json(
            {"unexpected_count": o.unexpected_count, "hard": o.hard, "ids": o.unexpected_ids})
    hard_failed = any(o.hard for o in failed)
    return dg.AssetCheckResult(
        asset_key=USERS_ASSET,
        check_name=USERS_SUITE_CHECK,
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR if hard_failed else dg.AssetCheckSeverity.WARN,
        metadata=metadata,
    )
