"""`rostersync demo`: a synthetic district with its seeded problems, synced and reported."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from rostersync_pipeline.cli.main import main
from rostersync_pipeline.lib.storage.warehouse import district_connection


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("demo")
    warehouse = root / "warehouse"
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["demo", "--warehouse", str(warehouse),
                     "--config-dir", str(root / "config")]) == 0
    assert (root / "config" / "demo-district.yaml").is_file()
    return warehouse, out.getvalue()


def test_demo_reports_each_seeded_problem_with_its_code(demo: tuple[Path, str]) -> None:
    warehouse, _ = demo
    problems = json.loads((warehouse / "demo" / "bundles" / "night-0" / "demo_problems.json")
                          .read_text(encoding="utf-8"))
    expected = {(p["expected_error_code"], p["source_id"])
                for p in problems["problems"] if p["expected_error_code"]}
    with district_connection(warehouse, "demo-district") as con:
        found = set(con.execute(
            "select error_code, source_id from sync.sync_errors").fetchall())
        rotated = [p for p in problems["problems"] if p["kind"] == "rotated_id"]
        for p in rotated:
            rows = con.execute(
                "select source_id, sis_id, status from roster.users where email = ?",
                [p["error_value"]] if p["field"] == "email" else [None],
            ).fetchall()
            assert rows == [(p["source_id"], p["sis_id"], "active")], p
    assert expected <= found
    assert {code for code, _ in found} >= {
        "DUPLICATE_EMAIL_ADDRESS", "VALUE_NOT_SPECIFIED", "SCHOOL_NOT_MATCHED", "INVALID_GRADE"}


def test_demo_prints_counts_codes_and_where_things_are(demo: tuple[Path, str]) -> None:
    warehouse, printed = demo
    assert "status: applied" in printed
    assert " guardians, " in printed.splitlines()[0]
    for word in ("create", "update", "DUPLICATE_EMAIL_ADDRESS", "SCHOOL_NOT_MATCHED",
                 "error export:", "DuckDB file:", "analytics:"):
        assert word in printed
    export = next((warehouse / "exports" / "demo-district").glob("*.zip"))
    assert str(export) in printed or export.name in printed
    con = duckdb.connect(str(warehouse / "analytics.duckdb"), read_only=True)
    try:
        assert con.execute("select district_id, status from runs").fetchall() == [
            ("demo-district", "applied")]
    finally:
        con.close()


def test_the_demo_roster_holds_guardians_and_a_teacher_in_two_schools(
    demo: tuple[Path, str],
) -> None:
    warehouse, _ = demo
    with district_connection(warehouse, "demo-district") as con:
        guardians, shared = con.execute("""
            select count(distinct l.guardian_app_id),
                count(*) filter (where l.guardian_app_id in (
                    select guardian_app_id from roster.guardian_relationships
                    group by all having count(*) = 2))
            from roster.guardian_relationships as l
            join roster.users as g on g.app_id = l.guardian_app_id and g.role = 'guardian'
            join roster.users as s on s.app_id = l.student_app_id and s.role = 'student'
            where l.status = 'active'""").fetchone()
        assert guardians > 50 and shared > 20
        assert con.execute("""
            select count(*) from (
                select user_app_id from roster.user_schools where status = 'active'
                group by all having count(*) = 2 and count(*) filter (where is_primary) = 1)
            """).fetchone() == (1,)
