"""A PostgreSQL destination: the roster in a schema of the app's own database.

The destination is the source of truth. The district's DuckDB ``roster.schools|terms|courses|
users|user_schools|guardian_relationships|sections|enrollments`` are its mirror:
:meth:`PostgresDestination.mirror_into` replaces them from one consistent snapshot
(``REPEATABLE READ``) at the start of every sync run and review job, and records the
destination's cursor (the last ``applied_runs.applied_seq``) in ``sync.destination_mirror``.
The SQL models match and plan against the mirror.

Apply, in order (docs/destinations.md, "Crash safety"):

1. one PostgreSQL transaction: an advisory lock for the district (two deployments never write
   one destination at once); refuse if the cursor moved since the mirror was read (never apply
   from a stale mirror); ``COPY`` the plan rows into temp tables; the set statements of
   :mod:`~.postgres_sql` (upsert, deactivate, history, ``change_log``, ``change_feed``); the
   run's ``applied_runs`` row (with its summary) and its webhook outbox row; commit;
2. one DuckDB transaction (:func:`record_locally`): the same changes to the mirror, the run's
   ``roster.change_log`` rows, the new cursor, and the run record the caller writes.

A crash in 1 leaves the destination as it was (PostgreSQL rolls back a dropped connection); the
next run plans again. A crash between 1 and 2 leaves a run the destination applied and the
district file does not record: the next :meth:`~PostgresDestination.mirror_into` finds it
(``applied_seq`` above the mirror's cursor, no ``sync.runs`` row), copies its change-log rows,
re-mirrors, and hands it back for recording (:mod:`rostersync_pipeline.lib.apply.refresh`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import duckdb
import psycopg2
from psycopg2 import sql

from rostersync_pipeline.lib.apply import apply_plan
from rostersync_pipeline.lib.apply.history import run_moment
from rostersync_pipeline.lib.apply.plan_tables import PlanTables
from rostersync_pipeline.lib.apply.restore import SYNCED_COLUMNS
from rostersync_pipeline.lib.report.run_record import RunSummary
from rostersync_pipeline.lib.storage.destinations import postgres_sql as q
from rostersync_pipeline.lib.storage.destinations.bulk_load import defer_secondary_objects
from rostersync_pipeline.lib.storage.destinations.interface import (
    ENTITY_TABLES,
    AppliedRun,
    Counts,
    DestinationRefused,
    RecordApplied,
    summary_to_dict,
)
from rostersync_pipeline.lib.storage.destinations.migrate import migrate
from rostersync_pipeline.lib.storage.destinations.postgres_transfer import (
    mirror_roster,
    stage_plan,
)
from rostersync_pipeline.lib.storage.destinations.settings import PostgresDestinationSettings
from rostersync_pipeline.lib.storage.destinations.transfer import (
    aware,
    local_time,
    scratch_dir,
)
from rostersync_pipeline.lib.storage.destinations.webhook import (
    DeliveryOutcome,
    deliver,
    redacted,
    webhook_body,
)
from rostersync_pipeline.lib.storage.warehouse import duckdb_columns, transaction

LOCK_POLL_S = 0.25

FINGERPRINT_SQL = ("select count(*) || ':' || coalesce(bit_xor(hash(p)), 0)::ubigint "
                   "from {sync_plan} as p")
LOCAL_CHANGE_LOG_SQL = """insert into roster.change_log
    select $run_id, entity, app_id, action, changed_fields, $applied_at from {sync_plan}"""


def _started(con: duckdb.DuckDBPyConnection, summary: RunSummary) -> RunSummary:
    """The summary with its start time filled in (a sync run's comes from ``config.run`` when
    its record is written; the copy kept in the destination needs it now)."""
    if summary.started_at is not None:
        return summary
    found = con.execute("select started_at from config.run").fetchall()
    return dataclasses.replace(summary, started_at=found[0][0] if found else None)


def _expected_rows(cursor) -> dict[str, int]:
    """Rows the staged plan will insert per destination table (for :mod:`~.bulk_load`)."""
    expected = {}
    for table in ENTITY_TABLES:
        cursor.execute(sql.SQL("select count(*) filter (where action = 'create'), count(*) "
                               "filter (where action = any(%s)) from pg_temp.{}").format(
            sql.Identifier(f"plan_{table}")), [list(q.WRITTEN_ACTIONS[table])])
        expected[table], expected[f"{table}_history"] = cursor.fetchone()
    cursor.execute("select count(*) from pg_temp.sync_plan")
    expected["change_log"] = expected["change_feed"] = cursor.fetchone()[0]
    return expected


def apply_schools(cursor, schema: str, run_id: str) -> None:
    _run(cursor, q.SCHOOL_STEPS, schema, run_id)


def apply_terms(cursor, schema: str, run_id: str) -> None:
    _run(cursor, q.TERM_STEPS, schema, run_id)


def apply_courses(cursor, schema: str, run_id: str) -> None:
    _run(cursor, q.COURSE_STEPS, schema, run_id)


def apply_users(cursor, schema: str, run_id: str) -> None:
    _run(cursor, q.USER_STEPS, schema, run_id)


def apply_user_schools(cursor, schema: str, run_id: str) -> None:
    _run(cursor, q.USER_SCHOOL_STEPS, schema, run_id)


def apply_guardian_relationships(cursor, schema: str, run_id: str) -> None:
    _run(cursor, q.GUARDIAN_RELATIONSHIP_STEPS, schema, run_id)


def apply_sections(cursor, schema: str, run_id: str) -> None:
    _run(cursor, q.SECTION_STEPS, schema, run_id)


def apply_enrollments(cursor, schema: str, run_id: str) -> None:
    _run(cursor, q.ENROLLMENT_STEPS, schema, run_id)


def _run(cursor, steps: tuple[str, ...], schema: str, run_id: str) -> None:
    for step in steps:
        cursor.execute(q.statement(step, schema), {"run_id": run_id})


def baseline_history(cursor, schema: str, columns: dict[str, list[str]]) -> None:
    for table in ENTITY_TABLES:
        cursor.execute(q.statement(q.BASELINE, schema, table=table, history=f"{table}_history",
                                   columns=q.column_list(columns[table])))


def record_history(cursor, schema: str, run_id: str, columns: dict[str, list[str]],
                   changed: dict[str, str], *, plan: bool) -> None:
    """Close the current version of every record the run wrote and open its new one.

    ``changed`` names, per table, the temp table of the app ids written: a plan table (only
    the rows of actions that write: ``plan``) or a restore table (every row)."""
    for table in ENTITY_TABLES:
        written = (sql.SQL("c.action = any({})").format(sql.Literal(list(q.WRITTEN_ACTIONS[table])))
                   if plan else sql.SQL("true"))
        names = {"table": table, "history": f"{table}_history", "changed": changed[table],
                 "columns": q.column_list(columns[table]), "written": written,
                 "r_columns": q.column_list(columns[table], "r.")}
        cursor.execute(q.statement(q.CLOSE, schema, **names), {"run_id": run_id})
        cursor.execute(q.statement(q.OPEN, schema, **names), {"run_id": run_id})


def record_locally(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    tables: PlanTables,
    applied: AppliedRun,
    applied_seq: int,
    record: RecordApplied,
) -> None:
    """After the destination committed: the same changes to the mirror, the run's change-log
    rows, the new cursor and the caller's run record, in one DuckDB transaction."""
    with transaction(con):
        apply_plan.apply_roster_steps(con, run_id, tables)
        con.execute(LOCAL_CHANGE_LOG_SQL.format(**tables),
                    {"run_id": run_id, "applied_at": local_time(applied.applied_at)})
        con.execute("update sync.destination_mirror set applied_seq = ?", [applied_seq])
        record(applied.changes)


