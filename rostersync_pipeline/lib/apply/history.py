"""Roster history: one row per version of every app school, term, course, user, user-school
link, section and enrollment.

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

from rostersync_pipeline.lib.storage.warehouse import ENTITY_TABLES

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


SECTIONS_FOUND_SQL = """
select distinct on (app_id) app_id, source_id, sis_id, name, school_app_id
from roster.sections_history
where app_id = try_cast($key as bigint) or source_id = $key or sis_id = $key
order by app_id, valid_from desc
"""

SECTION_MEMBERS_SQL = """
with enrollments as (
    select user_app_id, role
    from roster.enrollments_history
    where section_app_id = $section_app_id
        and status = 'active'
        and valid_from <= $at and (valid_to is null or valid_to > $at)
),

users as (
    select app_id, source_id, sis_id, first_name, last_name, grade
    from roster.users_history
    where valid_from <= $at and (valid_to is null or valid_to > $at)
),

final as (
    select
        enrollments.user_app_id,
        enrollments.role,
        users.source_id,
        users.sis_id,
        users.first_name,
        users.last_name,
        users.grade
    from enrollments
    left join users on users.app_id = enrollments.user_app_id
)

select * from final order by role desc, last_name, first_name, user_app_id
"""


def find_sections(con: duckdb.DuckDBPyConnection, key: str) -> list[dict]:
    """Sections the history knows by app id, source id or SIS id ``key`` (latest version of
    each): app_id, source_id, sis_id, name, school_app_id."""
    cursor = con.execute(SECTIONS_FOUND_SQL, {"key": key.strip()})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def section_members_at(
    con: duckdb.DuckDBPyConnection, section_app_id: int, at: object
) -> list[dict]:
    """Who was enrolled (active) in the section at ``at`` (docs/operations.md, "who was in
    section X on date D"), with the user's IDs, names and grade as valid then."""
    cursor = con.execute(SECTION_MEMBERS_SQL, {"section_app_id": section_app_id, "at": at})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
