"""Rows between the district's DuckDB file and its PostgreSQL destination, in bulk.

- :func:`stage_plan`: the run's plan (its change rows only) into ``pg_temp`` tables, inside
  the apply transaction;
- :func:`mirror_roster`: the destination's roster into the DuckDB ``roster.*`` mirror from one
  consistent snapshot, with the destination's cursor, and the runs it applied that the district
  file does not record yet (see :mod:`~.postgres`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import duckdb
from psycopg2 import sql

from rostersync_pipeline.lib.apply.plan_tables import PlanTables
from rostersync_pipeline.lib.storage.destinations import postgres_sql as q
from rostersync_pipeline.lib.storage.destinations.interface import ENTITY_TABLES, AppliedRun
from rostersync_pipeline.lib.storage.destinations.transfer import (
    duckdb_to_postgres,
    pg_type,
    postgres_to_duckdb,
    scratch_dir,
)
from rostersync_pipeline.lib.storage.warehouse import duckdb_columns, transaction

PLAN_TEMP_TABLES = (*(f"plan_{table}" for table in ENTITY_TABLES), "sync_plan")
UNRECORDED_SQL = """select run_id, kind, changes, feed_after, feed_until, applied_at, plan_id,
        summary
    from {s}.applied_runs where applied_seq > %s order by applied_seq"""


def _plan_columns(con: duckdb.DuckDBPyConnection, name: str, table: str) -> list[tuple[str, str]]:
    """(name, DuckDB type) of the columns of plan table ``name`` the statements read."""
    cursor = con.execute(f"select {', '.join(q.PLAN_COLUMNS[name])} from {table} limit 0")
    return [(d[0], str(d[1])) for d in cursor.description]


def stage_plan(con: duckdb.DuckDBPyConnection, cursor, tables: PlanTables, scratch: Path) -> None:
    """The plan's change rows into ``pg_temp.plan_*`` / ``pg_temp.sync_plan`` (COPY), analyzed
    so that the set statements are planned on their real sizes."""
    for name in PLAN_TEMP_TABLES:
        columns = _plan_columns(con, name, tables[name])
        cursor.execute(sql.SQL("create temp table {} ({}) on commit drop").format(
            sql.Identifier(name), sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(pg_type(t)))
                for c, t in columns)))
        where = "" if name == "sync_plan" else f" where action in {q.PLAN_ACTIONS}"
        duckdb_to_postgres(con, f"select {', '.join(q.PLAN_COLUMNS[name])} "
                           f"from {tables[name]}{where}", columns, cursor,
                           sql.SQL("pg_temp.") + sql.Identifier(name), scratch)
        cursor.execute(sql.SQL("analyze pg_temp.{}").format(sql.Identifier(name)))


def select_columns(schema: str, table: str, columns: list[tuple[str, str]]) -> sql.Composed:
    """``select`` of ``columns`` from a destination table, lists as JSON text."""
    return sql.SQL("select {} from {}.{}").format(
        sql.SQL(", ").join(
            sql.SQL("to_json({})::text").format(sql.Identifier(c)) if t.endswith("[]")
            else sql.Identifier(c) for c, t in columns),
        sql.Identifier(schema), sql.Identifier(table))


def unrecorded_runs(con: duckdb.DuckDBPyConnection, cursor, schema: str, label: str
                    ) -> list[AppliedRun]:
    """Runs the destination applied after the mirror's cursor that ``sync.runs`` lacks."""
    mirrored = con.execute(q.MIRROR_CURSOR_DUCKDB).fetchall()
    if not mirrored or mirrored[0][0] != label:
        return []
    cursor.execute(q.statement(UNRECORDED_SQL, schema), [mirrored[0][1]])
    runs = [AppliedRun(*row) for row in cursor.fetchall()]
    if not runs:
        return []
    recorded = {r for (r,) in con.execute(
        "select run_id from sync.runs where run_id in ?", [[r.run_id for r in runs]]).fetchall()}
    return [r for r in runs if r.run_id not in recorded]


def mirror_roster(
    con: duckdb.DuckDBPyConnection,
    conn,
    schema: str,
    label: str,
    scratch_parent: Path | str | None,
    change_log_runs: list[str],
    then: Callable[[], None] | None = None,
) -> list[AppliedRun]:
    """Replace the DuckDB mirror from one snapshot of the destination, with the change-log rows
    of ``change_log_runs`` and of the unrecorded runs (returned); ``then`` runs in the same
    DuckDB transaction."""
    started = time.perf_counter()
    conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
    try:
        with conn, conn.cursor() as cursor, scratch_dir(scratch_parent) as scratch:
            cursor.execute(q.statement(q.APPLIED_SEQ, schema))
            applied_seq = cursor.fetchone()[0]
            unrecorded = [r for r in unrecorded_runs(con, cursor, schema, label)
                          if r.run_id not in change_log_runs]
            runs = [*change_log_runs, *(r.run_id for r in unrecorded)]
            with transaction(con):
                rows = 0
                for table in ENTITY_TABLES:
                    columns = duckdb_columns(con, f"roster.{table}")
                    con.execute(f"delete from roster.{table}")
                    rows += postgres_to_duckdb(cursor, select_columns(schema, table, columns),
                                               columns, con, f"roster.{table}", scratch)
                if runs:
                    con.execute("delete from roster.change_log where run_id in ?", [runs])
                    columns = [(c, "TIMESTAMPTZ" if c == "applied_at" else t)
                               for c, t in duckdb_columns(con, "roster.change_log")]
                    select = select_columns(schema, "change_log", columns) + sql.SQL(
                        " where run_id = any({})").format(sql.Literal(runs))
                    postgres_to_duckdb(cursor, select, columns, con, "roster.change_log",
                                       scratch)
                con.execute("delete from sync.destination_mirror")
                con.execute("insert into sync.destination_mirror values "
                            "(?, ?, now()::timestamp, ?, ?)",
                            [label, applied_seq, rows, time.perf_counter() - started])
                if then is not None:
                    then()
    finally:
        conn.set_session(isolation_level="READ COMMITTED", readonly=False)
    return unrecorded
