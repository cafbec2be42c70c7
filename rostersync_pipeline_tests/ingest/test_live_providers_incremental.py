"""Incremental live syncs through the whole job (Clever events, OneRoster REST deltas), the raw
archive with its retention, and the audit rule that no token or secret is ever written: not to
the captured logs, the Dagster event log of the runs, the raw tables nor the archives."""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from rostersync_pipeline.lib.ingest.providers import RAW_TABLES
from rostersync_pipeline.lib.ingest.raw_archive import archived_runs
from rostersync_pipeline.runner import SyncOutcome, run_sync
from rostersync_pipeline_tests.fakes.clever_server import CleverServer
from rostersync_pipeline_tests.fakes.oneroster_server import OneRosterServer
from rostersync_pipeline_tests.helpers import District
from rostersync_pipeline_tests.ingest.test_live_providers_e2e import (
    CLEVER_TOKEN,
    OR_ID,
    OR_SECRET,
    active_ids,
    clever_source,
    make_live_district,
    oneroster_source,
    secrets_env,  # noqa: F401  (autouse fixture)
)

STUDENT = "5a25ffb0c1bc2a00360003ee"


def sync(district: District, instance: dg.DagsterInstance) -> SyncOutcome:
    outcome = run_sync(district.district_id, config_dir=district.config_dir,
                       warehouse_dir=district.warehouse_dir, instance=instance)
    assert outcome.success, outcome.failure
    return outcome


def written_text(district: District, instance: dg.DagsterInstance, run_ids: list[str]) -> str:
    """Everything the runs wrote that a person or a file could read."""
    parts = [dg.serialize_value(record) for run_id in run_ids
             for record in instance.all_logs(run_id)]
    with duckdb.connect(str(district.warehouse_dir / "districts" /
                            f"{district.district_id}.duckdb"), read_only=True) as con:
        for table in (*RAW_TABLES, "clever_event_cursor"):
            exists = con.execute("select count(*) from information_schema.tables where "
                                 "table_schema = 'raw' and table_name = ?", [table]).fetchall()
            if exists[0][0]:
                parts.append(str(con.execute(f"select * from raw.{table}").fetchall()))
        parts.append(str(con.execute("select * from config.run").fetchall()))
    for parquet in (district.warehouse_dir / "raw_archive").rglob("*.parquet"):
        parts.append(str(duckdb.sql("select * from read_parquet($p)",
                                    params={"p": str(parquet)}).fetchall()))
    for path in district.warehouse_dir.rglob("*"):
        if path.is_file() and path.suffix != ".duckdb":
            parts.append(path.read_bytes().decode("latin-1"))
    return "\n".join(parts)


def debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Capture our own and the HTTP stack's logs at DEBUG (requests, redacted URLs)."""
    for name in ("rostersync_pipeline", "urllib3", "requests", "dagster"):
        caplog.set_level(logging.DEBUG, logger=name)


def user(server: CleverServer, user_id: str) -> dict:
    return copy.deepcopy(next(u for u in server.collections["users"] if u["id"] == user_id))


def test_clever_events_sync_as_delta_with_archive_and_no_token_anywhere(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture) -> None:
    debug_logs(caplog)
    instance = dg.DagsterInstance.ephemeral()
    with CleverServer(token=CLEVER_TOKEN) as server:
        server.emit("districts.updated", server.collections["districts"][0])
        district = make_live_district(tmp_path, clever_source(
            server, events=True, raw_retention_runs=2))
        first = sync(district, instance)
        assert first.summary.fetch_mode == "bulk"
        before = active_ids(district)

        renamed = user(server, STUDENT)
        renamed["name"]["last"] = "Renamed"
        server.emit("users.updated", renamed, {"name": {"last": "Old"}})
        synced = district.users()
        gone = next(u["id"] for u in server.collections["users"]
                    if "student" in u["roles"] and u["id"] != STUDENT and u["id"] in synced)
        server.emit("users.deleted", user(server, gone))
        second = sync(district, instance)
        third = sync(district, instance)

    assert second.status == "applied" and second.summary.fetch_mode == "delta"
    assert second.summary.fetch_complete
    assert second.summary.counts["students"].get("update") == 1
    assert second.summary.counts["students"].get("deactivate") == 1
    assert "create" not in second.summary.counts["students"]
    users = district.users()
    assert users[STUDENT][4] == "Renamed" and users[STUDENT][1] == "active"
    assert users[gone][1] == "inactive"
    gone_app_id = users[gone][0]
    assert {r for r in before if r != ("user", gone_app_id)} <= active_ids(district)
    assert third.summary.fetch_mode == "delta"
    assert not any(a in actions for actions in third.summary.counts.values()
                   for a in ("create", "update", "deactivate"))

    kept = archived_runs(district.warehouse_dir, district.district_id)
    assert [p.name for p in kept] == [second.run_id, third.run_id]
    events = kept[0] / "clever_events.parquet"
    assert duckdb.sql("select count(*) from read_parquet($p)",
                      params={"p": str(events)}).fetchall()[0][0] == 2
    assert (kept[0] / "clever_users.parquet").exists()

    out, err = capfd.readouterr()
    assert "Renamed" in written_text(district, instance, [second.run_id])  # the search works
    text = written_text(district, instance, [first.run_id, second.run_id, third.run_id])
    for where in (caplog.text, out, err, text):
        assert CLEVER_TOKEN not in where


def test_oneroster_delta_uses_last_good_run_start_and_keeps_secrets_out(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture) -> None:
    debug_logs(caplog)
    instance = dg.DagsterInstance.ephemeral()
    with OneRosterServer("1.2", client_id=OR_ID, client_secret=OR_SECRET) as server:
        district = make_live_district(tmp_path, oneroster_source(server, delta=True))
        first = sync(district, instance)
        assert first.summary.fetch_mode == "bulk" and server.filters_seen == []
        started = district.scalar("select strftime(timezone('UTC', started_at::timestamptz), "
                                  "'%Y-%m-%dT%H:%M:%SZ') from sync.runs where run_id = ?",
                                  [first.run_id])
        before = active_ids(district)
        synced = district.users()
        students = [p for p in server.collections["users"]
                    if p["roles"][0]["role"] == "student" and p["sourcedId"] in synced]
        changed, dropped = students[0], students[1]
        changed.update(familyName="Renamed", dateLastModified="2099-01-01T00:00:00.000Z")
        dropped.update(status="tobedeleted", dateLastModified="2099-01-01T00:00:00.000Z")
        second = sync(district, instance)
        tokens = set(server.tokens)

    assert set(server.filters_seen) == {f"dateLastModified>'{started}'"}
    assert second.status == "applied" and second.summary.fetch_mode == "delta"
    assert second.summary.counts["students"] == {"update": 1, "deactivate": 1}
    users = district.users()
    assert users[changed["sourcedId"]][4] == "Renamed"
    assert users[dropped["sourcedId"]][1] == "inactive"
    assert before - active_ids(district) == {("user", users[dropped["sourcedId"]][0])}

    out, err = capfd.readouterr()
    text = written_text(district, instance, [first.run_id, second.run_id])
    assert tokens
    for secret in (OR_SECRET, *tokens):
        for where in (caplog.text, out, err, text):
            assert secret not in where
