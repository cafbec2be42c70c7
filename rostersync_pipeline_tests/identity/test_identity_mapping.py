"""Integration switches, schools, field mapping, grade codes and programs, on consecutive
bundles of one district (see docs/identity.md)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from rostersync_pipeline.config import DistrictConfig
from rostersync_pipeline.demo.district import write_district_config
from rostersync_pipeline.lib.transform.grade_codes import default_grade_codes
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

CREATE_SCHOOLS = {"schools": {"create_unmatched": True}}


def bundle(directory: Path, users: list[dict[str, str]], school_name: str = "North High",
           extra_columns: dict[str, dict[str, str]] | None = None) -> Path:
    """School sch1, section sec1, every user enrolled; ``extra_columns`` adds non-spec user
    columns (e.g. OneRoster ``metadata.*``) by source id."""
    write_bundle(
        directory,
        orgs=[org("sch1", school_name)],
        users=users,
        classes=[section("sec1", "sch1")],
        enrollments=[
            enrollment(f"e-{u['sourcedId']}", "sec1", u["sourcedId"], "sch1",
                       role="teacher" if u["role"] == "teacher" else "student")
            for u in users
        ],
    )
    if extra_columns:
        path = directory / "users.csv"
        with open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        names = sorted({k for cols in extra_columns.values() for k in cols})
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, [*rows[0].keys(), *names], lineterminator="\n")
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, **extra_columns.get(row["sourcedId"], {})})
    return directory


def reconfigure(district: District, bundle_path: Path, **overrides) -> None:
    write_district_config(district.config_dir, district.district_id, bundle_path, **overrides)


@pytest.mark.parametrize("value, code", [
    ("Kindergarten", "KG"), ("1", "01"), ("12", "12"), ("PreKindergarten", "PK"),
    ("TransitionalKindergarten", "TK"), ("Ungraded", "UG"), ("PostGraduate", "PS"),
    ("Other", "Other"), ("InfantToddler", "IT"), ("Preschool", "PR"), ("KG", "KG"),
    ("09", "09"), ("Pre-Kindergarten", "PK"),
])
def test_default_grade_table_covers_clever_names_and_ceds_codes(value: str, code: str):
    assert default_grade_codes()[value.strip().lower()] == code


def test_config_rejects_a_required_field_that_is_not_imported():
    with pytest.raises(ValueError, match="required field"):
        DistrictConfig(district_id="d", name="D", field_mapping={"sis_id": "not_imported"})
    with pytest.raises(ValueError, match="only one of student_number / state_id"):
        DistrictConfig(district_id="d", name="D", field_mapping={"email": "sis_id"})


def test_student_id_field_switch_is_seamless_or_held_for_review(tmp_path: Path):
    def roster(numbers: dict[int, str]) -> list[dict[str, str]]:
        return [teacher("t1", "sch1")] + [
            student(f"s{i}", "sch1", userIds=f"{{studentNumber:{numbers[i]}}}")
            for i in range(1, 26)]

    same = {i: f"sis-s{i}" for i in range(1, 26)}
    district = make_district(tmp_path, bundle(tmp_path / "n0", roster(same)), **CREATE_SCHOOLS)
    assert district.sync().status == "applied"
    before = district.roster_snapshot()

    # the district now takes the student ID from student_number, which carries the same values
    reconfigure(district, tmp_path / "n0", field_mapping={"student_number": "sis_id"},
                **CREATE_SCHOOLS)
    seamless = district.sync(bundle(tmp_path / "n1", roster(same)))
    assert seamless.status == "applied"
    assert seamless.summary.counts["students"] == {"unchanged": 25}
    assert district.scalar("select count(*) from sync.id_changes") == 0

    # ... then student_number is remapped to other values for 6 of 25 (24% > 20%): held
    other = {i: (f"num-{i}" if i <= 6 else f"sis-s{i}") for i in range(1, 26)}
    held = district.sync(bundle(tmp_path / "n2", roster(other)))
    assert held.status in ("held", "requires_review")  # the review workflow names it so
    [reason] = [r for r in held.summary.reasons if "primary ID" in r]
    assert "students: 6 of 25 matched records would change their primary ID" in reason
    assert "24.0% > 20% max_id_change_pct" in reason
    assert district.scalar("select count(*) from sync.id_changes where primary_id_change") == 6
    assert district.roster_snapshot()["users"] == before["users"]

    # a district that expects the switch raises the threshold: applied, IDs rewritten in place
    reconfigure(district, tmp_path / "n0", field_mapping={"student_number": "sis_id"},
                guard={"max_id_change_pct": 30}, **CREATE_SCHOOLS)
    applied = district.sync(bundle(tmp_path / "n3", roster(other)))
    assert applied.status == "applied"
    assert applied.summary.counts["students"] == {"update": 6, "unchanged": 19}
    assert district.users()["s1"][2] == "num-1"
    assert district.scalar("select count(*) from roster.users where role = 'student'") == 25


def test_unmatched_school_names_closest_app_names_then_matches_by_custom_name(tmp_path: Path):
    users = [teacher("t1", "sch1"), student("s1", "sch1"), student("s2", "sch1")]
    district = make_district(tmp_path, bundle(tmp_path / "n0", users, "North High"))
    district.query(
        "insert into roster.schools (app_id, custom_name) values (1, 'North High School'), "
        "(2, 'Northside Elementary'), (3, 'South Middle'), (4, 'Westfield Academy')")

    first = district.sync()
    [error] = district.errors(first.run_id, "SCHOOL_NOT_MATCHED")
    assert (error["source_id"], error["error_value"]) == ("sch1", "North High")
    closest = error["message"].split("closest app names: ")[1].split(";")[0].split(" | ")
    assert closest[0] == "North High School"
    assert sorted(closest) == ["North High School", "Northside Elementary", "South Middle"]
    assert "held back: 2 students, 1 educators, 1 sections, 3 enrollments" in error["message"]
    assert district.scalar("select count(*) from roster.users") == 0

    reconfigure(district, tmp_path / "n0", schools={"custom_names": {"sch1": "North High School"}})
    second = district.sync()
    assert district.errors(second.run_id, "SCHOOL_NOT_MATCHED") == []
    assert district.query("select matched_rule, app_id from sync.matches "
                          "where entity = 'schools'") == [("name", 1)]
    assert district.query("select distinct school_app_id from roster.users") == [(1,)]
    assert second.summary.counts["students"] == {"create": 2}


def test_field_mapping_required_fields_grades_and_programs(tmp_path: Path):
    settings = {
        "field_mapping": {"middle_name": "not_imported"},
        "required_fields": {"students": ["sis_id", "first_name", "last_name", "grade", "email"]},
        "programs": ["ELL", "Special Ed", "FRL"],
        **CREATE_SCHOOLS,
    }
    users = [
        teacher("t1", "sch1"),
        student("s1", "sch1", middleName="Quinn", grades="Kindergarten"),
        student("s2", "sch1", email="", grades="PreKindergarten"),
        student("s3", "sch1", grades="Grade Thirteen"),
    ]
    extra = {"s1": {"metadata.programs": "special ed; Robotics", "metadata.ell": "true"},
             "s3": {"metadata.frl": "Y"}}
    district = make_district(tmp_path, bundle(tmp_path / "n0", users, extra_columns=extra),
                             **settings)

    first = district.sync()
    assert first.status == "applied"
    errors = district.errors(first.run_id)
    assert [(e["error_code"], e["source_id"], e["field"], e["error_value"]) for e in errors] == [
        ("INVALID_GRADE", "s3", "grade", "Grade Thirteen"),
        ("INVALID_PROGRAM_NAME", "s1", "programs", "Robotics"),
        ("VALUE_NOT_SPECIFIED", "s2", "email", None),
    ]
    # an unknown program does not block the record: s1 imports with its valid programs
    assert district.query(
        "select source_id, grade, middle_name, programs from roster.users where role = 'student'"
    ) == [("s1", "KG", None, ["ELL", "Special Ed"])]

    # night 1: the district maps the grade value; s2's email is filled in
    users[2] = student("s2", "sch1", grades="PreKindergarten")
    reconfigure(district, tmp_path / "n0", grade_codes={"Grade Thirteen": "13"}, **settings)
    second = district.sync(bundle(tmp_path / "n1", users, extra_columns=extra))
    assert [e["error_code"] for e in district.errors(second.run_id)] == ["INVALID_PROGRAM_NAME"]
    assert dict(district.query(
        "select source_id, [grade, array_to_string(programs, ',')] from roster.users "
        "where role = 'student'")) == {
        "s1": ["KG", "ELL,Special Ed"], "s2": ["PK", ""], "s3": ["13", "FRL"]}
