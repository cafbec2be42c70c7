"""Clever events (incremental): cursor, idempotent replay onto the last landing, fallbacks to a
full sync, fail closed. Against the local Clever stand-in's ``/events``."""

from __future__ import annotations

import copy
from datetime import timedelta

import duckdb
import pytest

from rostersync_pipeline.lib.ingest.providers import clever_events
from rostersync_pipeline.lib.storage.warehouse import ensure_schemas
from rostersync_pipeline_tests.fakes import create_staging_views
from rostersync_pipeline_tests.fakes.clever_server import CleverServer
from rostersync_pipeline_tests.ingest.test_clever_api import FAST, TOKEN

STUDENT = "5a25ffb0c1bc2a00360003ee"


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    ensure_schemas(connection)
    yield connection
    connection.close()


@pytest.fixture
def server() -> CleverServer:
    with CleverServer() as fake:
        yield fake


def fetch(con, server, run_id: str, **options):
    from rostersync_pipeline.lib.ingest.providers import clever_api

    options = {"page_limit": 500, "timeout_s": 5.0, "retry": FAST, "events": True, **options}
    return clever_api.fetch_and_land(con, run_id=run_id, token=TOKEN, base_url=server.base_url,
                                     **options)


def user(server: CleverServer, user_id: str) -> dict:
    return copy.deepcopy(next(u for u in server.collections["users"] if u["id"] == user_id))


def raw_state(con) -> list[tuple]:
    return con.execute("select id, data::varchar, _ext::varchar from raw.clever_users "
                       "order by id").fetchall()


def scalar(con, sql: str, params: list | None = None):
    return con.execute(sql, params or []).fetchall()[0][0]


def emit_changes(server: CleverServer) -> dict[str, str]:
    """An update, a creation, a deletion and a section losing a student."""
    updated = user(server, STUDENT)
    updated["name"]["last"] = "Renamed"
    server.emit("users.updated", updated, {"name": {"last": "Old"}})
    created = {**user(server, STUDENT), "id": "new000000000000000000001",
               "email": "new.student@example.org"}
    created["roles"]["student"]["sis_id"] = "NEW-1"
    server.emit("users.created", created)
    deleted_id = next(u["id"] for u in server.collections["users"]
                      if "student" in u["roles"] and u["id"] != STUDENT)
    server.emit("users.deleted", user(server, deleted_id))
    section = copy.deepcopy(server.collections["sections"][0])
    removed = section["students"].pop()
    server.emit("sections.updated", section, {"students": [*section["students"], removed]})
    return {"deleted": deleted_id, "created": created["id"], "section": section["id"],
            "removed": removed}


def test_full_sync_records_the_newest_event_then_events_apply_as_delta(con, server) -> None:
    before_full = server.emit("districts.updated", server.collections["districts"][0])
    first = fetch(con, server, "run-1")
    assert first.complete and first.mode == "bulk"
    cursor = clever_events.read_cursor(con)
    assert cursor.last_event_id == before_full
    landed = scalar(con, "select count(*) from raw.clever_users")

    changed = emit_changes(server)
    second = fetch(con, server, "run-2")
    assert second.complete and second.mode == "delta"
    assert second.row_counts["users"] == 3 and second.row_counts["sections"] == 1
    assert scalar(con, "select count(*) from raw.clever_events") == 4
    assert scalar(con, "select count(*) from raw.clever_users") == landed + 1
    assert clever_events.read_cursor(con).last_event_id == server.events[-1]["id"]
    assert clever_events.read_cursor(con).last_full_sync_at == cursor.last_full_sync_at
    create_staging_views(con, "clever")
    rows = dict(con.execute(
        "select user_source_id, (last_name, is_deleted) from staging.stg_clever__users "
        "where user_source_id in (?, ?, ?)",
        [STUDENT, changed["deleted"], changed["created"]]).fetchall())
    assert rows[STUDENT] == ("Renamed", False)
    assert rows[changed["deleted"]][1] is True and rows[changed["created"]][1] is False
    assert scalar(con, "select count(*) from staging.stg_clever__enrollments "
                       "where section_source_id = ? and user_source_id = ?",
                  [changed["section"], changed["removed"]]) == 0


def test_replaying_events_is_idempotent(con, server) -> None:
    fetch(con, server, "run-1")
    cursor = clever_events.read_cursor(con)
    emit_changes(server)
    fetch(con, server, "run-2")
    after_once = raw_state(con)
    clever_events.save_cursor(con, "rewind", cursor.last_event_id,
                              full_sync_at=cursor.last_full_sync_at)
    again = fetch(con, server, "run-3")
    assert again.mode == "delta" and again.complete
    assert raw_state(con) == after_once


def test_rejected_cursor_falls_back_to_a_full_sync(con, server) -> None:
    server.emit("districts.updated", server.collections["districts"][0])
    fetch(con, server, "run-1")
    server.expire_events()
    server.emit("users.updated", user(server, STUDENT))
    result = fetch(con, server, "run-2")
    assert result.complete and result.mode == "bulk"
    assert server.requests[("users", 1)] == 2
    assert clever_events.read_cursor(con).last_event_id == server.events[-1]["id"]


@pytest.mark.parametrize(("cursor_age_days", "full_every", "mode"), [
    (31, 30, "bulk"),   # older than Clever's 30-day event retention
    (8, 7, "bulk"),     # the weekly full sync is due
    (8, 10, "delta"),   # not due yet
])
def test_full_sync_when_cursor_expired_or_weekly_sync_due(con, server, cursor_age_days,
                                                          full_every, mode) -> None:
    server.emit("districts.updated", server.collections["districts"][0])
    fetch(con, server, "run-1")
    cursor = clever_events.read_cursor(con)
    then = cursor.cursor_at - timedelta(days=cursor_age_days)
    clever_events.save_cursor(con, "run-1", cursor.last_event_id, full_sync_at=then, now=then)
    result = fetch(con, server, "run-2", full_sync_every_days=full_every)
    assert result.complete and result.mode == mode
    assert server.requests[("users", 1)] == (2 if mode == "bulk" else 1)
    if mode == "bulk":
        assert clever_events.read_cursor(con).last_full_sync_at > then


def test_failed_events_page_applies_nothing_and_keeps_the_cursor(con, server) -> None:
    fetch(con, server, "run-1")
    cursor = clever_events.read_cursor(con)
    before = raw_state(con)
    updated = user(server, STUDENT)
    for n in range(600):
        updated["name"]["last"] = f"Name{n}"
        server.emit("users.updated", copy.deepcopy(updated))
    server.faults.server_errors[("events", 2)] = 99
    result = fetch(con, server, "run-2")
    assert not result.complete and result.mode == "delta"
    assert [p.location for p in result.problems] == ["clever events page 2"]
    assert raw_state(con) == before
    assert scalar(con, "select count(*) from raw.clever_events") == 0
    assert clever_events.read_cursor(con) == cursor
    server.faults.server_errors.clear()
    retried = fetch(con, server, "run-3")
    assert retried.complete and retried.row_counts["users"] == 1
    assert scalar(con, "select data ->> '$.name.last' from raw.clever_users where id = ?",
                  [STUDENT]) == "Name599"


def test_paused_district_resets_the_cursor(con) -> None:
    with CleverServer() as server:
        fetch(con, server, "run-1")
    assert clever_events.read_cursor(con) is not None
    with CleverServer(district_state="paused") as paused:
        result = fetch(con, paused, "run-2")
    assert result.provider_state == "paused"
    assert clever_events.read_cursor(con) is None
