"""``sync.expectation_results``: each run's expectation outcomes, kept across runs.

Grain: one row per run, checked table and expectation. The normalize step writes them right
after the core tables are built; apply reads this run's rows and does not run when a hard one
failed (the run is ``blocked``). ``sample_ids`` holds up to 5 IDs of failed rows: IDs only,
never names, emails or birth dates.
"""

from __future__ import annotations

import duckdb

from rostersync_pipeline.lib.validate.expectations import ExpectationOutcome

EXPECTATION_RESULTS_DDL = """
create table if not exists sync.expectation_results (
    run_id varchar not null,
    table_name varchar not null,
    expectation varchar not null,
    column_name varchar,
    hard boolean not null,
    success boolean not null,
    unexpected_count bigint not null,
    sample_ids varchar[] not null
)
"""


def record_expectation_results(
    con: duckdb.DuckDBPyConnection, run_id: str, outcomes: dict[str, list[ExpectationOutcome]],
) -> None:
    """Replace this run's rows for each checked table (``outcomes``: table name -> outcomes)."""
    con.execute(EXPECTATION_RESULTS_DDL)
    con.execute("delete from sync.expectation_results where run_id = ? and list_contains(?, "
                "table_name)", [run_id, list(outcomes)])
    rows = [[run_id, table, o.expectation, o.column or None, o.hard, o.success,
             o.unexpected_count, o.unexpected_ids]
            for table, table_outcomes in outcomes.items() for o in table_outcomes]
    if rows:
        con.execute("insert into sync.expectation_results values "
                    + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(rows)),
                    [value for row in rows for value in row])


def hard_failures(con: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """Why this run must not apply: one sentence per failed hard expectation (none: it may)."""
    rows = con.execute(
        "select table_name, expectation, column_name, unexpected_count "
        "from sync.expectation_results where run_id = ? and hard and not success "
        "order by table_name, expectation, column_name",
        [run_id],
    ).fetchall()
    return [f"expectation {expectation} on {table}.{column} failed for {count} row(s): "
            "apply did not run" for table, expectation, column, count in rows]
