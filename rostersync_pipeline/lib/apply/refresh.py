"""Before a run reads the roster: the destination's roster into the mirror, interrupted runs
recorded, undelivered webhooks sent again.

Called at the start of ``normalize_roster`` (so matching and planning read the destination's
roster) and at the start of every review job that changes the roster (approve, restore). For
the DuckDB destination the roster is already local and this only redelivers webhooks.

An *interrupted run* is one the destination committed while its process stopped before the
district file recorded it (see :mod:`rostersync_pipeline.lib.storage.destinations.postgres`).
It is recorded here from the summary the destination kept: its ``sync.runs`` row (with a
reason saying so), its guard decision, and for an approval the stored plan's new status.
"""

from __future__ import annotations

import logging

import duckdb

from rostersync_pipeline.lib.apply.guard import GuardDecision, record_guard_decision
from rostersync_pipeline.lib.report.run_record import record_run
from rostersync_pipeline.lib.report.run_status import RunStatus
from rostersync_pipeline.lib.storage.destinations.interface import (
    AppliedRun,
    RosterDestination,
    summary_from_dict,
)
from rostersync_pipeline.lib.storage.warehouse import transaction

log = logging.getLogger(__name__)

INTERRUPTED_REASON = ("recorded by a later run: the destination had committed this run's "
                      "changes when its process stopped")


def record_interrupted_run(con: duckdb.DuckDBPyConnection, run: AppliedRun) -> None:
    """The district-file record of a run the destination applied (one DuckDB transaction)."""
    summary = summary_from_dict(run.summary)
    summary.reasons = [*summary.reasons, INTERRUPTED_REASON]
    with transaction(con):
        record_run(con, summary)
        if run.applied_at is not None:
            con.execute("update sync.runs set finished_at = ? where run_id = ?",
                        [run.applied_at.astimezone().replace(tzinfo=None), run.run_id])
        if run.kind == "sync":
            record_guard_decision(con, run.run_id, GuardDecision(RunStatus.APPLIED,
                                                                 summary.reasons), run.changes)
        elif run.kind == "approval" and run.plan_id:
            con.execute(
                "update sync.stored_plans set status = 'approved', decided_at = ?, "
                "decided_run_id = ? where plan_id = ? and status = 'requires_review'",
                [run.applied_at.astimezone().replace(tzinfo=None) if run.applied_at else None,
                 run.run_id, run.plan_id])


def deliver_pending_webhooks(
    con: duckdb.DuckDBPyConnection, destination: RosterDestination,
    logger: logging.Logger | None = None,
) -> list:
    """Send every webhook not yet delivered; a failure is logged and kept for the next run."""
    logger = logger or log
    try:
        outcomes = destination.publish_feed(con)
    except Exception as exc:  # a webhook never fails the run that applied the changes
        logger.warning("change-feed webhook not sent (%s: %s); it is retried next run",
                       type(exc).__name__, exc)
        return []
    for outcome in outcomes:
        if outcome.delivered:
            logger.info("change-feed webhook of run %s delivered (%s attempt(s))",
                        outcome.run_id, outcome.attempts)
        else:
            logger.warning("change-feed webhook of run %s failed after %s attempt(s): %s; it "
                           "is retried next run", outcome.run_id, outcome.attempts, outcome.error)
    return outcomes


def refresh_roster(
    con: duckdb.DuckDBPyConnection, destination: RosterDestination,
    logger: logging.Logger | None = None,
) -> list[AppliedRun]:
    """Mirror the destination's roster, record interrupted runs, redeliver webhooks; returns
    the interrupted runs recorded."""
    logger = logger or log
    interrupted = destination.mirror_into(con)
    for run in interrupted:
        record_interrupted_run(con, run)
        logger.warning("run %s was applied to %s but not recorded (its process stopped): "
                       "recorded now", run.run_id, destination.label)
    deliver_pending_webhooks(con, destination, logger)
    return interrupted
