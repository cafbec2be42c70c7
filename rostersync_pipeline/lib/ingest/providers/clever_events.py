"""Clever events (incremental sync): between full syncs, replay ``GET /events`` onto the last
landing so ``raw.clever_*`` always holds the district's current state.

- ``raw.clever_event_cursor`` (one row in the district's file) keeps the last event id applied,
  when it was recorded, and when the last complete full sync ran.
- A full sync records the newest event id *before* it lands (``events?ending_before=last``),
  so events raised while it runs are replayed by the next run (replay is idempotent).
- An events run lands the events as received in ``raw.clever_events`` and applies the last
  event per object: ``*.created`` / ``*.updated`` replace the object's row, ``*.deleted``
  replaces it with ``_ext = {"deleted": true}`` (staging reads that as ``is_deleted``).
  Entities are ``delta``: nothing is deactivated by absence.
- Full sync instead when there is no cursor, the cursor is older than Clever's event retention
  (30 days, with a day's margin), the last full sync is ``full_sync_every_days`` old, or Clever
  rejects the cursor (an unknown or expired ``starting_after``).
- A failing events page applies nothing and keeps the cursor; the fetch is incomplete. So does
  an events page that is not the v3 event shape (:mod:`clever_shapes`: an event without its
  ``id`` or ``type``, an object without its ``id`` or with mistyped fields), reported
  ``UNSUPPORTED_RESPONSE``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from rostersync_pipeline.lib.ingest.http import HttpClient, HttpError, JsonLinksCursorPaginator, PageError
from rostersync_pipeline.lib.ingest.providers import clever_shapes
from rostersync_pipeline.lib.ingest.providers.clever_records import land_records

log = logging.getLogger(__name__)

EVENT_RETENTION = timedelta(days=30)
RETENTION_MARGIN = timedelta(days=1)
CURSOR_DDL = (
    "create table if not exists raw.clever_event_cursor (last_event_id varchar, "
    "cursor_at timestamp, last_full_sync_at timestamp, run_id varchar)"
)
# Event object type (``users`` of ``users.updated``) -> the raw table it updates.
EVENT_TABLES = ("districts", "schools", "users", "sections", "terms", "courses")

APPLY_SQL = """
with events as (
    select
        _source_row as event_row,
        data ->> '$.type' as event_type,
        data -> '$.data.object' as object
    from raw.clever_events
),
typed as (
    select
        event_row,
        split_part(event_type, '.', 1) as object_type,
        split_part(event_type, '.', 2) as action,
        object,
        object ->> '$.id' as object_id
    from events
)
select object_type, object_id, action, object::varchar as object, event_row
from typed
where object_id is not null
qualify row_number() over (partition by object_type, object_id order by event_row desc) = 1
"""


@dataclass(frozen=True)
class Cursor:
    last_event_id: str | None
    cursor_at: datetime
    last_full_sync_at: datetime


class CursorRejected(Exception):
    """Clever does not know the cursor event any more (expired or unknown)."""


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def read_cursor(con: duckdb.DuckDBPyConnection) -> Cursor | None:
    con.execute(CURSOR_DDL)
    rows = con.execute(
        "select last_event_id, cursor_at, last_full_sync_at from raw.clever_event_cursor"
    ).fetchall()
    return Cursor(*rows[0]) if rows else None


def save_cursor(con: duckdb.DuckDBPyConnection, run_id: str, last_event_id: str | None, *,
                full_sync_at: datetime | None = None, now: datetime | None = None) -> None:
    """Record the cursor; a full sync also moves ``last_full_sync_at``."""
    previous = read_cursor(con)
    now = now or utc_now()
    full = full_sync_at or (previous.last_full_sync_at if previous else now)
    con.execute("delete from raw.clever_event_cursor")
    con.execute("insert into raw.clever_event_cursor values (?, ?, ?, ?)",
                [last_event_id, now, full, run_id])


def reset_cursor(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(CURSOR_DDL)
    con.execute("delete from raw.clever_event_cursor")


def full_sync_reason(cursor: Cursor | None, full_sync_every_days: float,
                     now: datetime | None = None) -> str | None:
    """Why this run must be a full sync, or None when events will do."""
    now = now or utc_now()
    if cursor is None:
        return "no event cursor yet"
    if now - cursor.cursor_at > EVENT_RETENTION - RETENTION_MARGIN:
        return f"event cursor from {cursor.cursor_at:%Y-%m-%d} is past Clever's 30-day retention"
    if now - cursor.last_full_sync_at >= timedelta(days=full_sync_every_days):
        return f"last full sync {cursor.last_full_sync_at:%Y-%m-%d} is " \
               f"{full_sync_every_days:g}+ days old"
    return None


def latest_event_id(client: HttpClient) -> str | None:
    """The newest event id (``events?ending_before=last&limit=1``); None if there is none."""
    body = client.get_json("events", params={"ending_before": "last", "limit": 1})
    rows = body.get("data") if isinstance(body, dict) else None
    if not isinstance(rows, list):
        raise ValueError("the events body has no 'data' list")
    events = [row.get("data", row) for row in rows if isinstance(row, dict)]
    return str(events[-1]["id"]) if events else None


def fetch_events(client: HttpClient, after: str | None, page_limit: int,
                 version: str = "v3.0") -> list[dict[str, Any]]:
    """Every event after ``after``, oldest first. Raises CursorRejected or PageError."""
    params = {"starting_after": after} if after else {}
    events: list[dict[str, Any]] = []
    try:
        for page in client.paginate("events", JsonLinksCursorPaginator(limit=page_limit),
                                    params=params):
            problem = clever_shapes.page_problem("events", page.data, version)
            if problem:
                raise PageError("events", page.number, problem, unsupported=True)
            events += [row["data"] for row in page.data["data"]]
    except PageError as exc:
        if exc.page == 1 and exc.status in (400, 404) and after:
            raise CursorRejected(exc.reason) from exc
        raise
    return events


def land_events(con: duckdb.DuckDBPyConnection, events: list[dict], run_id: str) -> int:
    """Replace ``raw.clever_events`` with this run's events as received."""
    con.execute("delete from raw.clever_events")
    return land_records(con, "clever_events", events, run_id=run_id, source_file="events",
                        first_row=1)


