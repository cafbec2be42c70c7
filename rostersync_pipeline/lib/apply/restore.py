"""Restore: return the roster to its state after an earlier run, in one transaction.

The target of each record is its ``roster.*_history`` version valid when the target run
finished (``sync.runs.finished_at``). Synced fields and status are set back to it: what was
deactivated since is reactivated, field updates are reverted, and records sync created since
are deactivated (deactivate, never delete). Fields the app owns (custom school names, notes,
origin) are never touched. The restore is a new run: ``sync.runs`` status ``restored``,
``roster.change_log`` rows and new history versions under its own run id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import duckdb

from rostersync_pipeline.lib.apply.history import baseline_history, record_history, run_moment
from rostersync_pipeline.lib.report.run_record import RunSummary, build_run_summary, record_run
from rostersync_pipeline.lib.report.run_status import RunStatus

if TYPE_CHECKING:
    from rostersync_pipeline.lib.storage.destinations.interface import RosterDestination

Counts = dict[str, dict[str, int]]

SYNCED_COLUMNS: dict[str, tuple[str, ...]] = {
    "schools": ("source_id", "sis_id", "state_id", "nces_id"),
    "users": ("source_id", "sis_id", "state_id", "student_number", "email", "username",
              "first_name", "middle_name", "last_name", "birth_date", "grade", "school_app_id",
              "programs", "roles"),
    "terms": ("source_id", "name", "term_type", "start_date", "end_date", "school_year",
              "parent_term_app_id"),
    "courses": ("source_id", "title", "course_code", "school_app_id", "school_year_app_id"),
    "user_schools": ("user_app_id", "school_app_id", "is_primary"),
    "guardian_relationships": ("guardian_app_id", "student_app_id", "relationship"),
    "sections": ("source_id", "sis_id", "school_app_id", "name", "course_name", "term_name",
                 "term_app_id", "course_app_id"),
    "enrollments": ("source_id", "section_app_id", "user_app_id", "role", "is_primary"),
}
ENTITY_LABEL = {
    "schools": "'schools'",
    "users": "r.role || 's'",
    "terms": "'terms'",
    "courses": "'courses'",
    "user_schools": "'user_schools'",
    "guardian_relationships": "'guardian_relationships'",
    "sections": "'sections'",
    "enrollments": "'enrollments'",
}

TARGET_SQL = """create or replace temp table restore_{table} as
with target as (
    select app_id, {columns}, status
    from roster.{table}_history
    where valid_from <= $at and (valid_to is null or valid_to > $at)
),
created_since as (
    select app_id from roster.{table}_history group by app_id having min(valid_from) > $at
),
wanted as (
    select * from target
    union all
    select app_id, {columns}, 'inactive' as status
    from roster.{table}
    where app_id in (select app_id from created_since)
),
compared as (
    select
        wanted.*,
        {entity} as entity,
        r.status as current_status,
        list_filter([{changes}], lambda x: x is not null) as changed_fields
    from wanted
    join roster.{table} as r on r.app_id = wanted.app_id
)
select
    *,
    case
        when status = 'active' and current_status <> 'active' then 'reactivate'
        when status <> 'active' and current_status = 'active' then 'deactivate'
        else 'update'
    end as action
from compared
where len(changed_fields) > 0 or status is distinct from current_status"""

UPDATE_SQL = """update roster.{table} as r set {assignments}, status = x.status,
    updated_run_id = $run_id
from restore_{table} as x
where x.app_id = r.app_id"""

CHANGE_LOG_SQL = """insert into roster.change_log
select $run_id, entity, app_id, action, changed_fields, now()::timestamp
from restore_{table}"""


class RestoreRefused(RuntimeError):
    """A restore that cannot happen; the message says why."""


@dataclass
class RestoreResult:
    run_id: str
    to_run_id: str
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def changes(self) -> int:
        return sum(n for actions in self.counts.values() for n in actions.values())


def _sql(template: str, table: str) -> str:
    columns = SYNCED_COLUMNS[table]
    return template.format(
        table=table,
        columns=", ".join(columns),
        entity=ENTITY_LABEL[table],
        changes=", ".join(
            f"case when wanted.{c} is distinct from r.{c} then '{c}' end" for c in columns),
        assignments=", ".join(f"{c} = x.{c}" for c in columns),
    )


def restore_changes(con: duckdb.DuckDBPyConnection, run_id: str, at: object) -> Counts:
    """The DuckDB roster back to its versions valid at ``at``, as run ``run_id``, inside the
    caller's transaction (history and change-log rows included); returns counts per entity and
    action."""
    counts: Counts = {}
    baseline_history(con)
    for table in SYNCED_COLUMNS:
        con.execute(_sql(TARGET_SQL, table), {"at": at})
        for entity, action, n in con.execute(
            f"select entity, action, count(*) from restore_{table} group by all"
        ).fetchall():
            counts.setdefault(entity, {})[action] = n
        con.execute(_sql(UPDATE_SQL, table), {"run_id": run_id})
        con.execute(_sql(CHANGE_LOG_SQL, table), {"run_id": run_id})
    record_history(con, run_id)
    return counts


def restore_to_run(
    con: duckdb.DuckDBPyConnection,
    district_id: str,
    to_run_id: str,
    run_id: str | None = None,
    destination: RosterDestination | None = None,
) -> RestoreResult:
    """Put the roster back to its state after ``to_run_id``; one transaction, a new run.

    ``destination`` is where the roster lives (default: the district's DuckDB file)."""
    if destination is None:
        from rostersync_pipeline.lib.storage.destinations.duckdb import DuckDBDestination

        destination = DuckDBDestination()
    run_id = run_id or str(uuid.uuid4())
    if run_moment(con, to_run_id, "finished_at") is None:
        raise RestoreRefused(f"run {to_run_id!r} is not recorded for district {district_id!r} "
                             "(see sync.runs)")
    started_at = con.execute("select now()::timestamp").fetchall()[0][0]

    def summarize(counts: Counts, at: object) -> RunSummary:
        return build_run_summary(
            con, district_id=district_id, run_id=run_id, status=RunStatus.RESTORED, plan=None,
            counts=counts, fetch_mode="restore", started_at=started_at,
            reasons=[f"restored to the state after run {to_run_id} (finished {at})"],
        )

    counts, _ = destination.restore(con, run_id, to_run_id, summarize,
                                    lambda summary: record_run(con, summary))
    return RestoreResult(run_id, to_run_id, counts)
