"""An app enrollment is one row per (section, user, role): dropped and re-added, it is reactivated."""

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


def _bundle(directory: Path, enrolled: list[str]) -> Path:
    return write_bundle(
        directory,
        orgs=[org("sch1", "North High")],
        users=[student(s, "sch1") for s in ("s1", "s2", "s3")],
        classes=[section("sec1", "sch1")],
        enrollments=[enrollment(f"e-{s}", "sec1", s, "sch1") for s in enrolled],
    )


def test_dropped_then_readded_enrollment_is_reactivated_not_duplicated(tmp_path: Path) -> None:
    district = make_district(tmp_path, _bundle(tmp_path / "n0", ["s1", "s2", "s3"]),
                             schools={"create_unmatched": True})
    assert district.sync().success
    first_ids = dict(district.query(
        "select source_id, app_id from roster.enrollments order by source_id"))

    dropped = district.sync(_bundle(tmp_path / "n1", ["s1", "s2"]))
    assert dropped.summary.counts["enrollments"].get("deactivate") == 1

    # re-added under a new enrollment id: same (section, user, role), so the same app record
    readded = _bundle(tmp_path / "n2", ["s1", "s2"])
    with open(readded / "enrollments.csv", "a", encoding="utf-8") as handle:
        handle.write("e-s3-again,active,,sec1,sch1,s3,student,,,\n")
    outcome = district.sync(readded)
    assert outcome.summary.counts["enrollments"].get("reactivate") == 1
    assert outcome.summary.counts["enrollments"].get("create") is None

    assert district.query(
        "select section_app_id, user_app_id, role, count(*) from roster.enrollments "
        "group by all having count(*) > 1") == []
    assert district.scalar("select count(*) from roster.enrollments where status = 'active'") == 3
    assert district.scalar(
        "select app_id from roster.enrollments where source_id = 'e-s3'") == first_ids["e-s3"]
