"""A run's record: its errors kept in ``sync.sync_errors`` and its summary row in ``sync.runs``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import duckdb

from rostersync_pipeline.lib.guard import plan_counts

UNCHANGED_SQL = """
select entity, count(*) from (
    select entity from sync.plan_users where action = 'unchanged'
    union all select entity from sync.plan_sections where action = 'unchanged'
    union all select entity from sync.plan_enrollments where action = 'unchanged'
    union all select entity from sync.plan_schools where action = 'unchanged'
) group by entity
"""


@dataclass
class RunSummary:
    run_id: str
    district_id: str
    status: str
    dry_run: bool
    fetch_complete: bool
    fetch_mode: str
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    error_counts: dict[str, int] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    export_path: str | None = None


def keep_run_errors(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, int]:
    """Copy the run's errors into the kept ``sync.sync_errors``; returns counts per code."""
    con.execute("delete from sync.sync_errors where run_id = ?", [run_id])
    con.execute("insert into sync.sync_errors by name select * from sync.run_errors")
    rows = con.execute(
        "select error_code, count(*) from sync.sync_errors where run_id = ? "
        "group by all order by 2 desc, 1",
        [run_id],
    ).fetchall()
    return dict(rows)


def summarize_plan(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    counts = plan_counts(con)
    for entity, n in con.execute(UNCHANGED_SQL).fetchall():
        counts.setdefault(entity, {})["unchanged"] = n
    return counts


def record_run(con: duckdb.DuckDBPyConnection, summary: RunSummary) -> None:
    con.execute("delete from sync.runs where run_id = ?", [summary.run_id])
    con.execute(
        "insert into sync.runs select ?, ?, (select started_at from config.run), "
        "now()::timestamp, ?, ?, ?, ?, ?, ?::json, ?::json, ?",
        [
            summary.run_id, summary.district_id, summary.status, summary.dry_run,
            summary.fetch_complete, summary.fetch_mode, "; ".join(summary.reasons) or None,
            json.dumps(summary.counts), json.dumps(summary.error_counts), summary.export_path,
        ],
    )
