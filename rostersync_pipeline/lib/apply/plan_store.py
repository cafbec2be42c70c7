"""Plans waiting for review: kept, approved (applied exactly as stored) or discarded.

A plan the guard holds (or every plan of a district with ``require_approval``) is copied, with
the roster's fingerprint at plan time, into the plan store, keyed by ``plan_id`` = the id of
the run that made it:

- ``sync.stored_plans``: one row per stored plan (status ``requires_review`` -> ``approved`` |
  ``discarded``, the guard's reasons, counts, the fingerprint, who/when decided);
- ``sync.stored_plan_schools|users|sections|enrollments`` and ``sync.stored_sync_plan``: the
  rows of ``sync.plan_*`` / ``sync.sync_plan`` with a leading ``plan_id`` column.

Approval applies the stored rows (not a recomputed plan) in one transaction, and only if the
roster is still exactly as it was when the plan was made; later nights compute their own plans
and never touch a stored one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import duckdb

from rostersync_pipeline.lib.apply.history import ENTITY_TABLES
from rostersync_pipeline.lib.apply.plan_tables import CURRENT_PLAN, PlanTables
from rostersync_pipeline.lib.report.run_record import RunSummary, build_run_summary, record_run
from rostersync_pipeline.lib.report.run_status import RunStatus
from rostersync_pipeline.lib.storage.warehouse import duckdb_columns, transaction

if TYPE_CHECKING:
    from rostersync_pipeline.lib.storage.destinations.interface import RosterDestination

STORED = {name: f"sync.stored_{name}" for name in CURRENT_PLAN}
STAGED = {name: f"approval_{name}" for name in CURRENT_PLAN}

EMPTY_TABLE = [0, "0"]
REQUIRES_REVIEW = "requires_review"
APPROVED = "approved"
DISCARDED = "discarded"

FINGERPRINT_SQL = " union all ".join(
    f"select '{table}' as roster_table, count(*) as row_count, "
    f"coalesce(bit_xor(hash(t)), 0)::ubigint::varchar as row_hash from roster.{table} as t"
    for table in ENTITY_TABLES
)


class PlanRefused(RuntimeError):
    """An approval or discard that cannot happen; the message says why, for the operator."""


@dataclass(frozen=True)
class StoredPlan:
    plan_id: str
    district_id: str
    status: str
    created_at: object
    reasons: list[str] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    fingerprint: dict[str, list] = field(default_factory=dict)
    decided_run_id: str | None = None


def roster_fingerprint(con: duckdb.DuckDBPyConnection) -> dict[str, list]:
    """Per roster table: [row count, an order-free hash over every column of every row]."""
    return {table: [n, digest] for table, n, digest in con.execute(FINGERPRINT_SQL).fetchall()}


def fingerprint_changes(stored: dict[str, list], now: dict[str, list]) -> list[str]:
    """What differs between two fingerprints, one phrase per roster table."""
    changes = []
    for table in ENTITY_TABLES:
        # a plan stored before its table existed saw it empty
        before, after = stored.get(table, EMPTY_TABLE), now.get(table)
        if before == after:
            continue
        if before and after and before[0] != after[0]:
            changes.append(f"roster.{table} has {after[0]} rows, {before[0]} at plan time")
        else:
            changes.append(f"roster.{table} rows were changed")
    return changes


def _columns(con: duckdb.DuckDBPyConnection, qualified: str) -> dict[str, str]:
    return dict(duckdb_columns(con, qualified))


def _ensure_store_table(con: duckdb.DuckDBPyConnection, source: str, target: str) -> None:
    """Create the stored copy of a plan table, adding columns the plan models gained since."""
    con.execute(
        f"create table if not exists {target} as "
        f"select null::varchar as plan_id, * from {source} where false"
    )
    present = _columns(con, target)
    for column, data_type in _columns(con, source).items():
        if column not in present:
            con.execute(f'alter table {target} add column "{column}" {data_type}')


def store_plan(
    con: duckdb.DuckDBPyConnection,
    plan_id: str,
    district_id: str,
    reasons: list[str],
    counts: dict[str, dict[str, int]],
) -> None:
    """Copy the run's ``sync.plan_*`` rows and the roster fingerprint into the plan store.

    Runs inside the caller's transaction (the one that records the held run)."""
    for name, source in CURRENT_PLAN.items():
        _ensure_store_table(con, source, STORED[name])
        con.execute(f"delete from {STORED[name]} where plan_id = ?", [plan_id])
        con.execute(
            f"insert into {STORED[name]} by name select ?::varchar as plan_id, * from {source}",
            [plan_id],
        )
    con.execute("delete from sync.stored_plans where plan_id = ?", [plan_id])
    con.execute(
        "insert into sync.stored_plans (plan_id, district_id, created_at, status, reasons, "
        "counts, roster_fingerprint) values (?, ?, now()::timestamp, ?, ?, ?::json, ?::json)",
        [plan_id, district_id, REQUIRES_REVIEW, reasons, json.dumps(counts),
         json.dumps(roster_fingerprint(con))],
    )


def read_stored_plan(con: duckdb.DuckDBPyConnection, plan_id: str) -> StoredPlan | None:
    rows = con.execute(
        "select plan_id, district_id, status, created_at, reasons, counts, roster_fingerprint, "
        "decided_run_id from sync.stored_plans where plan_id = ?",
        [plan_id],
    ).fetchall()
    if not rows:
        return None
    plan_id, district_id, status, created, reasons, counts, fingerprint, decided = rows[0]
    return StoredPlan(plan_id, district_id, status, created, list(reasons or []),
                      json.loads(counts or "{}"), json.loads(fingerprint or "{}"), decided)


