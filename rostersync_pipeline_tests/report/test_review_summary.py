"""The import summary: on the sync/sync_plan asset in Dagster and through ``rostersync plan``.

A real first sync, then a dry run with a rename, a rotated ID, a new student, a dropped one and
an unmapped grade; the summary must count them, sample them by IDs, and carry no names, emails
or birth dates.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from rostersync_pipeline.cli.main import main
from rostersync_pipeline.runner import run_sync
from rostersync_pipeline_tests.helpers import (
    District,
    enrollment,
    make_district,
    org,
    section,
    student,
    teacher,
    write_bundle,
)

PERSONAL = ("Renamed", "Given", "Family", "@example.org")


def night(directory: Path, students: list[dict[str, str]]) -> Path:
    users = [teacher("t1", "sch1"), *students]
    return write_bundle(
        directory,
        orgs=[org("sch1", "North High")],
        users=users,
        classes=[section("sec1", "sch1")],
        enrollments=[enrollment(f"e-{u['sourcedId']}", "sec1", u["sourcedId"], "sch1",
                                role="teacher" if u["role"] == "teacher" else "student")
                     for u in users],
    )


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory: pytest.TempPathFactory):
    tmp_path = tmp_path_factory.mktemp("summary")
    first = night(tmp_path / "n1", [student(s, "sch1") for s in ("s1", "s2", "s3")])
    district = make_district(tmp_path, first, schools={"create_unmatched": True})
    assert district.sync().status == "applied"
    second = night(tmp_path / "n2", [
        student("s1", "sch1", familyName="Renamed"),
        student("s2-new", "sch1", identifier="sis-s2", email="s2@example.org", username="s2",
                givenName="Givens2", familyName="Familys2"),
        student("s4", "sch1"),
        student("bad", "sch1", grades="Grade Thirteen"),
    ])
    with dg.instance_for_test() as instance, district.delivered(second):
        outcome = run_sync(district.district_id, config_dir=district.config_dir,
                           warehouse_dir=district.warehouse_dir, dry_run=True,
                           instance=instance)
        event = instance.get_latest_materialization_event(dg.AssetKey(["sync", "sync_plan"]))
    assert outcome.status == "dry_run", outcome.failure
    return district, outcome, event.asset_materialization.metadata["summary"].value


def test_the_plan_asset_carries_the_summary_as_markdown(dry_run) -> None:
    district, outcome, markdown = dry_run
    assert f"run `{outcome.run_id[:8]}`: **planned**" in markdown
    assert "| students | 1 | 2 | 0 | 1 | 0 |" in markdown
    assert "| INVALID_GRADE | 1 |" in markdown
    assert "ID changes: students 1." in markdown
    assert "Match alerts:" in markdown
    s1 = district.scalar("select app_id from roster.users where source_id = 's1'")
    assert f"| students | update | {s1} | s1 | last_name | source_id |" in markdown
    assert not [word for word in PERSONAL if word in markdown]


def test_rostersync_plan_shows_the_run_summary_without_personal_data(dry_run, capsys) -> None:
    district, outcome, _ = dry_run
    assert main(["plan", district.district_id, "--run", outcome.run_id,
                 "--warehouse", str(district.warehouse_dir)]) == 0
    shown = capsys.readouterr().out
    assert f"run {outcome.run_id}  status: dry_run" in shown
    assert "INVALID_GRADE" in shown and "ID changes: students 1" in shown
    assert "sample rows per action (IDs and changed fields only):" in shown
    sampled = [line.split() for line in shown.splitlines() if line.startswith("  students")]
    assert {(row[1], row[3]) for row in sampled} == {
        ("create", "s4"), ("update", "s1"), ("update", "s2-new"), ("deactivate", "s3")}
    assert not [word for word in PERSONAL if word in shown]


def test_the_summary_is_kept_per_run(dry_run, tmp_path: Path) -> None:
    district, outcome, _ = dry_run
    details = District.query(
        district, "select id_changes->>'$.students', json_array_length(samples) "
        "from sync.run_details where run_id = ?", [outcome.run_id])
    assert details == [("1", 7)]  # 4 student rows, 2 enrollment rows, 1 user-school row
