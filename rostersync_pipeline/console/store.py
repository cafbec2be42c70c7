"""The console's own SQLite file, ``<warehouse>/console/console.sqlite`` (WAL): accounts, the
audit log and the runs the console launched. The district DuckDB files are never written here.

Tables:

- ``users``: ``email`` (lower-cased), ``password_hash`` (argon2id), ``session_version`` (bumped
  when the password or districts change: older sessions end), ``created_at``;
- ``user_districts``: ``email``, ``district_id``: the districts a user sees and acts on;
- ``audit``: one row per action a user took: ``at``, ``actor``, ``district_id``, ``action``,
  ``plan_id`` / ``run_id`` / ``source_id``, ``detail``, ``launch_id``;
- ``launches``: one row per Dagster run the console started: ``kind``, ``params`` (JSON),
  ``state`` (``queued`` -> ``running`` -> ``succeeded`` | ``failed``), ``dagster_run_id``,
  ``run_status`` (``sync.runs.status`` of a sync), ``stages`` (JSON: finished steps),
  ``failure``, ``pid``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA = """
create table if not exists users (
    email text primary key,
    password_hash text not null,
    session_version integer not null default 1,
    created_at text not null default (strftime('%Y-%m-%d %H:%M:%S', 'now'))
);
create table if not exists user_districts (
    email text not null references users (email) on delete cascade,
    district_id text not null,
    primary key (email, district_id)
);
create table if not exists launches (
    launch_id integer primary key autoincrement,
    district_id text not null,
    kind text not null,
    actor text not null,
    params text not null,
    state text not null,
    created_at text not null default (strftime('%Y-%m-%d %H:%M:%S', 'now')),
    finished_at text,
    dagster_run_id text,
    run_status text,
    stages text not null default '[]',
    failure text,
    pid integer
);
create index if not exists launches_by_district on launches (district_id, launch_id);
create table if not exists audit (
    audit_id integer primary key autoincrement,
    at text not null default (strftime('%Y-%m-%d %H:%M:%S', 'now')),
    actor text not null,
    district_id text not null,
    action text not null,
    plan_id text,
    run_id text,
    source_id text,
    detail text,
    launch_id integer references launches (launch_id)
);
create index if not exists audit_by_district on audit (district_id, audit_id);
"""


def console_db_path(warehouse_dir: Path | str) -> Path:
    return Path(warehouse_dir) / "console" / "console.sqlite"


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """A short connection to the console file (schema ensured); commits when the block ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        con.row_factory = sqlite3.Row
        con.execute("pragma journal_mode = wal")
        con.execute("pragma foreign_keys = on")
        con.execute("pragma busy_timeout = 30000")
        con.executescript(SCHEMA)
        con.execute("begin immediate")
        try:
            yield con
        except BaseException:
            con.execute("rollback")
            raise
        con.execute("commit")
    finally:
        con.close()
