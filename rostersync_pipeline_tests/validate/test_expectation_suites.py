"""The expectation suites of the canonical tables: check results, the outcomes kept for apply,
per-district severities. Real GX on a real in-memory DuckDB; IDs only in what is kept."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from rostersync_pipeline.defs.checks.expectation_checks import (
    evaluate_expectation_suites,
    expectation_check_specs,
)
from rostersync_pipeline.lib.storage.warehouse import ensure_schemas
from rostersync_pipeline.lib.validate.expectation_results import hard_failures
from rostersync_pipeline.lib.validate.suites import SUITES

RUN_ID = "run-1"
CORE_DDL = """
create or replace table core.schools (school_source_id varchar, school_name varchar);
create or replace table core.users (user_source_id varchar, role varchar, email varchar,
    grade_code varchar);
create or replace table core.sections (section_source_id varchar, section_name varchar,
    school_source_id varchar);
create or replace table core.enrollments (enrollment_source_id varchar, section_source_id varchar,
    user_source_id varchar, role varchar);
create or replace table core.terms (term_source_id varchar, start_date date, end_date date);
create or replace table core.courses (course_source_id varchar, course_name varchar);
create or replace table core.guardians (user_source_id varchar, email varchar,
    is_deleted boolean);
create or replace table core.guardian_relationships (guardian_source_id varchar,
    student_source_id varchar);
