"""Fail closed: a fetch that did not complete deactivates nothing, not even records it marks deleted."""

from __future__ import annotations

from pathlib import Path

from rostersync_pipeline_tests.helpers import (
    enrollment,
    make_district,
    org,
    section,
    student,
    write_bundle,
)


def _bundle(directory: Path, students: list[dict[str, str]], **kwargs) -> Path:
    return write_bundle(
        directory,
        orgs=[org("sch1", "North High")],
        users=students,
        classes=[section("sec1", "sch1")],
        enrollments=[enrollment(f"e-{s['sourcedId']}", "sec1", s["sourcedId"], "sch1")
                     for s in students],
        **kwargs,
    )


def test_tobedeleted_in_an_incomplete_fetch_is_not_deactivated(tmp_path: Path) -> None:
    night0 = _bundle(tmp_path / "n0", [student("s1", "sch1"), student("s2", "sch1")])
    district = make_district(tmp_path, night0, schools={"create_unmatched": True})
    assert district.sync().success

    night1 = _bundle(tmp_path / "n1", [student("s1", "sch1"),
                                       student("s2", "sch1", status="TOBEDELETED")],
                     manifest={"file.courses": "bulk"})  # listed, not in the bundle
    outcome = district.sync(night1)

    assert outcome.success, outcome.failure
    assert not outcome.summary.fetch_complete
    assert [e["source_file"] for e in district.errors(outcome.run_id, "FETCH_INCOMPLETE")] == [
        "courses.csv"]
    assert district.scalar("select count(*) from roster.users where status <> 'active'") == 0

    night2 = _bundle(tmp_path / "n2", [student("s1", "sch1"),
                                       student("s2", "sch1", status="TOBEDELETED")])
    outcome = district.sync(night2)
    assert outcome.summary.counts["students"].get("deactivate") == 1
    assert district.scalar(
        "select status from roster.users where source_id = 's2'") == "inactive"


def test_broken_quoting_is_a_file_error_not_a_crash(tmp_path: Path) -> None:
    night0 = _bundle(tmp_path / "n0", [student("s1", "sch1"), student("s2", "sch1")])
    district = make_district(tmp_path, night0, schools={"create_unmatched": True})
    assert district.sync().success

    night1 = _bundle(tmp_path / "n1", [student("s1", "sch1")])
    (night1 / "orgs.csv").write_text(
        'sourcedId,status,name,type\n"sch1,active,North High,school\n', encoding="utf-8")
    outcome = district.sync(night1)

    assert outcome.success, outcome.failure
    errors = district.errors(outcome.run_id, "MALFORMED_FILE")
    assert [e["source_file"] for e in errors] == ["orgs.csv"]
    assert district.scalar("select count(*) from roster.users where status <> 'active'") == 0
    assert Path(outcome.summary.export_path).exists()
