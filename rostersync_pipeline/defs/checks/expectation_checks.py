"""The expectation suites of the canonical tables as Dagster asset checks, one per table.

``normalize_roster`` declares the checks (``check_specs``, partitioned by district, so each
district's verdict shows on its own partition) and evaluates them right after the core tables
are built, in the same step. They are not Dagster blocking checks: matching, the plan and the
error export still run, because a district needs them to fix its data. Each expectation's outcome
is kept in ``sync.expectation_results``; ``roster/synced_roster`` reads this run's rows and does
not apply when a hard one failed (the run is ``blocked``). Which expectations are hard is the
suite's default, overridden per district by ``expectations`` in its config.
"""

import dagster as dg
import duckdb

from rostersync_pipeline.defs.partitions import district_check_spec
from rostersync_pipeline.lib.validate.expectation_results import record_expectation_results
from rostersync_pipeline.lib.validate.expectation_reuse import (
    frame_digest,
    remember_validation,
    reused_outcomes,
)
from rostersync_pipeline.lib.validate.expectations import SuiteValidator
from rostersync_pipeline.lib.validate.suites import SUITES, TableSuite, with_severities


def _asset_key(suite: TableSuite) -> dg.AssetKey:
    return dg.AssetKey(suite.table.split("."))


def expectation_check_specs() -> list[dg.AssetCheckSpec]:
    """One check per canonical table, declared on its asset."""
    return [
        district_check_spec(
            name=suite.check_name,
            asset=_asset_key(suite),
                description=f"Great Expectations suite on {suite.table}: "
            + "; ".join(f"{e.name} ({'hard' if e.hard else 'soft'}): {e.description}"
                        for e in suite.expectations)
            + ". A failed hard expectation stops apply (the run is `blocked`); soft ones warn.",
        )
        for suite in SUITES
    ]


def evaluate_expectation_suites(
    con: duckdb.DuckDBPyConnection, run_id: str, severities: dict[str, str], *,
    reuse: bool = True,
) -> dict[str, dg.AssetCheckResult]:
    """Validate this run's canonical tables, keep the outcomes for apply, report each table.

    A table whose rows are those its suite last validated is not validated again (unless
    ``reuse`` is False: a full run): that validation's outcomes are this run's
    (``reused_from_run`` names it; see
    :mod:`~rostersync_pipeline.lib.validate.expectation_reuse`).

    Metadata per check: rows checked, expectations, failed; per failed expectation its
    unexpected count, whether it is hard, and up to 5 record IDs (IDs only).
    """
    results = {}
    checked, validated, validator = [], [], None
    try:
        for suite in SUITES:
            suite = with_severities(suite, severities)
            frame = frame_digest(con, suite)
            reused = reused_outcomes(con, suite, frame) if reuse else None
            if reused is None:
                validator = validator or SuiteValidator()
                outcomes = validator.validate(suite, con.execute(suite.frame_sql).df())
                validated.append((suite, frame))
            else:
                outcomes = reused[1]
            checked.append((suite, frame.rows, outcomes, reused and reused[0]))
    finally:
        if validator is not None:
            validator.close()
    record_expectation_results(con, run_id, {s.table: outcomes for s, _, outcomes, _ in checked})
    for suite, frame in validated:
        remember_validation(con, suite, frame, run_id)
    for suite, rows, outcomes, reused_from in checked:
        failed = [o for o in outcomes if not o.success]
        metadata = {"rows_checked": rows, "expectations": len(outcomes), "failed": len(failed)}
        if reused_from:
            metadata["reused_from_run"] = reused_from
        for o in failed:
            metadata[o.expectation] = dg.MetadataValue.json(
                {"unexpected_count": o.unexpected_count, "hard": o.hard,
                 "ids": o.unexpected_ids})
        results[suite.table] = dg.AssetCheckResult(
            asset_key=_asset_key(suite),
            check_name=suite.check_name,
            passed=not failed,
            severity=(dg.AssetCheckSeverity.ERROR if any(o.hard for o in failed)
                      else dg.AssetCheckSeverity.WARN),
            metadata=metadata,
        )
    return results
