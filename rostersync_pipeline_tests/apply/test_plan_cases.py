"""``sync.plan_*`` and ``sync.sync_plan`` case by case, on a real in-memory DuckDB.

Each case is ``description / incoming / app roster / config / landing / expected``: the incoming
``core.*`` rows and the app's ``roster.*`` rows of a tiny district (see
``rostersync_pipeline_tests/fixtures/tiny_district.py``), the district config, what the fetch
landed, and every row the per-entity plans (``plan_schools``, ``plan_users``,
``plan_user_schools``, ``plan_sections``, ``plan_enrollments``) must hold as ``(entity, action,
app_id, source_id, changed_fields)``, with the run's error rows (none unless listed).
``sync.sync_plan`` must hold exactly the rows that change the roster (create, update,
reactivate, deactivate): the tiny district has no terms or courses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from rostersync_pipeline.lib.ingest.landing import FetchResult
from rostersync_pipeline_tests.fixtures.tiny_district import (
    RUN_ID,
    Row,
    TinyDistrict,
    app_enrollment,
    app_school,
    app_section,
    app_student,
    educator,
    enrollment,
    landing,
    match_and_plan,
    rows,
    school,
    section,
    sorted_rows,
    student,
)

CHANGES = ("create", "update", "reactivate", "deactivate")
# the fields a create sets for a default student / section (see the fixture's defaults)
NEW_STUDENT = ["source_id", "sis_id", "first_name", "last_name", "grade"]
NEW_SECTION = ["source_id", "name"]
NEW_LINK = ["user_app_id", "school_app_id", "is_primary"]
PLANS = ("plan_schools", "plan_users", "plan_user_schools", "plan_sections", "plan_enrollments")
PLAN_SQL = " union all ".join(
    f"select entity, action, app_id, source_id, changed_fields from sync.{plan}" for plan in PLANS
)


@dataclass(frozen=True)
class Case:
    description: str
    incoming: Sequence[Row]
    app: Sequence[Row]
    # (entity, action, app_id, source_id, changed_fields), over every per-entity plan
    plan: Sequence[tuple]
    config: Mapping[str, Any] = field(default_factory=dict)
    fetch: FetchResult = field(default_factory=landing)
    # (record_type, error_code, source_id, field)
    errors: Sequence[tuple] = ()


# An incoming s1 and two app students: a landing that no longer lists s2 (app record 8).
KEPT = [student("s1", sis_id="S1")]
ON_FILE = [app_student(7, "s1", sis_id="S1"), app_student(8, "s2", sis_id="S2")]

CASES = [
    Case(
        "new records are created with app ids above the current max, one sequence for "
        "students and educators; changed_fields are the fields the create sets",
        incoming=[student("s-b", sis_id="B"), student("s-a", sis_id="A"),
                  educator("t1", email="t1@example.org")],
        app=[app_student(3, "s-old", sis_id="OLD", status="inactive"),
             app_student(41, "s-gone", sis_id="GONE", status="inactive")],
        plan=[("students", "create", 42, "s-a", NEW_STUDENT),
              ("students", "create", 43, "s-b", NEW_STUDENT),
              ("educators", "create", 44, "t1", ["source_id", "email", "first_name", "last_name"])],
    ),
    Case(
        "an update lists exactly the fields that changed",
        incoming=[student("s1", sis_id="S1", email="ada.king@example.org", last_name="King",
                          grade_raw="6", grade_code="06")],
        app=[app_student(7, "s1", sis_id="S1", email="ada.byron@example.org")],
        plan=[("students", "update", 7, "s1", ["email", "last_name", "grade"])],
    ),
    Case(
        "an empty incoming value never blanks a stored one",
        incoming=[student("s1", sis_id="S1"), student("s2", sis_id="S2", last_name="King")],
        app=[app_student(7, "s1", sis_id="S1", email="ada@example.org", middle_name="Augusta",
                         state_id="ST-1", username="abyron", programs=["ELL"]),
             app_student(8, "s2", sis_id="S2", email="s2@example.org", middle_name="Augusta")],
        plan=[("students", "unchanged", 7, "s1", []),
              ("students", "update", 8, "s2", ["last_name"])],
    ),
    Case(
        "a record that matches and holds the same values is unchanged (and not in sync_plan)",
        incoming=[student("s1", sis_id="S1"), section("sec1"), enrollment("sec1", "s1")],
        app=[app_student(7, "s1", sis_id="S1"), app_section(20, "sec1"),
             app_enrollment(30, 20, 7)],
        plan=[("students", "unchanged", 7, "s1", []),
              ("sections", "unchanged", 20, "sec1", []),
              ("enrollments", "unchanged", 30, "sec1:s1:student", [])],
    ),
    Case(
        "a deactivated record that comes back is reactivated under its app id",
        incoming=[student("s1", sis_id="S1"), student("s2", sis_id="S2", last_name="King")],
        app=[app_student(7, "s1", sis_id="S1", status="inactive"),
             app_student(8, "s2", sis_id="S2", status="inactive")],
        plan=[("students", "reactivate", 7, "s1", []),
              ("students", "reactivate", 8, "s2", ["last_name"])],
    ),
    Case(
        "a rotated id updates the same app record, source_id in its changed fields",
        incoming=[student("s1-new", sis_id="S1")],
        app=[app_student(7, "s1-old", sis_id="S1")],
        plan=[("students", "update", 7, "s1-new", ["source_id"])],
    ),
    Case(
        "a complete bulk landing deactivates the records it no longer lists",
        incoming=[*KEPT, section("sec1"), enrollment("sec1", "s1")],
        app=[*ON_FILE, app_student(9, "s9", sis_id="S9", status="inactive"),
             app_section(20, "sec1"), app_section(21, "sec2"),
             app_enrollment(30, 20, 7, source_id="sec1:s1:student"),
             app_enrollment(31, 20, 8, source_id="sec1:s2:student"),
             app_enrollment(32, 21, 7, source_id="sec2:s1:student")],
        plan=[("students", "unchanged", 7, "s1", []),
              ("students", "deactivate", 8, "s2", []),
              ("sections", "unchanged", 20, "sec1", []),
              ("sections", "deactivate", 21, "sec2", []),
              ("enrollments", "unchanged", 30, "sec1:s1:student", []),
              ("enrollments", "deactivate", 31, "sec1:s2:student", []),
              ("enrollments", "deactivate", 32, "sec2:s1:student", [])],
    ),
    Case(
        "an incomplete fetch deactivates nothing, neither missing nor deleted records",
        incoming=[*KEPT, student("s3", sis_id="S3", is_deleted=True)],
        app=[*ON_FILE, app_student(9, "s3", sis_id="S3")],
        fetch=landing(complete=False),
        plan=[("students", "unchanged", 7, "s1", []),
              ("students", "unchanged", 9, "s3", [])],
        errors=[("file", "FETCH_INCOMPLETE", None, None)],
    ),
    Case(
        "users landed as a delta: a record it does not list stays, one it marks deleted goes",
        incoming=[*KEPT, student("s3", sis_id="S3", is_deleted=True)],
        app=[*ON_FILE, app_student(9, "s3", sis_id="S3")],
        fetch=landing(users="delta"),
        plan=[("students", "unchanged", 7, "s1", []),
              ("students", "deactivate", 9, "s3", [])],
    ),
    Case(
        "import_rule create_update never deactivates",
        incoming=[*KEPT, student("s3", sis_id="S3", is_deleted=True)],
        app=[*ON_FILE, app_student(9, "s3", sis_id="S3")],
        config={"import_rule": "create_update"},
        plan=[("students", "unchanged", 7, "s1", []),
              ("students", "unchanged", 9, "s3", [])],
    ),
    Case(
        "records made by hand in the app (origin manual) are never deactivated",
        incoming=[*KEPT, student("s3", sis_id="S3", is_deleted=True)],
        app=[app_student(7, "s1", sis_id="S1"), app_student(8, "s2", origin="manual"),
             app_student(9, "s3", sis_id="S3", origin="manual")],
        plan=[("students", "unchanged", 7, "s1", []),
              ("students", "unchanged", 9, "s3", [])],
    ),
    Case(
        "a record the source marks deleted is deactivated; a deleted record the app never had "
        "is skipped",
        incoming=[student("s1", sis_id="S1", is_deleted=True),
                  student("s9", sis_id="S9", is_deleted=True),
                  section("sec1", is_deleted=True), enrollment("sec1", "s1", is_deleted=True)],
        app=[app_student(7, "s1", sis_id="S1"), app_section(20, "sec1"),
             app_enrollment(30, 20, 7, source_id="sec1:s1:student")],
        plan=[("students", "deactivate", 7, "s1", []),
              ("sections", "deactivate", 20, "sec1", []),
              ("enrollments", "deactivate", 30, "sec1:s1:student", [])],
    ),
    Case(
        "update_only: new records are skipped, matched ones updated, none deactivated",
        incoming=[student("s1", sis_id="S1", last_name="King"), student("s9", sis_id="S9"),
                  section("sec9"), enrollment("sec9", "s1")],
        app=ON_FILE,
        config={"import_rule": "update_only"},
        plan=[("students", "update", 7, "s1", ["last_name"])],
    ),
    Case(
        "an enrollment whose user is held back by an error is left alone: not created, "
        "not deactivated",
        incoming=[student("s1", sis_id="S1", last_name=None), student("s2", sis_id="S2"),
                  section("sec1"), section("sec2"),
                  enrollment("sec1", "s2"), enrollment("sec2", "s1")],
        app=[*ON_FILE, app_section(20, "sec1"),
             app_enrollment(30, 20, 7), app_enrollment(31, 20, 8)],
        plan=[("students", "unchanged", 8, "s2", []),
              ("sections", "unchanged", 20, "sec1", []),
              ("sections", "create", 21, "sec2", NEW_SECTION),
              ("enrollments", "unchanged", 31, "sec1:s2:student", [])],
        errors=[("student", "VALUE_NOT_SPECIFIED", "s1", "last_name")],
    ),
    Case(
        "enrollments: created above the max app id, reactivated, deactivated when no longer "
        "listed",
        incoming=[student("s1", sis_id="S1"), student("s3", sis_id="S3"), section("sec1"),
                  enrollment("sec1", "s1"), enrollment("sec1", "s3")],
        app=[*ON_FILE, app_section(20, "sec1"),
             app_enrollment(50, 20, 7, status="inactive"),
             app_enrollment(51, 20, 8, source_id="sec1:s2:student"),
             app_enrollment(52, 20, 7, role="teacher", status="inactive")],
        plan=[("students", "unchanged", 7, "s1", []),
              ("students", "deactivate", 8, "s2", []),
              ("students", "create", 9, "s3", NEW_STUDENT),
              ("sections", "unchanged", 20, "sec1", []),
              ("enrollments", "reactivate", 50, "sec1:s1:student", []),
              ("enrollments", "deactivate", 51, "sec1:s2:student", []),
              ("enrollments", "create", 53, "sec1:s3:student", [])],
    ),
    Case(
        "sections: created, updated with their changed fields, unchanged, deactivated",
        incoming=[section("sec1", section_name="Algebra I", term_name="Fall"), section("sec2"),
                  section("sec4", course_name="Geometry")],
        app=[app_section(20, "sec1", term_name="Spring"), app_section(21, "sec2"),
             app_section(22, "sec3")],
        plan=[("sections", "update", 20, "sec1", ["name", "term_name"]),
              ("sections", "unchanged", 21, "sec2", []),
              ("sections", "create", 23, "sec4", ["source_id", "name", "course_name"]),
              ("sections", "deactivate", 22, "sec3", [])],
    ),
    Case(
        "app records an ambiguous incoming record points at are not deactivated",
        incoming=[student("s1", sis_id="S1", email="ada@example.org")],
        app=[app_student(7, "x7", email="ada@example.org"),
             app_student(8, "x8", email="ADA@example.org")],
        config={"match_keys": {"students": ["email"]}},
        plan=[],
        errors=[("student", "EXACT_MATCH_MULTIPLE", "s1", "email")],
    ),
    Case(
        "an unmatched school is held back with its people, sections and enrollments; their app "
        "records are not deactivated",
        incoming=[school("sch1", "North High"), school("sch2", "East High"),
                  student("s1", "sch1", sis_id="S1"), student("s2", "sch2", sis_id="S2"),
                  section("sec1", "sch1"), section("sec2", "sch2"),
                  enrollment("sec1", "s2"), enrollment("sec2", "s1")],
        app=[app_school(3, "North High", source_id="sch1"),
             app_student(7, "s1", sis_id="S1", school_app_id=3),
             app_student(8, "s2", sis_id="S2"), app_section(20, "sec1", school_app_id=3),
             app_enrollment(31, 20, 8)],
        plan=[("schools", "unchanged", 3, "sch1", []),
              ("schools", "unmatched", None, "sch2", ["source_id"]),
              ("students", "unchanged", 7, "s1", []),
              ("user_schools", "create", 1, "s1@sch1", NEW_LINK),
              ("sections", "unchanged", 20, "sec1", [])],
        errors=[("school", "SCHOOL_NOT_MATCHED", "sch2", "name")],
    ),
    Case(
        "create_unmatched: a new school is created above the max app id and its people "
        "placed in it",
        incoming=[school("sch2", "East High", sis_id="E-1"), student("s2", "sch2", sis_id="S2")],
        app=[app_school(3, "North High")],
        config={"schools": {"create_unmatched": True}},
        plan=[("schools", "create", 4, "sch2", ["source_id", "sis_id"]),
              ("students", "create", 1, "s2", [*NEW_STUDENT, "school_app_id"]),
              ("user_schools", "create", 1, "s2@sch2", NEW_LINK)],
    ),
    Case(
        "an enrollment whose section is held back by an error is left alone",
        incoming=[student("s1", sis_id="S1"), section("sec1", section_name=None),
                  enrollment("sec1", "s1")],
        app=[app_student(7, "s1", sis_id="S1"), app_section(20, "sec1"),
             app_enrollment(30, 20, 7)],
        plan=[("students", "unchanged", 7, "s1", [])],
        errors=[("section", "VALUE_NOT_SPECIFIED", "sec1", "name")],
    ),
    Case(
        "two incoming records that match one app record: neither is imported, the app record "
        "stays",
        incoming=[student("s1", sis_id="S1"), student("s1b", sis_id="S1B", email="ada@example.org")],
        app=[app_student(7, "s1", sis_id="S1", email="ada@example.org")],
        plan=[],
        errors=[("student", "DUPLICATE_RECORD", "s1", None),
                ("student", "DUPLICATE_RECORD", "s1b", None)],
    ),
    Case(
        "email changed in the SIS only (email-first): not imported, its app record not "
        "deactivated",
        incoming=[student("s1", sis_id="S1", email="ada.king@example.org")],
        app=[app_student(7, "s1", sis_id="S1", email="ada.byron@example.org")],
        config={"match_keys": {"students": ["email"]}},
        plan=[],
        errors=[("student", "EMAIL_CHANGED_IN_SIS", "s1", "email")],
    ),
    Case(
        "a refused ID (UNSAFE_VALUE) stops that entity's deactivations",
        incoming=[*KEPT, student("s3", sis_id="S\x003")],
        app=ON_FILE,
        plan=[("students", "unchanged", 7, "s1", [])],
        errors=[("student", "UNSAFE_VALUE", "s3", "sis_id")],
    ),
    Case(
        "programs are stored under the district's spelling; an unknown one is reported and "
        "dropped without blocking the record",
        incoming=[student("s1", sis_id="S1", program_names=["ell", "Chess"]),
                  student("s2", sis_id="S2", program_names=["iep"])],
        app=[app_student(7, "s1", sis_id="S1", programs=["ELL"]),
             app_student(8, "s2", sis_id="S2", programs=["ELL"])],
        config={"programs": ["ELL", "IEP"]},
        plan=[("students", "unchanged", 7, "s1", []),
              ("students", "update", 8, "s2", ["programs"])],
        errors=[("student", "INVALID_PROGRAM_NAME", "s1", "programs")],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.description for case in CASES])
def test_plan(case: Case) -> None:
    district = TinyDistrict(incoming=case.incoming, app=case.app, config=case.config,
                            fetch=case.fetch)
    with match_and_plan(district) as con:
        plan = rows(con, PLAN_SQL)
        sync_plan = rows(con, "select run_id, entity, action, app_id, source_id, changed_fields "
                              "from sync.sync_plan")
        errors = rows(con, "select record_type, error_code, source_id, field from sync.run_errors")

    assert plan == sorted_rows(case.plan)
    assert sync_plan == sorted_rows([(RUN_ID, *row) for row in case.plan if row[1] in CHANGES])
    assert errors == sorted_rows(case.errors)
