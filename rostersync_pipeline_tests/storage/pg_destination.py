"""Helpers for the PostgreSQL destination tests: a district whose roster lives in a fresh
database of the session's real PostgreSQL server, and comparisons of rosters across districts.

Run ids differ between two districts synced from the same nights, so comparisons map each
district's run ids to the night they belong to (``night_ids``) before comparing rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg2

from rostersync_pipeline.lib.storage.destinations.interface import ENTITY_TABLES
from rostersync_pipeline.lib.storage.destinations.transfer import (
    duckdb_columns,
    duckdb_to_postgres,
    scratch_dir,
)
from rostersync_pipeline.lib.storage.warehouse import district_connection
from rostersync_pipeline_tests.helpers import District, make_district

DSN_ENV = "ROSTERSYNC_TEST_DESTINATION_DSN"
SCHEMA = "rostersync"
RUN_ID_COLUMNS = ("created_run_id", "updated_run_id", "valid_from_run", "valid_to_run", "run_id")
TIME_COLUMNS = ("valid_from", "valid_to", "applied_at")
ROSTERSYNC_TABLES = (*ENTITY_TABLES, *(f"{t}_history" for t in ENTITY_TABLES), "change_log",
                     "change_feed", "applied_runs", "webhook_deliveries", "district",
                     "schema_migrations")


def new_database(server) -> Any:
    """A fresh, empty database on the session's server (one per test)."""
    return server.create_database(f"t_{uuid.uuid4().hex[:16]}")


def postgres_district(tmp_path: Path, bundle: Path, district_id: str = "district-a",
                      schema: str = SCHEMA, **overrides: Any) -> District:
    destination = {"type": "postgres", "dsn_env": DSN_ENV, "schema": schema,
                   **overrides.pop("destination", {})}
    return make_district(tmp_path, bundle, district_id, destination=destination, **overrides)


@contextmanager
def pg_cursor(server) -> Iterator[Any]:
    conn = psycopg2.connect(**server.connect_kwargs())
    try:
        with conn, conn.cursor() as cursor:
            yield cursor
    finally:
        conn.close()


def pg_query(server, statement: str, params: Sequence[Any] | dict | None = None) -> list[tuple]:
    with pg_cursor(server) as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def pg_snapshot(server, schema: str = SCHEMA) -> dict[str, list[tuple]]:
    """Every row of every rostersync table of the destination, in a stable order."""
    with pg_cursor(server) as cursor:
        found = {}
        for table in ROSTERSYNC_TABLES:
            cursor.execute(f"select * from {schema}.{table}")
            found[table] = sorted(cursor.fetchall(), key=repr)
        return found


def _columns_of(cursor_description) -> list[str]:
    return [d[0] for d in cursor_description]


def comparable(rows: list[tuple], columns: list[str], night_of: dict[str, str]) -> list[tuple]:
    """Rows with run ids replaced by their night and timestamps left out, sorted."""
    kept = [i for i, c in enumerate(columns) if c not in TIME_COLUMNS and c != "feed_id"]
    out = []
    for row in rows:
        values = []
        for i in kept:
            value = row[i]
            if columns[i] in RUN_ID_COLUMNS and value is not None:
                value = night_of.get(value, value)
            values.append(tuple(value) if isinstance(value, list) else value)
        out.append(tuple(values))
    return sorted(out, key=repr)


def postgres_tables(server, tables: Sequence[str], night_of: dict[str, str],
                    columns: dict[str, list[str]], schema: str = SCHEMA) -> dict[str, list]:
    """The destination's ``tables`` (only the given columns, as the DuckDB roster has them)."""
    with pg_cursor(server) as cursor:
        found = {}
        for table in tables:
            names = ", ".join(f'"{c}"' for c in columns[table])
            cursor.execute(f"select {names} from {schema}.{table}")
            found[table] = comparable(cursor.fetchall(), columns[table], night_of)
        return found


def duckdb_tables(district: District, tables: Sequence[str], night_of: dict[str, str]
                  ) -> tuple[dict[str, list], dict[str, list[str]]]:
    """A district's DuckDB ``roster.<table>`` rows, comparable, and each table's columns."""
    with district_connection(district.warehouse_dir, district.district_id) as con:
        found, columns = {}, {}
        for table in tables:
            cursor = con.execute(f"select * from roster.{table}")
            columns[table] = _columns_of(cursor.description)
            found[table] = comparable(cursor.fetchall(), columns[table], night_of)
        return found, columns


def push_roster_to_postgres(district: District, server, schema: str = SCHEMA) -> None:
    """The district's DuckDB roster (e.g. seeded with the demo's app roster) as the app's
    existing roster in the destination, before the first sync."""
    from psycopg2 import sql

    from rostersync_pipeline.lib.storage.destinations.migrate import migrate

    conn = psycopg2.connect(**server.connect_kwargs())
    try:
        migrate(conn, schema)
        with district_connection(district.warehouse_dir, district.district_id) as con, \
                scratch_dir(district.warehouse_dir / "scratch") as scratch, conn, \
                conn.cursor() as cursor:
            for table in ENTITY_TABLES:
                columns = duckdb_columns(con, f"roster.{table}")
                duckdb_to_postgres(con, f"select * from roster.{table}", columns, cursor,
                                   sql.Identifier(schema, table), scratch)
    finally:
        conn.close()
