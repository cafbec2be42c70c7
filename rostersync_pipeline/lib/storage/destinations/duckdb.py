"""The default destination: the ``roster`` schema of the district's own DuckDB file.

The roster is where the plan is, so there is nothing to mirror: apply, the run's history,
``roster.change_log``, ``roster.change_feed``, the webhook outbox row and the run record commit
in one DuckDB transaction (:mod:`rostersync_pipeline.lib.apply.apply_plan`), as they always did.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import duckdb

from rostersync_pipeline.lib.apply import apply_plan
from rostersync_pipeline.lib.apply.history import ENTITY_TABLES, VERSION_AT_SQL, run_moment
from rostersync_pipeline.lib.apply.plan_tables import PlanTables
from rostersync_pipeline.lib.apply.restore import restore_changes
from rostersync_pipeline.lib.report.run_record import RunSummary
from rostersync_pipeline.lib.storage.destinations.interface import AppliedRun, Counts, RecordApplied
from rostersync_pipeline.lib.storage.destinations.settings import (
    DuckDBDestinationSettings,
    WebhookSettings,
)
from rostersync_pipeline.lib.storage.destinations.webhook import (
    DeliveryOutcome,
    deliver,
    redacted,
    webhook_body,
)
from rostersync_pipeline.lib.storage.warehouse import transaction

FEED_SQL = """insert into roster.change_feed
    select
        (select coalesce(max(feed_id), 0) from roster.change_feed)
            + row_number() over (order by entity, app_id, action),
        run_id, entity, app_id, action, coalesce(changed_fields, []::varchar[]), applied_at
    from roster.change_log
    where run_id = $run_id"""

LAST_FEED_ID_SQL = "select coalesce(max(feed_id), 0) from roster.change_feed"

OUTBOX_SQL = """insert into roster.webhook_deliveries
    (run_id, url, body, status, attempts, created_at)
    values ($run_id, $url, $body, 'pending', 0, now()::timestamp)"""

UNDELIVERED_SQL = """select run_id, body from roster.webhook_deliveries
    where status <> 'delivered' order by created_at, run_id"""

DELIVERED_SQL = """update roster.webhook_deliveries set
        status = case when $delivered then 'delivered' else 'failed' end,
        attempts = attempts + $attempts,
        last_status_code = $status_code,
        last_error = $error,
        last_attempt_at = now()::timestamp,
        delivered_at = case when $delivered then now()::timestamp end
    where run_id = $run_id"""


def write_feed(
    con: duckdb.DuckDBPyConnection, run_id: str
) -> tuple[int, int]:
    """The run's ``roster.change_log`` rows as ``roster.change_feed`` rows; (after, until)."""
    after = con.execute(LAST_FEED_ID_SQL).fetchall()[0][0]
    con.execute(FEED_SQL, {"run_id": run_id})
    return after, con.execute(LAST_FEED_ID_SQL).fetchall()[0][0]


class DuckDBDestination:
    """The ``roster`` schema of the district's DuckDB file."""

    label = "duckdb"

    def __init__(self, settings: DuckDBDestinationSettings | None = None,
                 district_id: str = "") -> None:
        self.settings = settings or DuckDBDestinationSettings()
        self.district_id = district_id

    @property
    def webhook(self) -> WebhookSettings | None:
        return self.settings.webhook

    def ensure_schema(self) -> None:
        """The roster tables are created with the district file (``ensure_schemas``)."""

    def mirror_into(self, con: duckdb.DuckDBPyConnection) -> list[AppliedRun]:
        return []

    def _publish(self, con: duckdb.DuckDBPyConnection, run_id: str, kind: str,
                 summary: RunSummary) -> AppliedRun:
        after, until = write_feed(con, run_id)
        changes = con.execute("select count(*) from roster.change_log where run_id = ?",
                              [run_id]).fetchall()[0][0]
        if self.webhook is not None:
            body = webhook_body(self.district_id, run_id, summary.status.value, summary.counts,
                                after, until)
            con.execute(OUTBOX_SQL, {"run_id": run_id, "url": redacted(self.webhook.url),
                                     "body": body})
        return AppliedRun(run_id, kind, changes, after, until)

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
        with transaction(con):
            if tables is None:
                record(0)
                return None
            applied = apply_plan.apply_changes(con, run_id, tables)
            result = self._publish(con, run_id, kind, summary)
            record(applied)
        return result

    def restore(
        self,
        con: duckdb.DuckDBPyConnection,
        run_id: str,
        to_run_id: str,
        summarize: Callable[[Counts, object], RunSummary],
        record: Callable[[RunSummary], None],
    ) -> tuple[Counts, AppliedRun]:
        at = run_moment(con, to_run_id, "finished_at")
        with transaction(con):
            counts = restore_changes(con, run_id, at)
            summary = summarize(counts, at)
            result = self._publish(con, run_id, "restore", summary)
            record(summary)
        return counts, result

    def as_of(self, con: duckdb.DuckDBPyConnection, table: str, at: datetime) -> list[dict]:
        if table not in ENTITY_TABLES:
            raise ValueError(f"table must be one of {', '.join(ENTITY_TABLES)}, not {table!r}")
        cursor = con.execute(VERSION_AT_SQL.format(table=table) + " order by app_id", {"at": at})
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def publish_feed(self, con: duckdb.DuckDBPyConnection) -> list[DeliveryOutcome]:
        if self.webhook is None:
            return []
        outcomes = []
        for run_id, body in con.execute(UNDELIVERED_SQL).fetchall():
            outcome = deliver(self.webhook.url, run_id, body, secret_env=self.webhook.secret_env,
                              timeout_s=self.webhook.timeout_s, retries=self.webhook.retries,
                              backoff_s=self.webhook.backoff_s)
            con.execute(DELIVERED_SQL, {
                "run_id": run_id, "delivered": outcome.delivered, "attempts": outcome.attempts,
                "status_code": outcome.status_code, "error": outcome.error})
            outcomes.append(outcome)
        return outcomes
