"""A run's record: errors in ``sync.sync_errors``, its row in ``sync.runs``, its plan summary.

``sync.runs.status`` is a :class:`~rostersync_pipeline.lib.report.run_status.RunStatus`.
:func:`sync_run_summary` is the one builder of a sync run's summary (used by apply, the
expectation check and the reports asset); approvals and restores build theirs from the plan
they applied. ``sync.run_details`` holds, per run, the ID changes, alerts and a sample of plan
rows per entity and action (IDs and changed field names only: no names, emails or birth dates).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from rostersync_pipeline.lib.apply.plan_tables import CURRENT_PLAN, PlanTables
from rostersync_pipeline.lib.report.run_status import RunStatus, parse_status
from rostersync_pipeline.lib.storage.warehouse import relation_exists

SAMPLE_ROWS_PER_ACTION = 5

COUNTS_SQL = """
select entity, action, count(*) from (
    select entity, action from {plan_schools} where action in ('create', 'update',
        'reactivate', 'unchanged')
    union all select entity, action from {plan_terms}
    union all select entity, action from {plan_courses}
    union all select entity, action from {plan_users}
    union all select entity, action from {plan_user_schools}
    union all select entity, action from {plan_guardian_relationships}
    union all select entity, action from {plan_sections}
    union all select entity, action from {plan_enrollments}
) group by all order by all
"""

SAMPLE_SQL = """
select entity, action, app_id, source_id, changed_fields, matched_rule
from {sync_plan}
qualify row_number() over (partition by entity, action order by app_id) <= $n
order by entity, action, app_id
"""


@dataclass
class RunSummary:
    run_id: str
    district_id: str
    status: RunStatus
    dry_run: bool
    fetch_complete: bool | None
    fetch_mode: str | None
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    error_counts: dict[str, int] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    export_path: str | None = None
    id_changes: dict[str, int] = field(default_factory=dict)
    alerts: dict[str, int] | None = None
    samples: list[dict] = field(default_factory=list)
    started_at: datetime | None = None


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


def summarize_plan(
    con: duckdb.DuckDBPyConnection, tables: PlanTables = CURRENT_PLAN
) -> dict[str, dict[str, int]]:
    """Counts per entity and action (``unchanged`` included) of a plan."""
    counts: dict[str, dict[str, int]] = {}
    for entity, action, n in con.execute(COUNTS_SQL.format(**tables)).fetchall():
        counts.setdefault(entity, {})[action] = n
    return counts


def match_alert_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int] | None:
    """Possible duplicates in ``sync.match_alerts`` (by status if it has one); None if absent."""
    if not relation_exists(con, "sync.match_alerts"):
        return None
    has_status = con.execute(
        "select count(*) from information_schema.columns where table_schema = 'sync' "
        "and table_name = 'match_alerts' and column_name = 'status'").fetchall()[0][0]
    sql = ("select status, count(*) from sync.match_alerts group by all order by all"
           if has_status else "select 'alerts', count(*) from sync.match_alerts")
    return {str(key): n for key, n in con.execute(sql).fetchall() if n}


def plan_details(
    con: duckdb.DuckDBPyConnection, tables: PlanTables = CURRENT_PLAN
) -> tuple[dict[str, int], list[dict]]:
    """(ID changes per entity, sample plan rows per entity and action) of a plan."""
    id_changes = dict(con.execute(
        f"select entity, count(*) from {tables['plan_users']} where id_change "
        "group by all order by all").fetchall())
    cursor = con.execute(SAMPLE_SQL.format(**tables), {"n": SAMPLE_ROWS_PER_ACTION})
    names = [d[0] for d in cursor.description]
    samples = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return id_changes, samples


def fill_plan_summary(
    con: duckdb.DuckDBPyConnection, summary: RunSummary, tables: PlanTables = CURRENT_PLAN
) -> RunSummary:
    """Counts, ID changes, alerts and samples of the plan in ``tables``, into ``summary``."""
    summary.counts = summarize_plan(con, tables)
    summary.id_changes, summary.samples = plan_details(con, tables)
    if tables == CURRENT_PLAN:
        summary.alerts = match_alert_counts(con)
    return summary


def record_run(con: duckdb.DuckDBPyConnection, summary: RunSummary) -> None:
    """Write (or rewrite) the run's ``sync.runs`` and ``sync.run_details`` rows."""
    started = "?::timestamp" if summary.started_at else "(select started_at from config.run)"
    started_params = [summary.started_at] if summary.started_at else []
    con.execute("delete from sync.runs where run_id = ?", [summary.run_id])
    con.execute(
        f"insert into sync.runs select ?, ?, {started}, now()::timestamp, ?, ?, ?, ?, ?, "
        "?::json, ?::json, ?",
        [
            summary.run_id, summary.district_id, *started_params, summary.status.value,
            summary.dry_run, summary.fetch_complete, summary.fetch_mode,
            "; ".join(summary.reasons) or None, json.dumps(summary.counts),
            json.dumps(summary.error_counts), summary.export_path,
        ],
    )
    con.execute("delete from sync.run_details where run_id = ?", [summary.run_id])
    con.execute(
        "insert into sync.run_details values (?, ?::json, ?::json, ?::json)",
        [summary.run_id, json.dumps(summary.id_changes),
         None if summary.alerts is None else json.dumps(summary.alerts),
         json.dumps(summary.samples, default=str)],
    )


