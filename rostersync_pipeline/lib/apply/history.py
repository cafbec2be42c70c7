"""Roster history: one row per version of every app school, user, section and enrollment.

``roster.<entity>_history`` has every column of ``roster.<entity>`` plus
``valid_from_run`` / ``valid_to_run`` (the run that wrote / replaced the version) and
``valid_from`` / ``valid_to`` (when; the current version has ``valid_to`` null). A version is
valid at time ``t`` when ``valid_from <= t and (valid_to is null or valid_to > t)``.

Versions are written inside the transaction that changes the roster (apply, approval, restore),
set-based: a record whose ``updated_run_id`` is the run's id gets its current version closed
and a new one opened. Records the history has not seen yet (an app roster that existed before
the first sync, records made by hand in the app) get a baseline version valid since
``-infinity`` before anything changes, with ``valid_from_run`` null.
"""

from __future__ import annotations

import duckdb

ENTITY_TABLES = ("schools", "users", "sections", "enrollments")

HISTORY_COLUMNS = ("valid_from_run", "valid_to_run", "valid_from", "valid_to")

BASELINE_SQL = """insert into roster.{table}_history by name
    select *, null::varchar as valid_from_run, null::varchar as valid_to_run,
        '-infinity'::timestamp as valid_from, null::timestamp as valid_to
    from roster.{table}
    where app_id not in (select app_id from roster.{table}_history)"""

CLOSE_SQL = """update roster.{table}_history as h
    set valid_to_run = $run_id, valid_to = now()::timestamp
    where h.valid_to is null
        and h.app_id in (select app_id from roster.{table} where updated_run_id = $run_id)"""

OPEN_SQL = """insert into roster.{table}_history by name
    select *, $run_id as valid_from_run, null::varchar as valid_to_run,
        now()::timestamp as valid_from, null::timestamp as valid_to
    from roster.{table}
    where updated_run_id = $run_id"""

VERSION_AT_SQL = """select * from roster.{table}_history
    where valid_from <= $at and (valid_to is null or valid_to > $at)"""


def baseline_history(con: duckdb.DuckDBPyConnection) -> None:
    """Give every roster record without history a baseline version (before it changes)."""
    for table in ENTITY_TABLES:
        con.execute(BASELINE_SQL.format(table=table))


def record_history(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Close the current version of every record ``run_id`` touched and open its new one."""
    for table in ENTITY_TABLES:
        con.execute(CLOSE_SQL.format(table=table), {"run_id": run_id})
        con.execute(OPEN_SQL.format(table=table), {"run_id": run_id})


def run_moment(con: duckdb.DuckDBPyConnection, run_id: str, which: str = "finished_at") -> object:
    """When a recorded run started or finished (``sync.runs``); None if the run is unknown."""
    if which not in ("started_at", "finished_at"):
        raise ValueError(f"which must be started_at or finished_at, not {which!r}")
    rows = con.execute(f"select {which} from sync.runs where run_id = ?", [run_id]).fetchall()
    return rows[0][0] if rows else None
