"""The roster destination interface: where apply, approvals and restores write the app's roster.

Two implementations, one contract (docs/destinations.md):

- :class:`~.duckdb.DuckDBDestination`: the ``roster`` schema of the district's DuckDB file
  (the default). The roster, its history, ``change_log`` and ``change_feed`` and the run record
  commit in one DuckDB transaction.
- :class:`~.postgres.PostgresDestination`: a schema of the app's PostgreSQL database, owned and
  migrated by rostersync. It is the source of truth; the DuckDB ``roster.*`` tables are a mirror
  the SQL models match against, refreshed from it at the start of every run and review job.

Every method takes the district's open DuckDB connection: the plan lives there, and so do the
run record (``sync.runs``) and the plan store. A destination never writes the run record itself:
the caller hands it a ``record`` callback that writes the DuckDB side, and the destination calls
it where its crash-safety needs it (inside its own transaction for DuckDB; right after the
PostgreSQL commit for PostgreSQL, with the healing of an interrupted run described in
:mod:`~.postgres`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Protocol

import duckdb

from rostersync_pipeline.lib.apply.plan_tables import PlanTables
from rostersync_pipeline.lib.report.run_record import RunSummary
from rostersync_pipeline.lib.report.run_status import parse_status
from rostersync_pipeline.lib.storage.warehouse import ENTITY_TABLES  # noqa: F401 (re-exported)

RUN_KINDS = ("sync", "approval", "restore")

Counts = dict[str, dict[str, int]]
RecordApplied = Callable[[int], None]
"""Writes the run's DuckDB record (guard decision, run row, ...) given the changes applied."""


@dataclass(frozen=True)
class AppliedRun:
    """What one apply, approval or restore changed, and where its changes sit in the feed."""

    run_id: str
    kind: str
    changes: int
    feed_after: int
    feed_until: int
    applied_at: datetime | None = None
    plan_id: str | None = None
    summary: dict = field(default_factory=dict)


def summary_to_dict(summary: RunSummary) -> dict:
    """A run summary as JSON-ready data (kept with the applied run in the destination, so an
    interrupted run can be recorded later exactly as it would have been)."""
    kept = asdict(summary)
    kept["status"] = summary.status.value
    kept["started_at"] = summary.started_at.isoformat() if summary.started_at else None
    return kept


def summary_from_dict(kept: dict) -> RunSummary:
    started = kept.get("started_at")
    return RunSummary(**{**kept, "status": parse_status(kept["status"]),
                         "started_at": datetime.fromisoformat(started) if started else None})


class DestinationRefused(RuntimeError):
    """The destination cannot take this run's changes (busy, changed since it was read, owned by
    another district, ...); nothing was applied and the message says why."""


class RosterDestination(Protocol):
    """Where a district's roster lives (see the module docstring)."""

    label: str
    """``duckdb`` or ``postgres:<database>/<schema>``, for messages and metadata."""

    def ensure_schema(self) -> None:
        """Create or migrate the destination's tables (idempotent)."""

    def mirror_into(self, con: duckdb.DuckDBPyConnection) -> list[AppliedRun]:
        """Bring the destination's roster into the DuckDB ``roster.*`` tables the SQL models
        read; returns the runs the destination applied that ``sync.runs`` does not record yet
        (an interrupted run, to be recorded by the caller)."""

    def apply(
        self,
        con: duckdb.DuckDBPyConnection,
        run_id: str,
        tables: PlanTables | None,
        record: RecordApplied,
        *,
        summary: RunSummary,
        kind: str = "sync",
        plan_id: str | None = None,
    ) -> AppliedRun | None:
        """Apply the plan in ``tables`` (None: nothing to apply, only ``record``) in one
        destination transaction with its history, change_log and change_feed rows."""

    def restore(
        self,
        con: duckdb.DuckDBPyConnection,
        run_id: str,
        to_run_id: str,
        summarize: Callable[[Counts, object], RunSummary],
        record: Callable[[RunSummary], None],
    ) -> tuple[Counts, AppliedRun]:
        """Return the roster to its state after ``to_run_id``, as run ``run_id``, in one
        transaction. ``summarize(counts, at)`` builds the restore run's summary, ``record``
        writes it."""

    def as_of(self, con: duckdb.DuckDBPyConnection, table: str, at: datetime) -> list[dict]:
        """Every record of ``table`` (one of ``ENTITY_TABLES``) as it was at ``at``: the history
        versions valid then."""

    def publish_feed(self, con: duckdb.DuckDBPyConnection) -> list:
        """POST the webhook of every applied run not yet delivered (this run's, and earlier
        failures); returns the delivery outcomes. Never raises for a failed delivery."""
