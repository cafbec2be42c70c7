"""A suite's outcomes reused when the rows it reads are the rows it last validated.

Great Expectations validates a pandas copy of what a suite's ``frame_sql`` reads: for a large
district, many times the cost of reading the table once. So before validating, the frame's
digest (its row count and an order-free sum of row hashes: one read of it, in DuckDB) is
compared with the digest recorded at the table's last validation (``sync.expectation_digests``).
If the frame and the suite are the same, that validation's outcomes (``sync.expectation_results``)
stand for this run's, with this run's severities; otherwise GX validates and the new digest is
recorded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from importlib.metadata import version

import duckdb

from rostersync_pipeline.lib.storage.warehouse import content_digest
from rostersync_pipeline.lib.validate.expectations import ExpectationOutcome
from rostersync_pipeline.lib.validate.suites import TableSuite

DIGESTS_DDL = """
create table if not exists sync.expectation_digests (
    table_name varchar primary key,
    suite_digest varchar not null,
    frame_digest varchar not null,
    run_id varchar not null
)
"""


@dataclass(frozen=True)
class FrameDigest:
    rows: int
    digest: str


def suite_digest(suite: TableSuite) -> str:
    """What GX is told (severities are applied to outcomes, not given to GX), and its version."""
    told = replace(suite, expectations=tuple(replace(e, hard=False) for e in suite.expectations))
    return hashlib.sha256(f"{version('great_expectations')}\n{told!r}".encode()).hexdigest()


def frame_digest(con: duckdb.DuckDBPyConnection, suite: TableSuite) -> FrameDigest:
    rows, total = content_digest(con, suite.frame_sql)
    return FrameDigest(rows, f"{suite_digest(suite)}:{rows}:{total}")


def reused_outcomes(
    con: duckdb.DuckDBPyConnection, suite: TableSuite, frame: FrameDigest
) -> tuple[str, list[ExpectationOutcome]] | None:
    """The run whose validation of the same frame stands for this one, and its outcomes with
    ``suite``'s severities (None: validate)."""
    con.execute(DIGESTS_DDL)
    found = con.execute(
        "select run_id from sync.expectation_digests where table_name = ? and frame_digest = ?",
        [suite.table, frame.digest]).fetchall()
    if not found:
        return None
    run_id = found[0][0]
    stored = {name: (success, count, ids) for name, success, count, ids in con.execute(
        "select expectation, success, unexpected_count, sample_ids from sync.expectation_results "
        "where run_id = ? and table_name = ?", [run_id, suite.table]).fetchall()}
    if set(stored) != {e.name for e in suite.expectations}:
        return None
    return run_id, [ExpectationOutcome(e.name, e.column, stored[e.name][0], e.hard,
                                       stored[e.name][1], list(stored[e.name][2]))
                    for e in suite.expectations]


def remember_validation(con: duckdb.DuckDBPyConnection, suite: TableSuite, frame: FrameDigest,
                        run_id: str) -> None:
    """After this run's outcomes of ``suite`` are recorded: they describe ``frame``."""
    con.execute(DIGESTS_DDL)
    con.execute("delete from sync.expectation_digests where table_name = ?", [suite.table])
    con.execute("insert into sync.expectation_digests values (?, ?, ?, ?)",
                [suite.table, suite_digest(suite), frame.digest, run_id])