def apply_events(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, int]:
    """Apply the landed events onto ``raw.clever_*``: the last event per object wins."""
    con.execute(f"create or replace temp table rs_event_objects as {APPLY_SQL}")
    applied: dict[str, int] = {}
    for object_type in EVENT_TABLES:
        n = con.execute("select count(*) from rs_event_objects where object_type = ?",
                        [object_type]).fetchall()[0][0]
        if not n:
            continue
        con.execute(f"delete from raw.clever_{object_type} where id in (select object_id "
                    "from rs_event_objects where object_type = ?)", [object_type])
        con.execute(
            f"insert into raw.clever_{object_type} (id, data, _run_id, _source_file, "
            "_source_row, _ext) select object_id, object::json, ?, 'events', event_row, "
            "case when action = 'deleted' then '{\"deleted\":true}'::json end "
            "from rs_event_objects where object_type = ?",
            [run_id, object_type],
        )
        applied[object_type] = n
    con.execute("drop table rs_event_objects")
    return applied


def run_events(con: duckdb.DuckDBPyConnection, client: HttpClient, cursor: Cursor, *,
               run_id: str, page_limit: int, version: str = "v3.0",
               ) -> tuple[dict[str, int], PageError | None]:
    """Fetch and apply the events after the cursor; advance the cursor only on success.

    Returns the objects applied per type and the failed page, if any.
    Raises CursorRejected when Clever no longer knows the cursor.
    """
    try:
        events = fetch_events(client, cursor.last_event_id, page_limit, version)
    except PageError as exc:
        log.warning("clever events: page %s failed (%s); nothing applied", exc.page, exc.reason)
        con.execute("delete from raw.clever_events")
        return {}, exc
    land_events(con, events, run_id)
    applied = apply_events(con, run_id)
    if events:
        save_cursor(con, run_id, str(events[-1].get("id")))
    log.info("clever events: %d event(s) applied (%s)", len(events),
             json.dumps(applied, sort_keys=True))
    return applied, None


def newest_event_or_none(client: HttpClient) -> tuple[bool, str | None]:
    """(read, newest event id) before a full sync; unread means no cursor is saved this time."""
    try:
        return True, latest_event_id(client)
    except (HttpError, ValueError, KeyError) as exc:
        log.warning("clever events: newest event id not read (%s); next run syncs in full",
                    getattr(exc, "reason", type(exc).__name__))
        return False, None