def plans_awaiting_review(con: duckdb.DuckDBPyConnection) -> list[StoredPlan]:
    ids = con.execute(
        "select plan_id from sync.stored_plans where status = ? order by created_at",
        [REQUIRES_REVIEW],
    ).fetchall()
    return [plan for (plan_id,) in ids if (plan := read_stored_plan(con, plan_id))]


def only_waiting_plan(con: duckdb.DuckDBPyConnection, district_id: str) -> str:
    """The id of the district's one plan waiting for review; :class:`PlanRefused` when none or
    several wait (then the plan id must be named)."""
    waiting = [p.plan_id for p in plans_awaiting_review(con) if p.district_id == district_id]
    if len(waiting) == 1:
        return waiting[0]
    if not waiting:
        raise PlanRefused(f"no plan of district {district_id!r} waits for review")
    raise PlanRefused(f"{len(waiting)} plans of district {district_id!r} wait for review "
                      f"({', '.join(waiting)}): name the one to decide (plan_id)")


def _reviewable(con: duckdb.DuckDBPyConnection, district_id: str, plan_id: str) -> StoredPlan:
    plan = read_stored_plan(con, plan_id)
    if plan is None or plan.district_id != district_id:
        raise PlanRefused(f"no stored plan {plan_id!r} for district {district_id!r}")
    if plan.status != REQUIRES_REVIEW:
        by = f" by run {plan.decided_run_id}" if plan.decided_run_id else ""
        raise PlanRefused(f"plan {plan_id} is already {plan.status}{by}; nothing to do")
    return plan


def _stored_tables(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The plan store's tables that exist (a plan table added since the first stored plan has
    none until a plan is stored with it)."""
    present = {f"sync.{table}" for (table,) in con.execute(
        "select table_name from information_schema.tables where table_schema = 'sync'"
    ).fetchall()}
    return {name: stored for name, stored in STORED.items() if stored in present}


def stage_stored_plan(con: duckdb.DuckDBPyConnection, plan_id: str) -> PlanTables:
    """The stored rows of ``plan_id`` as temp tables shaped like ``sync.plan_*``."""
    missing = sorted(set(STORED) - set(_stored_tables(con)))
    if missing:
        raise PlanRefused(
            f"plan {plan_id} was stored by an older rostersync, without {', '.join(missing)}: "
            "it cannot be applied as reviewed. Discard it and review the plan of the next run.")
    for name, stored in STORED.items():
        con.execute(
            f"create or replace temp table {STAGED[name]} as "
            f"select * exclude (plan_id) from {stored} where plan_id = ?",
            [plan_id],
        )
    return dict(STAGED)


def approve_stored_plan(
    con: duckdb.DuckDBPyConnection,
    district_id: str,
    plan_id: str,
    run_id: str,
    destination: RosterDestination | None = None,
) -> tuple[StoredPlan, int, RunSummary]:
    """Apply exactly the stored plan as run ``run_id``; returns (plan, changes, the run's summary).

    The roster changes go to ``destination`` (default: the district's DuckDB file) in one
    transaction, with the plan's new status and the approval run's ``sync.runs`` row (for a
    PostgreSQL destination: right after its commit; its roster must have been mirrored first,
    :func:`~rostersync_pipeline.lib.apply.refresh.refresh_roster`). Raises
    :class:`PlanRefused` (nothing changed) if the plan is unknown, already decided, or the
    roster changed since the plan was made.
    """
    if destination is None:
        from rostersync_pipeline.lib.storage.destinations.duckdb import DuckDBDestination

        destination = DuckDBDestination()
    started_at = con.execute("select now()::timestamp").fetchall()[0][0]
    plan = _reviewable(con, district_id, plan_id)
    changed = fingerprint_changes(plan.fingerprint, roster_fingerprint(con))
    if changed:
        raise PlanRefused(
            f"plan {plan_id} was made on a roster that has changed since ("
            + "; ".join(changed)
            + "): it cannot be applied as reviewed. Discard it and review the newer plan "
            "of the next run instead."
        )
    staged = stage_stored_plan(con, plan_id)
    summary = build_run_summary(
        con, district_id=district_id, run_id=run_id, status=RunStatus.APPROVED, plan=staged,
        fetch_mode="approval", started_at=started_at,
        reasons=[f"approved stored plan {plan_id}"],
    )

    def record(applied: int) -> None:
        con.execute(
            "update sync.stored_plans set status = ?, decided_at = now()::timestamp, "
            "decided_run_id = ? where plan_id = ?",
            [APPROVED, run_id, plan_id],
        )
        record_run(con, summary)

    result = destination.apply(con, run_id, staged, record, summary=summary, kind="approval",
                               plan_id=plan_id)
    return plan, result.changes if result is not None else 0, summary


def discard_stored_plan(
    con: duckdb.DuckDBPyConnection, district_id: str, plan_id: str, note: str | None = None
) -> StoredPlan:
    """Drop a stored plan's rows; its ``sync.stored_plans`` row stays, status ``discarded``."""
    with transaction(con):
        plan = _reviewable(con, district_id, plan_id)
        for stored in _stored_tables(con).values():
            con.execute(f"delete from {stored} where plan_id = ?", [plan_id])
        con.execute(
            "update sync.stored_plans set status = ?, decided_at = now()::timestamp, "
            "decision_note = ? where plan_id = ?",
            [DISCARDED, note, plan_id],
        )
    return plan
