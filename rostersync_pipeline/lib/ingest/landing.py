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
