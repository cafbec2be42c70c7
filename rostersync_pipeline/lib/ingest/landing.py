"""The contract between provider adapters and the rest of the pipeline.

An adapter fetches one district's roster and lands it, as received, into ``raw.*`` tables of
the district's DuckDB file (one row per source record, the payload kept). It returns a
:class:`FetchResult` saying, per canonical entity, whether the data is a full snapshot
(``bulk``), a change set (``delta``) or was not sent (``absent``), and whether the fetch
completed. Everything downstream of ``raw.*`` is provider-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import duckdb

from rostersync_pipeline.lib.storage.warehouse import relation_exists

EntityMode = Literal["bulk", "delta", "absent"]
CANONICAL_ENTITIES = ("schools", "users", "sections", "enrollments", "terms", "courses")


@dataclass(frozen=True)
class FetchProblem:
    """Something the fetch could not take in: a file, endpoint or page, a row, a field."""

    location: str
    reason: str
    row: int | None = None
    field: str | None = None
    error_code: str = "FETCH_INCOMPLETE"
    record_type: str = "file"
    blocks_deactivation: bool = True

    def describe(self) -> str:
        parts = [self.location]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.field:
            parts.append(f"field {self.field}")
        return f"{', '.join(parts)}: {self.reason}"


@dataclass
class FetchResult:
    provider: str
    entity_modes: dict[str, EntityMode]
    problems: list[FetchProblem] = field(default_factory=list)
    row_counts: dict[str, int] = field(default_factory=dict)
    provider_state: str = "healthy"

    @property
    def complete(self) -> bool:
        """False when any problem means the snapshot may be missing records."""
        return self.provider_state == "healthy" and not any(
            p.blocks_deactivation for p in self.problems
        )

    @property
    def mode(self) -> str:
        modes = {m for m in self.entity_modes.values() if m != "absent"}
        return modes.pop() if len(modes) == 1 else ("mixed" if modes else "absent")


def write_fetch_context(
    con: duckdb.DuckDBPyConnection, run_id: str, district_id: str, result: FetchResult
) -> None:
    """Record what was fetched, for the SQL models (``config.fetch_entities``, ``config.run``)."""
    con.execute(
        "create or replace table config.run as select ?::varchar as run_id, "
        "?::varchar as district_id, ?::varchar as provider, ?::boolean as fetch_complete, "
        "?::varchar as provider_state, now()::timestamp as started_at",
        [run_id, district_id, result.provider, result.complete, result.provider_state],
    )
    con.execute(
        "create or replace table config.fetch_entities "
        "(entity varchar, mode varchar, row_count bigint)"
    )
    rows = [
        (entity, result.entity_modes.get(entity, "absent"), result.row_counts.get(entity, 0))
        for entity in CANONICAL_ENTITIES
    ]
    con.executemany("insert into config.fetch_entities values (?, ?, ?)", rows)
    con.execute(
        "create or replace table config.fetch_problems (location varchar, source_row bigint, "
        "field varchar, reason varchar, error_code varchar, record_type varchar)"
    )
    if result.problems:
        con.executemany(
            "insert into config.fetch_problems values (?, ?, ?, ?, ?, ?)",
            [
                (p.location, p.row, p.field, p.reason, p.error_code, p.record_type)
                for p in result.problems
            ],
        )


def last_good_run_start(con: duckdb.DuckDBPyConnection) -> str | None:
    """When the district's last applied, complete run started (UTC ISO): a delta fetch asks for
    what changed since then."""
    rows = con.execute(
        "select strftime(timezone('UTC', max(started_at)::timestamptz), '%Y-%m-%dT%H:%M:%SZ') "
        "from sync.runs where status = 'applied' and fetch_complete"
    ).fetchall()
    return rows[0][0] if rows else None


MAX_ID_PROBLEMS = 10_000
# What a raw table's rows are, by the table name's last part (oneroster_orgs -> school).
RECORD_TYPES = {
    "orgs": "school", "schools": "school", "users": "user", "roles": "user",
    "demographics": "user", "students": "student", "teachers": "educator", "staff": "educator",
    "classes": "section", "sections": "section", "enrollments": "enrollment",
    "academicsessions": "term", "terms": "term", "courses": "course", "districts": "district",
    "events": "event",
}


def missing_id_problems(
    con: duckdb.DuckDBPyConnection, id_columns: dict[str, tuple[str, ...]], run_id: str
) -> list[FetchProblem]:
    """One MISSING_SOURCE_ID problem per landed row whose ID column is empty (``id_columns``:
    raw table -> the columns that identify a record). Such a record cannot be told apart from
    the others, so the problem makes the fetch incomplete: nothing is deactivated this run."""
    problems: list[FetchProblem] = []
    for table, columns in sorted(id_columns.items()):
        for column in columns:
            rows = con.execute(
                f'select _source_file, _source_row from raw.{table} where _run_id = ? '
                # an ID of only whitespace is no ID (a regexp reads faster than trim here)
                f'and ("{column}" is null or regexp_full_match("{column}", \'\\s*\')) '
                f'order by _source_row limit ?',
                [run_id, MAX_ID_PROBLEMS - len(problems)],
            ).fetchall()
            problems += [
                FetchProblem(source_file or table, f"the record has no {column}: it is not "
                             "imported, and nothing is deactivated this run", row=row,
                             field=column, error_code="MISSING_SOURCE_ID",
                             record_type=RECORD_TYPES.get(table.rsplit("_", 1)[-1], "record"))
                for source_file, row in rows
            ]
    return problems


class RunScopeError(RuntimeError):
    """A step found the district's working tables made by another run than its own."""


def require_this_run(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Refuse to go on unless this run landed the district's working tables (``config.run``).

    Every step after landing reads ``raw.*`` / ``config.*`` / ``sync.*`` tables that each run
    replaces. A run launched for a subset of the job (say, only apply) would otherwise plan or
    apply what an earlier run computed against a roster that may have changed since.
    """
    rows = con.execute(
        "select run_id from config.run"
    ).fetchall() if relation_exists(con, "config.run") else []
    landed_by = rows[0][0] if rows else None
    if landed_by != run_id:
        raise RunScopeError(
            f"the district's working tables were made by run {landed_by or '(none)'}, not by this "
            f"run {run_id}: launch the whole sync_district job for the district (a step cannot "
            "run on another run's landing)"
        )