def read_run_summary(con: duckdb.DuckDBPyConnection, run_id: str) -> RunSummary | None:
    """A recorded run's summary, details included; None if the run is not recorded."""
    rows = con.execute(
        "select r.district_id, r.status, r.dry_run, r.fetch_complete, r.fetch_mode, "
        "r.status_reason, r.counts, r.error_counts, r.export_path, r.started_at, "
        "d.id_changes, d.alerts, d.samples "
        "from sync.runs as r left join sync.run_details as d using (run_id) "
        "where r.run_id = ?",
        [run_id],
    ).fetchall()
    if not rows:
        return None
    (district_id, status, dry_run, complete, mode, reason, counts, errors, export, started,
     id_changes, alerts, samples) = rows[0]
    return RunSummary(
        run_id=run_id, district_id=district_id, status=parse_status(status), dry_run=dry_run,
        fetch_complete=complete, fetch_mode=mode, counts=json.loads(counts or "{}"),
        error_counts=json.loads(errors or "{}"),
        reasons=reason.split("; ") if reason else [], export_path=export,
        id_changes=json.loads(id_changes or "{}"),
        alerts=json.loads(alerts) if alerts else None,
        samples=json.loads(samples or "[]"), started_at=started,
    )


def latest_run_id(con: duckdb.DuckDBPyConnection) -> str | None:
    rows = con.execute(
        "select run_id from sync.runs order by finished_at desc limit 1").fetchall()
    return rows[0][0] if rows else None


def build_run_summary(
    con: duckdb.DuckDBPyConnection,
    *,
    district_id: str,
    run_id: str,
    status: RunStatus,
    reasons: list[str] | None = None,
    export_path: str | None = None,
    plan: PlanTables | None = CURRENT_PLAN,
    counts: dict[str, dict[str, int]] | None = None,
    fetch_mode: str | None = None,
    started_at: datetime | None = None,
) -> RunSummary:
    """The one builder of a run's summary.

    A sync run (no ``fetch_mode``) reads what was fetched from ``config.run`` /
    ``config.fetch_entities`` and its errors from ``sync.run_errors``; an approval passes the
    staged plan it applied (``plan``) and ``fetch_mode="approval"``; a restore passes its own
    ``counts`` (``plan=None``) and ``fetch_mode="restore"``. Counts, ID changes and samples come
    from ``plan`` when one is given.
    """
    summary = RunSummary(run_id=run_id, district_id=district_id, status=status,
                         dry_run=status is RunStatus.DRY_RUN, fetch_complete=None,
                         fetch_mode=fetch_mode, reasons=list(reasons or []),
                         export_path=export_path, counts=dict(counts or {}),
                         started_at=started_at)
    if fetch_mode is None:
        fetch = con.execute(
            "select (select fetch_complete from config.run), string_agg(distinct mode, '/') "
            "from config.fetch_entities where mode <> 'absent'").fetchall()[0]
        summary.fetch_complete, summary.fetch_mode = bool(fetch[0]), fetch[1] or "absent"
        summary.error_counts = dict(con.execute(
            "select error_code, count(*) from sync.run_errors group by all order by 2 desc, 1"
        ).fetchall())
    return fill_plan_summary(con, summary, plan) if plan is not None else summary


def sync_run_summary(
    con: duckdb.DuckDBPyConnection,
    *,
    district_id: str,
    run_id: str,
    status: RunStatus,
    reasons: list[str] | None = None,
    export_path: str | None = None,
) -> RunSummary:
    """The summary of this sync run (fetch, errors, plan) with the given status."""
    return build_run_summary(con, district_id=district_id, run_id=run_id, status=status,
                             reasons=reasons, export_path=export_path)


@dataclass(frozen=True)
class RunListing:
    """One row of a district's run list (``sync.runs``)."""

    run_id: str
    status: RunStatus
    dry_run: bool
    started_at: datetime | None
    finished_at: datetime | None
    counts: dict[str, dict[str, int]]
    error_counts: dict[str, int]
    reasons: list[str]


def list_runs(
    con: duckdb.DuckDBPyConnection, *, limit: int = 50, before: datetime | None = None
) -> list[RunListing]:
    """The district's runs, newest first (``finished_at``), optionally those before a moment."""
    rows = con.execute(
        "select run_id, status, dry_run, started_at, finished_at, counts, error_counts, "
        "status_reason from sync.runs where ?::timestamp is null or finished_at < ? "
        "order by finished_at desc, run_id limit ?",
        [before, before, limit],
    ).fetchall()
    return [RunListing(run_id, parse_status(status), dry_run, started, finished,
                       json.loads(counts or "{}"), json.loads(errors or "{}"),
                       reason.split("; ") if reason else [])
            for run_id, status, dry_run, started, finished, counts, errors, reason in rows]


def run_finished_at(con: duckdb.DuckDBPyConnection, run_id: str) -> datetime | None:
    rows = con.execute("select finished_at from sync.runs where run_id = ?", [run_id]).fetchall()
    return rows[0][0] if rows else None


ERROR_COLUMNS = ("record_type", "field", "error_value", "error_code", "source_id", "app_id",
                 "school", "name", "message")


def error_rows(
    con: duckdb.DuckDBPyConnection, run_id: str, error_code: str, *, after: int | None = None,
    limit: int = 100,
) -> tuple[list[dict], int | None]:
    """One page of a run's ``sync.sync_errors`` rows of one code, in stored order (keyset on
    the table's ``rowid``): (rows, the key of the next page or None)."""
    cursor = con.execute(
        f"select rowid, {', '.join(ERROR_COLUMNS)} from sync.sync_errors "
        "where run_id = ? and error_code = ? and (?::bigint is null or rowid > ?) "
        "order by rowid limit ?",
        [run_id, error_code, after, after, limit + 1],
    )
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1]["rowid"] if more and rows else None)
