"""The expectation suite on ``core.users``: its check result, the outcomes kept for apply, and
what apply reads from them. Real GX on a real in-memory DuckDB; IDs only in what is kept."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from rostersync_pipeline.defs.checks.expectation_checks import (
    USERS_SUITE_CHECK,
    evaluate_users_suite,
)
from rostersync_pipeline.lib.validate.expectation_results import hard_failures

RUN_ID = "run-1"
USERS = [
    # user_source_id, role, email, grade_code
    ("u1", "student", "ada@example.org", "05"),
    ("u2", "educator", "grace@example.org", None),
    ("u3", "student", "not-an-email", "05"),
]


def core_users(rows: list[tuple]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema core; create schema sync")
    con.execute("create table core.users (user_source_id varchar, role varchar, email varchar, "
                "grade_code varchar)")
    for row in rows:
        con.execute("insert into core.users values (?, ?, ?, ?)", row)
    return con


def test_a_soft_failure_warns_and_lets_apply_run() -> None:
    con = core_users(USERS)
    result = evaluate_users_suite(con, RUN_ID)
    assert (result.check_name, result.passed) == (USERS_SUITE_CHECK, False)
    assert result.asset_key == dg.AssetKey(["core", "users"])
    assert result.severity == dg.AssetCheckSeverity.WARN
    regex = result.metadata["expect_column_values_to_match_regex(email)"].value
    assert regex == {"unexpected_count": 1, "hard": False, "ids": ["u3"]}
    assert hard_failures(con, RUN_ID) == []


def test_a_hard_failure_is_an_error_and_blocks_apply_with_its_reason() -> None:
    con = core_users([*USERS, ("u1", "janitor", "ada2@example.org", None)])
    result = evaluate_users_suite(con, RUN_ID)
    assert result.severity == dg.AssetCheckSeverity.ERROR
    assert {k: v.value for k, v in result.metadata.items() if not k.startswith("expect_")} == {
        "rows_checked": 4, "expectations": 5, "failed": 3}
    assert hard_failures(con, RUN_ID) == [
        "expectation expect_column_values_to_be_in_set on core.users.role failed for 1 row(s): "
        "apply did not run",
        "expectation expect_column_values_to_be_unique on core.users.user_source_id failed for "
        "2 row(s): apply did not run",
    ]
    assert hard_failures(con, "another-run") == []


def test_the_kept_outcomes_hold_ids_only_and_are_replaced_on_a_rerun() -> None:
    con = core_users(USERS)
    evaluate_users_suite(con, RUN_ID)
    evaluate_users_suite(con, RUN_ID)
    rows = con.execute(
        "select expectation, column_name, hard, success, unexpected_count, sample_ids "
        "from sync.expectation_results where run_id = ? order by all", [RUN_ID]).fetchall()
    assert len(rows) == 5
    assert ("expect_column_values_to_match_regex", "email", False, False, 1, ["u3"]) in rows
    kept = repr(con.execute("select * from sync.expectation_results").fetchall())
    assert "not-an-email" not in kept and "@" not in kept


@pytest.mark.parametrize("rows", [[], USERS[:2]])
def test_a_clean_or_empty_table_passes(rows: list[tuple]) -> None:
    result = evaluate_users_suite(core_users(rows), RUN_ID)
    assert result.passed and result.metadata["failed"].value == 0
