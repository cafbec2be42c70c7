"""Contradictory input, one case per problem, through real syncs (issue #10.4).

An enrollment role that contradicts the person's (ROLE_MISMATCH: not imported), a source id
listed twice with different data (DUPLICATE_SOURCE_ID on each copy: none imported, the app
record left as it is; identical copies are one record), ``enabledUser=false`` (the person is
deactivated at the source, like ``tobedeleted``: no error row), a grade list with several
values (MULTIPLE_GRADES: the first is stored), a user with two different primary roles.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from rostersync_pipeline_tests.helpers import enrollment, make_district, student
from rostersync_pipeline_tests.transform.bad_input import (
    NIGHT_0,
    NIGHT_0_ENROLLMENTS,
    NIGHT_0_SECTIONS,
    NIGHT_0_USERS,
    Bundle,
    CombinedCase,
    CombinedCases,
    Expected,
    assert_expected,
    clever_csv_bundle,
    error_rows,
    ids,
    roster_users,
    user_rows,
)


@dataclass(frozen=True)
class Case:
    description: str
    bundle: Bundle
    expected: Expected


def with_enrollment(position: int, **fields: str) -> tuple[dict[str, str], ...]:
    rows = list(NIGHT_0.enrollments)
    rows[position] = {**rows[position], **fields}
    return tuple(rows)


def mismatch(value: str, row: int) -> tuple:
    return ("ROLE_MISMATCH", "role", value, "enrollments.csv", row)


def copy_of(source_id: str, row: int, file: str = "users.csv") -> tuple:
    return ("DUPLICATE_SOURCE_ID", "source_id", source_id, file, row)


GUARDIAN = {**student("g1", "sch1"), "role": "guardian", "grades": ""}
S2_RENAMED = {**NIGHT_0.users[1], "familyName": "Other"}
ROLES_HEADER_USERS = user_rows(s2={"role": ""})

CASES = [
    Case("a student enrolled with the teacher role (once a teacher enrollment): not imported, "
         "the app enrollment left active",
         NIGHT_0.but(enrollments=with_enrollment(1, role="teacher")),
         Expected({mismatch("teacher", 3)}, enrollments=NIGHT_0_ENROLLMENTS)),
    Case("an educator in a student enrollment: not imported",
         NIGHT_0.but(enrollments=with_enrollment(2, role="student")),
         Expected({mismatch("student", 4)}, enrollments=NIGHT_0_ENROLLMENTS)),
    Case("a guardian in an enrollment (once dropped silently): ROLE_MISMATCH; the guardian is "
         "imported, without the enrollment",
         NIGHT_0.but(users=[*NIGHT_0.users, GUARDIAN],
                     enrollments=[*NIGHT_0.enrollments, enrollment("e-g1", "sec1", "g1", "sch1")]),
         Expected({mismatch("student", 5)},
                  users={**NIGHT_0_USERS, "g1": ("active", None, None, False)},
                  enrollments=NIGHT_0_ENROLLMENTS)),
    Case("a user listed twice with different data (once: the last copy won): a row per copy, "
         "none imported, the app record and its enrollments as they were",
         NIGHT_0.but(users=[*NIGHT_0.users, S2_RENAMED]),
         Expected({copy_of("s2", 3), copy_of("s2", 5)}, users=NIGHT_0_USERS,
                  enrollments=NIGHT_0_ENROLLMENTS)),
    Case("a user listed twice with the same data: one record, no row",
         NIGHT_0.but(users=[*NIGHT_0.users, NIGHT_0.users[1]]),
         Expected(users=NIGHT_0_USERS, enrollments=NIGHT_0_ENROLLMENTS)),
    Case("a class listed twice with different data: a row per copy, neither imported",
         NIGHT_0.but(classes=[*NIGHT_0.classes, {**NIGHT_0.classes[0], "title": "Other"}]),
         Expected({copy_of("sec1", 2, "classes.csv"), copy_of("sec1", 3, "classes.csv")},
                  sections=NIGHT_0_SECTIONS, enrollments=NIGHT_0_ENROLLMENTS)),
    Case("an enrollment listed twice with different data: a row per copy",
         NIGHT_0.but(enrollments=[*NIGHT_0.enrollments,
                                  {**NIGHT_0.enrollments[0], "primary": "true"}]),
         Expected({copy_of("e-s1", 2, "enrollments.csv"), copy_of("e-s1", 5, "enrollments.csv")},
                  enrollments=NIGHT_0_ENROLLMENTS)),
    Case("enabledUser=false: the person is deactivated at the source (like tobedeleted), no "
         "error row",
         NIGHT_0.but(users=user_rows(s2={"enabledUser": "false"})),
         Expected(users={**NIGHT_0_USERS, "s2": ("inactive", None, "05", True)})),
    Case("enabledUser=false for a new person: not created, no error row",
         NIGHT_0.but(users=[*NIGHT_0.users, student("s3", "sch1", enabledUser="FALSE")]),
         Expected(users=NIGHT_0_USERS)),
    Case("a grade list with several values: MULTIPLE_GRADES (not blocking), the first stored",
         NIGHT_0.but(users=user_rows(s2={"grades": "06,07"})),
         Expected({("MULTIPLE_GRADES", "grade", "06,07", "users.csv", 3)},
                  users={**NIGHT_0_USERS, "s2": ("active", None, "06", True)})),
    Case("one grade repeated: no row",
         NIGHT_0.but(users=user_rows(s2={"grades": "06, 06"})),
         Expected(users={**NIGHT_0_USERS, "s2": ("active", None, "06", True)})),
    Case("a user whose roles.csv gives two different primary roles: the role cannot be read",
         NIGHT_0.but(users=ROLES_HEADER_USERS, roles=[
             {"sourcedId": "r1", "status": "active", "userSourcedId": "s2",
              "roleType": "primary", "role": "student", "orgSourcedId": "sch1"},
             {"sourcedId": "r2", "status": "active", "userSourcedId": "s2",
              "roleType": "primary", "role": "teacher", "orgSourcedId": "sch1"}]),
         Expected({("INVALID_VALUE", "role", "student | teacher", "roles.csv", 2)},
                  users=NIGHT_0_USERS, enrollments=NIGHT_0_ENROLLMENTS)),
]


@pytest.fixture(scope="module")
def combined(tmp_path_factory: pytest.TempPathFactory) -> CombinedCases:
    return CombinedCases(tmp_path_factory.mktemp("contradictions"),
                         [CombinedCase(case.description, case.bundle) for case in CASES])


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_contradiction(case: Case, combined: CombinedCases) -> None:
    assert_expected(combined.run(case.description), case.expected)


def clever_student(school: str, last_name: str) -> dict[str, str]:
    return {"School_id": school, "Student_id": "1001", "First_name": "Ann",
            "Last_name": last_name, "Grade": "3"}


def test_a_clever_csv_person_listed_at_two_schools_with_different_data(tmp_path: Path) -> None:
    """One row per school is Clever CSV's way to list a person at several schools; rows that
    differ in anything else contradict each other."""
    bundle = clever_csv_bundle(tmp_path / "clever", {
        "schools": [{"School_id": "S1", "School_name": "North"},
                    {"School_id": "S2", "School_name": "South"}],
        "students": [clever_student("S1", "Doe"), clever_student("S2", "Roe"),
                     {**clever_student("S1", "Poe"), "Student_id": "1002"},
                     {**clever_student("S2", "Poe"), "Student_id": "1002"}],
    })
    district = make_district(tmp_path, bundle, source={"type": "clever_csv"},
                             schools={"create_unmatched": True})
    outcome = district.sync()
    assert outcome.status == "applied"
    assert error_rows(district, outcome.run_id) == {copy_of("1001", 2, "students.csv"),
                                                    copy_of("1001", 3, "students.csv")}
    assert set(roster_users(district)) == {"1002"}
    assert district.scalar("select count(*) from core.users where user_source_id = '1002' "
                           "and school_source_ids = ['S1', 'S2']") == 1