"""
GOOD = {
    "schools": [("sch1", "North High")],
    "users": [("u1", "student", "ada@example.org", "05"),
              ("u2", "educator", "grace@example.org", None)],
    "sections": [("sec1", "Math", "sch1")],
    "enrollments": [("e1", "sec1", "u1", "student"), ("e2", "sec1", "u2", "teacher")],
    "terms": [("t1", "2026-08-20", "2027-06-10")],
    "courses": [("c1", "Algebra")],
    "guardians": [("g1", "jo@example.org", False)],
    "guardian_relationships": [("g1", "u1")],
}


def district_file(**added: list[tuple]) -> duckdb.DuckDBPyConnection:
    """A district file whose core tables hold the good rows plus ``added``."""
    con = duckdb.connect()
    ensure_schemas(con)
    con.execute(CORE_DDL)
    for table, rows in {t: GOOD[t] + added.get(t, []) for t in GOOD}.items():
        for row in rows:
            con.execute(f"insert into core.{table} values ({', '.join('?' * len(row))})", row)
    return con


def verdicts(results: dict[str, dg.AssetCheckResult]) -> dict[str, tuple[bool, str]]:
    return {table: (r.passed, r.severity.value) for table, r in results.items()}


def test_every_canonical_table_has_a_partitioned_suite() -> None:
    specs = expectation_check_specs()
    assert sorted(s.asset_key.to_user_string() for s in specs) == sorted(
        s.table.replace(".", "/") for s in SUITES) == [
        "core/courses", "core/enrollments", "core/guardians", "core/schools", "core/sections", "core/terms",
        "core/users"]
    assert all(s.partitions_def is not None for s in specs)


def test_a_clean_district_passes_every_suite() -> None:
    results = evaluate_expectation_suites(district_file(), RUN_ID, {})
    assert all(r.passed for r in results.values()), verdicts(results)


@pytest.mark.parametrize(
    ("description", "changes", "table", "expectation", "ids", "hard"),
    [
        ("two schools share an id", {"schools": [("sch1", "South")]},
         "core.schools", "schools.id_unique", ["sch1"], True),
        ("an unknown role", {"users": [("u9", "janitor", "a@example.org", None)]},
         "core.users", "users.role_known", ["u9"], True),
        ("an email that is not one", {"users": [("u3", "student", "not-an-email", "05")]},
         "core.users", "users.email_format", ["u3"], False),
        ("a section in a school nowhere", {"sections": [("sec9", "Art", "sch-x")]},
         "core.sections", "sections.school_known", ["sec9"], False),
        ("an enrollment of a person nowhere", {"enrollments": [("e9", "sec1", "u-x", "student")]},
         "core.enrollments", "enrollments.user_known", ["e9"], False),
        ("an enrollment role outside the spec",
         {"enrollments": [("e8", "sec1", "u1", "parent")]},
         "core.enrollments", "enrollments.role_known", ["e8"], True),
        ("a term that ends before it starts", {"terms": [("t9", "2027-06-10", "2026-08-20")]},
         "core.terms", "terms.dates_ordered", ["t9"], False),
        ("a course without a name", {"courses": [("c9", None)]},
         "core.courses", "courses.name_present", ["c9"], False),
        ("a guardian related to no student", {"guardians": [("g9", None, False)]},
         "core.guardians", "guardians.related", ["g9"], False),
        ("two guardians share an id", {"guardians": [("g1", None, False)]},
         "core.guardians", "guardians.id_unique", ["g1"], True),
    ],
)
def test_a_failed_expectation_names_itself_and_the_records(
    description: str, changes: dict, table: str, expectation: str, ids: list[str], hard: bool,
) -> None:
    con = district_file(**changes)
    results = evaluate_expectation_suites(con, RUN_ID, {})
    result = results[table]
    assert not result.passed, description
    assert result.severity == (dg.AssetCheckSeverity.ERROR if hard else
                               dg.AssetCheckSeverity.WARN)
    assert result.metadata[expectation].value["ids"] == ids
    assert [t for t, r in results.items() if not r.passed] == [table]
    assert bool(hard_failures(con, RUN_ID)) is hard


def test_an_empty_table_passes_its_suite_without_great_expectations(monkeypatch) -> None:
    """No rows: every expectation holds (what GX answers too), and GX is not asked."""
    from rostersync_pipeline.lib.validate import expectations

    con = district_file()
    con.execute("delete from core.guardian_relationships; delete from core.guardians")
    asked: list[str] = []
    original = expectations.SuiteValidator.validate

    def validate(self, suite, frame):
        if not frame.empty:
            asked.append(suite.table)
        return original(self, suite, frame)

    monkeypatch.setattr(expectations.SuiteValidator, "validate", validate)
    results = evaluate_expectation_suites(con, RUN_ID, {})
    assert results["core.guardians"].passed
    assert results["core.guardians"].metadata["rows_checked"].value == 0
    assert "core.guardians" not in asked and "core.users" in asked
    assert con.execute(
        "select count(*), bool_and(success) from sync.expectation_results "
        "where table_name = 'core.guardians'").fetchall() == [(4, True)]


def test_a_district_makes_a_soft_expectation_hard_and_a_hard_one_soft() -> None:
    con = district_file(users=[("u3", "janitor", "not-an-email", "05")])
    severities = {"users.email_format": "hard", "users.role_known": "soft"}
    result = evaluate_expectation_suites(con, RUN_ID, severities)["core.users"]
    assert result.severity == dg.AssetCheckSeverity.ERROR
    assert hard_failures(con, RUN_ID) == [
        "expectation users.email_format on core.users.email failed for 1 row(s): "
        "apply did not run"]


def test_the_kept_outcomes_hold_ids_only_and_are_replaced_on_a_rerun() -> None:
    con = district_file(users=[("u3", "student", "not-an-email", "05")])
    evaluate_expectation_suites(con, RUN_ID, {})
    evaluate_expectation_suites(con, RUN_ID, {})
    rows = con.execute(
        "select table_name, expectation, success, unexpected_count, sample_ids "
        "from sync.expectation_results where run_id = ? and not success", [RUN_ID]).fetchall()
    assert rows == [("core.users", "users.email_format", False, 1, ["u3"])]
    assert con.execute("select count(*) from sync.expectation_results").fetchall()[0][0] == sum(
        len(s.expectations) for s in SUITES)
    kept = repr(con.execute("select * from sync.expectation_results").fetchall())
    assert "not-an-email" not in kept and "@" not in kept


def test_each_validation_is_judged_on_its_own_frame() -> None:
    """The process keeps one GX context and its suites; GX caches a batch's metrics under its
    data source and asset names, not under the frame, so no run may get another's verdict,
    nor a table validated twice in one run its first verdict."""
    from rostersync_pipeline.lib.validate.expectations import SuiteValidator

    bad = district_file(users=[("u3", "student", "not-an-email", "05")])
    good = district_file()
    for con, passed in ((bad, False), (good, True), (bad, False)):
        assert evaluate_expectation_suites(con, RUN_ID, {})["core.users"].passed is passed
    users = next(s for s in SUITES if s.table == "core.users")
    with SuiteValidator() as validator:
        for con, failed in ((bad, 1), (good, 0), (bad, 1)):
            outcomes = validator.validate(users, con.execute(users.frame_sql).df())
            assert {o.expectation: o.unexpected_count for o in outcomes}[
                "users.email_format"] == failed


def test_docs_list_every_expectation_with_its_default() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "config.md").read_text()
    for suite in SUITES:
        for e in suite.expectations:
            row = f"| `{e.name}` | `{suite.table}` | {'hard' if e.hard else 'soft'} |"
            assert row in text, e.name


def test_great_expectations_does_not_hash_every_row_of_a_frame(monkeypatch) -> None:
    """GX's pandas engine would fingerprint each frame (every row hashed, twice per validation:
    most of its time on a large table); the marker is read by nothing, so it is skipped. The
    verdicts stay each frame's own (test above)."""
    from great_expectations.execution_engine import pandas_execution_engine as engine

    from rostersync_pipeline.lib.validate.expectations import SuiteValidator

    hashed: list[int] = []
    original = engine.hash_pandas_dataframe
    monkeypatch.setattr(engine, "hash_pandas_dataframe",
                        lambda df: hashed.append(len(df)) or original(df))
    con = district_file(users=[("u3", "student", "not-an-email", "05")])
    users = next(s for s in SUITES if s.table == "core.users")
    with SuiteValidator() as validator:
        outcomes = validator.validate(users, con.execute(users.frame_sql).df())
    assert {o.expectation: o.unexpected_count for o in outcomes}["users.email_format"] == 1
    assert engine.HASH_THRESHOLD == 0 and hashed == []
