"""The console's audit log: who did what, when, in which district (``audit`` in the console's
SQLite file).

Every approve, discard, alert decision, upload, test import and sync a user starts is one row,
written in the transaction that records its launch (so before its worker starts); the launch
row carries
the Dagster run id and how it ended. A run's page shows the rows that name it: as the plan
(``plan_id``), as the run they refer to (``run_id``), or as the run they launched. E-mail
addresses of console users appear here and on the pages, never in the console's logs.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from rostersync_pipeline.console import store

APPROVE = "approve"
DISCARD = "discard"
DECIDE_MATCH = "decide_match"
DECIDE_CREATE = "decide_create"
UPLOAD = "upload"
TEST_IMPORT = "test_import"
SYNC = "sync"

SELECT = """
select a.audit_id, a.at, a.actor, a.district_id, a.action, a.plan_id, a.run_id, a.source_id,
    a.detail, a.launch_id, l.dagster_run_id, l.state, l.run_status, l.failure
from audit as a left join launches as l using (launch_id)
"""


@dataclass(frozen=True)
class AuditEntry:
    audit_id: int
    at: str
    actor: str
    district_id: str
    action: str
    plan_id: str | None
    run_id: str | None
    source_id: str | None
    detail: str | None
    launch_id: int | None
    dagster_run_id: str | None
    state: str | None
    run_status: str | None
    failure: str | None


@dataclass(frozen=True)
class Action:
    """What a user asked for, to be recorded with the launch it starts."""

    action: str
    plan_id: str | None = None
    run_id: str | None = None
    source_id: str | None = None
    detail: str | None = None


def insert(con: sqlite3.Connection, *, actor: str, district_id: str, action: Action,
           launch_id: int | None = None) -> int:
    """Write one entry inside the caller's transaction (the one that records the launch)."""
    cursor = con.execute(
        "insert into audit (actor, district_id, action, plan_id, run_id, source_id, detail, "
        "launch_id) values (?, ?, ?, ?, ?, ?, ?, ?)",
        [actor, district_id, action.action, action.plan_id, action.run_id, action.source_id,
         action.detail, launch_id])
    return int(cursor.lastrowid)


def _entries(db: Path, where: str, params: list) -> list[AuditEntry]:
    with store.connect(db) as con:
        rows = con.execute(f"{SELECT} where {where} order by a.audit_id desc limit 200",
                           params).fetchall()
    return [AuditEntry(*row) for row in rows]


def for_district(db: Path, district_id: str) -> list[AuditEntry]:
    """The district's latest 200 entries, newest first."""
    return _entries(db, "a.district_id = ?", [district_id])


def for_run(db: Path, district_id: str, run_id: str) -> list[AuditEntry]:
    """Entries that name the run: as plan, as the run referred to, or as the run launched."""
    return _entries(db, "a.district_id = ? and (a.plan_id = ? or a.run_id = ? or "
                        "l.dagster_run_id = ?)", [district_id, run_id, run_id, run_id])


def for_source(db: Path, district_id: str, source_ids: list[str]) -> dict[str, AuditEntry]:
    """The latest decision entry per incoming source id (for the alerts page)."""
    if not source_ids:
        return {}
    marks = ", ".join("?" for _ in source_ids)
    entries = _entries(db, f"a.district_id = ? and a.action in (?, ?) and a.source_id in "
                           f"({marks})", [district_id, DECIDE_MATCH, DECIDE_CREATE, *source_ids])
    latest: dict[str, AuditEntry] = {}
    for entry in entries:
        latest.setdefault(entry.source_id or "", entry)
    return latest