class PostgresDestination:
    """A schema of the app's PostgreSQL database, owned and migrated by rostersync."""

    def __init__(self, settings: PostgresDestinationSettings, district_id: str,
                 scratch_parent: Path | str | None = None) -> None:
        self.settings = settings
        self.schema = settings.schema
        self.district_id = district_id
        self.scratch_parent = scratch_parent
        self.label = f"postgres:{self.schema}"

    @contextmanager
    def connect(self) -> Iterator[psycopg2.extensions.connection]:
        """A connection to the destination database (DSN from ``dsn_env``, read now)."""
        dsn = os.environ.get(self.settings.dsn_env)
        if not dsn:
            raise DestinationRefused(f"environment variable {self.settings.dsn_env} "
                                     "(destination.dsn_env) is not set")
        try:
            conn = psycopg2.connect(dsn, application_name=f"rostersync {self.district_id}",
                                    connect_timeout=10)
        except psycopg2.OperationalError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DestinationRefused(f"cannot connect to the destination database "
                                     f"({self.settings.dsn_env}): {reason}") from exc
        try:
            with conn.cursor() as cursor:
                cursor.execute("select current_database()")
                self.label = f"postgres:{cursor.fetchone()[0]}/{self.schema}"
            conn.commit()
            yield conn
        finally:
            conn.close()

    def _sql(self, template: str, **names: str | sql.Composable) -> sql.Composed:
        return q.statement(template, self.schema, **names)

    def ensure_schema(self) -> None:
        with self.connect() as conn:
            self._ensure(conn)

    def _ensure(self, conn) -> None:
        migrate(conn, self.schema)
        with conn, conn.cursor() as cursor:
            cursor.execute(self._sql(q.CLAIM), {"district_id": self.district_id})
            cursor.execute(self._sql("select district_id from {s}.district"))
            owner = cursor.fetchone()[0]
        if owner != self.district_id:
            raise DestinationRefused(
                f"schema {self.schema} of the destination database holds the roster of "
                f"district {owner!r}, not {self.district_id!r}: give each district its own "
                "destination schema (destination.schema)")

    def _lock(self, cursor) -> None:
        deadline = time.monotonic() + self.settings.lock_wait_s
        key = f"rostersync/apply/{self.district_id}"
        while True:
            cursor.execute("select pg_try_advisory_xact_lock(hashtextextended(%s, 0))", [key])
            if cursor.fetchone()[0]:
                return
            if time.monotonic() >= deadline:
                raise DestinationRefused(
                    f"another rostersync process is applying to {self.label} (advisory lock "
                    f"{key!r} held for more than {self.settings.lock_wait_s:g} s): nothing "
                    "applied; the next run plans again")
            time.sleep(LOCK_POLL_S)

    def _check_cursor(self, con: duckdb.DuckDBPyConnection, cursor) -> None:
        mirrored = con.execute(q.MIRROR_CURSOR_DUCKDB).fetchall()
        cursor.execute(self._sql(q.APPLIED_SEQ))
        current = cursor.fetchone()[0]
        if not mirrored or mirrored[0][0] != self.label or mirrored[0][1] != current:
            seen = f"cursor {mirrored[0][1]} of {mirrored[0][0]}" if mirrored else "nothing"
            raise DestinationRefused(
                f"{self.label} changed since this run read it (it is at applied run "
                f"{current}, the mirror holds {seen}): nothing applied, so no change is made "
                "from a stale roster; the next run reads the destination again")

    def _columns(self, con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
        return {t: [name for name, _ in duckdb_columns(con, f"roster.{t}")] for t in ENTITY_TABLES}

    def _finish(self, cursor, run_id: str, kind: str, plan_id: str | None, fingerprint: str,
                changes: int, feed_after: int, summary: RunSummary) -> tuple[AppliedRun, int]:
        """The applied run's row and its webhook outbox row, after its feed rows."""
        cursor.execute(self._sql(q.LAST_FEED_ID))
        feed_until = cursor.fetchone()[0]
        kept = summary_to_dict(summary)
        cursor.execute(self._sql(q.APPLIED_RUN), {
            "run_id": run_id, "kind": kind, "plan_id": plan_id, "fingerprint": fingerprint,
            "changes": changes, "feed_after": feed_after, "feed_until": feed_until,
            "summary": json.dumps(kept, default=str)})
        applied_seq, applied_at = cursor.fetchone()
        webhook = self.settings.webhook
        if webhook is not None:
            body = webhook_body(self.district_id, run_id, summary.status.value, summary.counts,
                                feed_after, feed_until)
            cursor.execute(self._sql(q.OUTBOX), {"run_id": run_id,
                                                 "url": redacted(webhook.url), "body": body})
        return AppliedRun(run_id, kind, changes, feed_after, feed_until, applied_at, plan_id,
                          kept), applied_seq

    def _already_applied(self, cursor, run_id: str) -> None:
        cursor.execute(self._sql("select applied_seq from {s}.applied_runs where run_id = %s"),
                       [run_id])
        if cursor.fetchone() is not None:
            raise DestinationRefused(
                f"run {run_id} is already applied to {self.label}; its record is written by "
                "the next run (see sync.runs)")

    def apply(
        self,
        con: duckdb.DuckDBPyConnection,
        run_id: str,
        tables: PlanTables | None,
        record: RecordApplied,
        *,
        summary: RunSummary,
        kind: str = "sync",
        plan_id: str | None = None,
    ) -> AppliedRun | None:
        if tables is None:
            with transaction(con):
                record(0)
            return None
        fingerprint = con.execute(FINGERPRINT_SQL.format(**tables)).fetchall()[0][0]
        columns = self._columns(con)
        with self.connect() as conn, scratch_dir(self.scratch_parent) as scratch:
            with conn, conn.cursor() as cursor:
                self._lock(cursor)
                self._already_applied(cursor, run_id)
                self._check_cursor(con, cursor)
                stage_plan(con, cursor, tables, scratch)
                cursor.execute(self._sql(q.LAST_FEED_ID))
                feed_after = cursor.fetchone()[0]
                rebuild = defer_secondary_objects(cursor, self.schema, _expected_rows(cursor))
                baseline_history(cursor, self.schema, columns)
                apply_schools(cursor, self.schema, run_id)
                apply_terms(cursor, self.schema, run_id)
                apply_courses(cursor, self.schema, run_id)
                apply_users(cursor, self.schema, run_id)
                apply_user_schools(cursor, self.schema, run_id)
                apply_guardian_relationships(cursor, self.schema, run_id)
                apply_sections(cursor, self.schema, run_id)
                apply_enrollments(cursor, self.schema, run_id)
                record_history(cursor, self.schema, run_id, columns,
                               {t: f"plan_{t}" for t in ENTITY_TABLES}, plan=True)
                cursor.execute(self._sql(q.CHANGE_LOG), {"run_id": run_id})
                changes = cursor.rowcount
                cursor.execute(self._sql(q.FEED), {"run_id": run_id})
                for statement in rebuild:
                    cursor.execute(statement)
                applied, applied_seq = self._finish(cursor, run_id, kind, plan_id, fingerprint,
                                                    changes, feed_after, _started(con, summary))
        record_locally(con, run_id, tables, applied, applied_seq, record)
        return applied

    def _restore_moment(self, con: duckdb.DuckDBPyConnection, cursor, to_run_id: str) -> datetime:
        """When ``to_run_id`` left the roster: its ``applied_at`` in the destination (the moment
        its versions start), else (a run that applied nothing) its ``sync.runs.finished_at``."""
        cursor.execute(self._sql("select applied_at from {s}.applied_runs where run_id = %s"),
                       [to_run_id])
        found = cursor.fetchone()
        return found[0] if found else aware(run_moment(con, to_run_id, "finished_at"))

    def restore(
        self,
        con: duckdb.DuckDBPyConnection,
        run_id: str,
        to_run_id: str,
        summarize: Callable[[Counts, object], RunSummary],
        record: Callable[[RunSummary], None],
    ) -> tuple[Counts, AppliedRun]:
        columns = self._columns(con)
        counts: Counts = {}
        with self.connect() as conn:
            with conn, conn.cursor() as cursor:
                self._lock(cursor)
                self._already_applied(cursor, run_id)
                self._check_cursor(con, cursor)
                at = self._restore_moment(con, cursor, to_run_id)
                cursor.execute(self._sql(q.LAST_FEED_ID))
                feed_after = cursor.fetchone()[0]
                baseline_history(cursor, self.schema, columns)
                changes = 0
                for table in SYNCED_COLUMNS:
                    names = {"table": table, "history": f"{table}_history",
                             "restore": f"restore_{table}", **q.restore_fragments(table)}
                    cursor.execute(self._sql(q.RESTORE_TARGET, **names), {"at": at})
                    cursor.execute(sql.SQL("analyze pg_temp.{}").format(
                        sql.Identifier(f"restore_{table}")))
                    cursor.execute(sql.SQL("select entity, action, count(*) from {} group by 1, 2")
                                   .format(sql.Identifier(f"restore_{table}")))
                    for entity, action, n in cursor.fetchall():
                        counts.setdefault(entity, {})[action] = n
                    cursor.execute(self._sql(q.RESTORE_UPDATE, **names), {"run_id": run_id})
                    cursor.execute(self._sql(q.RESTORE_CHANGE_LOG, **names), {"run_id": run_id})
                    changes += cursor.rowcount
                record_history(cursor, self.schema, run_id, columns,
                               {t: f"restore_{t}" for t in ENTITY_TABLES}, plan=False)
                cursor.execute(self._sql(q.FEED), {"run_id": run_id})
                summary = summarize(counts, local_time(at))
                applied, _ = self._finish(cursor, run_id, "restore", None, "restore", changes,
                                          feed_after, summary)
            mirror_roster(con, conn, self.schema, self.label, self.scratch_parent, [run_id],
                          then=lambda: record(summary))
        return counts, applied

    def mirror_into(self, con: duckdb.DuckDBPyConnection) -> list[AppliedRun]:
        with self.connect() as conn:
            self._ensure(conn)
            return mirror_roster(con, conn, self.schema, self.label, self.scratch_parent, [])

    def as_of(self, con: duckdb.DuckDBPyConnection, table: str, at: datetime) -> list[dict]:
        if table not in ENTITY_TABLES:
            raise ValueError(f"table must be one of {', '.join(ENTITY_TABLES)}, not {table!r}")
        columns = [name for name, _ in duckdb_columns(con, f"roster.{table}_history")]
        with self.connect() as conn, conn, conn.cursor() as cursor:
            cursor.execute(self._sql(q.VERSION_AT, history=f"{table}_history",
                                     columns=q.column_list(columns)), {"at": aware(at)})
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def publish_feed(self, con: duckdb.DuckDBPyConnection) -> list[DeliveryOutcome]:
        webhook = self.settings.webhook
        if webhook is None:
            return []
        outcomes = []
        with self.connect() as conn:
            with conn, conn.cursor() as cursor:
                cursor.execute(self._sql(q.UNDELIVERED))
                pending = cursor.fetchall()
            for run_id, body in pending:
                outcome = deliver(webhook.url, run_id, body, secret_env=webhook.secret_env,
                                  timeout_s=webhook.timeout_s, retries=webhook.retries,
                                  backoff_s=webhook.backoff_s)
                with conn, conn.cursor() as cursor:
                    cursor.execute(self._sql(q.DELIVERED), {
                        "run_id": run_id, "delivered": outcome.delivered,
                        "attempts": outcome.attempts, "status_code": outcome.status_code,
                        "error": outcome.error})
                outcomes.append(outcome)
        return outcomes
