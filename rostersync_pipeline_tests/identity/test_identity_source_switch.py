"""An integration switch: a district moves from Clever-format CSV to OneRoster CSV.

The SIS IDs stay the same, every source id changes: the switch is seamless (same app records,
stored source ids replaced, no create, no deactivate) and not held by the update guard.
"""

from __future__ import annotations

from pathlib import Path

from rostersync_pipeline.demo.app_roster import write_district_config
from rostersync_pipeline_tests.helpers import (
    enrollment,
    make_district,
    org,
    section,
    student,
    write_bundle,
)

STUDENTS = [f"{1000 + n}" for n in range(25)]


def _clever_upload(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "schools.csv": ["School_id,School_name,School_number", "S1,North High,101"],
        "students.csv": ["School_id,Student_id,Last_name,First_name,Grade,Student_email,Username"]
        + [f"S1,{sis},Family{sis},Given{sis},5,{sis}@example.org,{sis}" for sis in STUDENTS],
        "teachers.csv": ["School_id,Teacher_id,Teacher_email,First_name,Last_name"],
        "sections.csv": ["School_id,Section_id,Teacher_id,Name", "S1,SEC1,,Section SEC1"],
        "enrollments.csv": ["School_id,Section_id,Student_id"]
        + [f"S1,SEC1,{sis}" for sis in STUDENTS],
    }
    for name, lines in files.items():
        (directory / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


def _oneroster_bundle(directory: Path) -> Path:
    people = [student(f"or-{sis}", "or-S1", identifier=sis, username=sis,
                      givenName=f"Given{sis}", familyName=f"Family{sis}",
                      email=f"{sis}@example.org") for sis in STUDENTS]
    return write_bundle(
        directory,
        orgs=[org("or-S1", "North High", identifier="101")],
        users=people,
        classes=[section("SEC1", "or-S1")],
        enrollments=[enrollment(f"e-{sis}", "SEC1", f"or-{sis}", "or-S1") for sis in STUDENTS],
    )


def test_clever_to_oneroster_with_the_same_sis_ids_is_seamless(tmp_path: Path) -> None:
    district = make_district(tmp_path, _clever_upload(tmp_path / "clever"),
                             source={"type": "clever_csv"},
                             schools={"create_unmatched": True},
                             match_keys={"schools": ["source_id", "name"]})
    first = district.sync()
    assert first.success, first.failure
    assert first.summary.counts["students"] == {"create": 25}
    before = dict(district.query("select sis_id, app_id from roster.users"))

    write_district_config(district.config_dir, district.district_id,
                          _oneroster_bundle(tmp_path / "oneroster"),
                          source={"type": "oneroster_csv"}, schools={"create_unmatched": True},
                          match_keys={"schools": ["source_id", "name"]})
    switched = district.sync()

    assert switched.success, switched.failure
    assert switched.status == "applied", switched.summary.reasons
    counts = switched.summary.counts
    assert counts["students"] == {"update": 25}
    assert counts["enrollments"] == {"unchanged": 25}
    assert dict(district.query("select sis_id, app_id from roster.users")) == before
    assert district.query(
        "select distinct changed_fields from sync.sync_plan where entity = 'students'"
    ) == [(["source_id"],)]
    assert district.scalar(
        "select count(*) from roster.users where source_id like 'or-%' and status = 'active'"
    ) == 25
