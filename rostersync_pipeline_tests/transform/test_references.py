"""References between records, one case per problem, through real syncs (issue #10.3).

A user's orgs, a section's school, course and term, an enrollment's school, section and user,
a course's org and school year, a term's parent: a reference to nothing (not in this landing,
nor, for an entity the landing does not send whole, in the app) is REFERENCE_NOT_FOUND, a
section whose school is another kind of org INVALID_REFERENCE, a school that cannot take
records SCHOOL_INACTIVE. The record is not imported (never half-linked); what depends on it
waits with it, without a row of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from rostersync_pipeline_tests.helpers import enrollment, org, section, student
from rostersync_pipeline_tests.transform.bad_input import (
    NIGHT_0,
    NIGHT_0_ENROLLMENTS,
    NIGHT_0_SECTIONS,
    NIGHT_0_USERS,
    AppSchoolStatus,
    Bundle,
    CombinedCase,
    CombinedCases,
    Expected,
    assert_expected,
    course,
    ids,
    session,
    user_rows,
)

# A landing that sends only changed users: orgs, classes, enrollments and sessions not sent.
USERS_DELTA = {"file.users": "delta", "file.orgs": "absent", "file.classes": "absent",
               "file.enrollments": "absent"}
CLASSES_DELTA = {"file.classes": "delta", "file.orgs": "absent", "file.users": "absent",
                 "file.enrollments": "absent"}


@dataclass(frozen=True)
class Case:
    description: str
    bundle: Bundle
    expected: Expected
    app_school_inactive: str | None = None


def missing(field_name: str, value: str, file: str, row: int) -> tuple:
    return ("REFERENCE_NOT_FOUND", field_name, value, file, row)


def with_class(**fields: str) -> tuple[dict[str, str], ...]:
    return ({**NIGHT_0.classes[0], **fields},)


SEC2 = section("sec2", "sch9")
HELD_ENROLLMENT = enrollment("e-s1-sec2", "sec2", "s1", "sch1")

CASES = [
    Case("a class whose school is not in orgs.csv (once imported with no school and no "
         "error): not imported, nor its enrollments",
         NIGHT_0.but(classes=[*NIGHT_0.classes, SEC2],
                     enrollments=[*NIGHT_0.enrollments, HELD_ENROLLMENT]),
         Expected({missing("school", "sch9", "classes.csv", 3)}, sections=NIGHT_0_SECTIONS,
                  enrollments=NIGHT_0_ENROLLMENTS)),
    Case("a class whose school is the district org: INVALID_REFERENCE",
         NIGHT_0.but(classes=[*NIGHT_0.classes, section("sec2", "dist1")]),
         Expected({("INVALID_REFERENCE", "school", "dist1", "classes.csv", 3)},
                  sections=NIGHT_0_SECTIONS)),
    Case("a user one of whose orgs is not in orgs.csv: not imported, the app record left as "
         "it is",
         NIGHT_0.but(users=user_rows(s2={"orgSourcedIds": "sch1,sch9", "grades": "06"})),
         Expected({missing("orgs", "sch9", "users.csv", 3)}, users=NIGHT_0_USERS,
                  enrollments=NIGHT_0_ENROLLMENTS)),
    Case("a user whose orgs include the district: found, imported",
         NIGHT_0.but(users=user_rows(s2={"orgSourcedIds": "sch1,dist1"})),
         Expected(users=NIGHT_0_USERS)),
    Case("an enrollment whose school is not in orgs.csv: not imported, the app enrollment "
         "left active",
         NIGHT_0.but(enrollments=[*NIGHT_0.enrollments[:1],
                                  {**NIGHT_0.enrollments[1], "schoolSourcedId": "sch9"},
                                  *NIGHT_0.enrollments[2:]]),
         Expected({missing("school", "sch9", "enrollments.csv", 3)},
                  enrollments=NIGHT_0_ENROLLMENTS)),
    Case("an enrollment whose class is nowhere: ORPHAN_ENROLLMENT",
         NIGHT_0.but(enrollments=[*NIGHT_0.enrollments,
                                  enrollment("e-x", "sec9", "s1", "sch1")]),
         Expected({("ORPHAN_ENROLLMENT", "section", "sec9", "enrollments.csv", 5)},
                  enrollments=NIGHT_0_ENROLLMENTS)),
    Case("a class whose term is not in a bulk academicSessions.csv: not imported, nor its "
         "enrollments",
         NIGHT_0.but(classes=with_class(termSourcedIds="term9")),
         Expected({missing("term", "term9", "classes.csv", 2)}, sections=NIGHT_0_SECTIONS,
                  enrollments=NIGHT_0_ENROLLMENTS)),
    Case("a class whose term the landing does not send at all, nor the app has: not imported",
         NIGHT_0.but(classes=with_class(termSourcedIds="term9"), academicSessions=()),
         Expected({missing("term", "term9", "classes.csv", 2)}, sections=NIGHT_0_SECTIONS,
                  enrollments=NIGHT_0_ENROLLMENTS)),
    Case("a class whose term the landing does not send, but the app has: imported",
         NIGHT_0.but(classes=with_class(termSourcedIds="term1", title="Renamed"),
                     academicSessions=()),
         Expected(sections=NIGHT_0_SECTIONS, enrollments=NIGHT_0_ENROLLMENTS)),
    Case("a class whose course is not in a bulk courses.csv",
         NIGHT_0.but(classes=with_class(courseSourcedId="crs9"),
                     courses=[course("crs1", "sch1")]),
         Expected({missing("course", "crs9", "classes.csv", 2)}, sections=NIGHT_0_SECTIONS)),
    Case("a course whose org is not in orgs.csv: not imported, its class waits with it",
         NIGHT_0.but(classes=with_class(courseSourcedId="crs1"),
                     courses=[course("crs1", "sch9")]),
         Expected({missing("org", "sch9", "courses.csv", 2)}, sections=NIGHT_0_SECTIONS,
                  enrollments=NIGHT_0_ENROLLMENTS)),
    Case("a course whose org is the district: found",
         NIGHT_0.but(classes=with_class(courseSourcedId="crs1"),
                     courses=[course("crs1", "dist1")]),
         Expected(sections=NIGHT_0_SECTIONS)),
    Case("a course whose school year is not in academicSessions.csv",
         NIGHT_0.but(classes=with_class(courseSourcedId="crs1"),
                     courses=[course("crs1", "sch1", schoolYearSourcedId="year9")]),
         Expected({missing("school_year", "year9", "courses.csv", 2)},
                  sections=NIGHT_0_SECTIONS)),
    Case("a term whose parent is not in academicSessions.csv: its class waits with it",
         NIGHT_0.but(academicSessions=[session("term1", parentSourcedId="year9")]),
         Expected({missing("parent", "year9", "academicSessions.csv", 2)},
                  sections=NIGHT_0_SECTIONS, enrollments=NIGHT_0_ENROLLMENTS)),
    Case("a term whose parent is in the file: found",
         NIGHT_0.but(academicSessions=[session("term1", parentSourcedId="year1"),
                                       session("year1", type="schoolYear")]),
         Expected(sections=NIGHT_0_SECTIONS)),
    Case("a users delta without orgs: an org the app has is found",
         NIGHT_0.but(users=user_rows(s2={"grades": "06"})[1:2], manifest=USERS_DELTA),
         Expected(users={**NIGHT_0_USERS, "s2": ("active", None, "06", True)})),
    Case("a users delta without orgs: an org neither landed nor in the app is not found",
         NIGHT_0.but(users=user_rows(s2={"orgSourcedIds": "sch9", "grades": "06"})[1:2],
                     manifest=USERS_DELTA),
         Expected({missing("orgs", "sch9", "users.csv", 2)}, users=NIGHT_0_USERS)),
    Case("a person whose school the app has deactivated, in a delta that does not resend "
         "schools (once silently left out): SCHOOL_INACTIVE, held, the app record as it was",
         NIGHT_0.but(users=user_rows(s2={"grades": "06"})[1:2], manifest=USERS_DELTA),
         Expected({("SCHOOL_INACTIVE", "school", "sch1", "users.csv", 2)},
                  users=NIGHT_0_USERS),
         app_school_inactive="sch1"),
    Case("a section whose school the app has deactivated (once imported without a school): "
         "SCHOOL_INACTIVE",
         NIGHT_0.but(classes=with_class(title="Algebra II"), academicSessions=(),
                     manifest=CLASSES_DELTA),
         Expected({("SCHOOL_INACTIVE", "school", "sch1", "classes.csv", 2)},
                  sections=NIGHT_0_SECTIONS),
         app_school_inactive="sch1"),
    Case("a new person at a new school the source marks deleted: SCHOOL_INACTIVE",
         NIGHT_0.but(orgs=[*NIGHT_0.orgs, org("sch2", "Old School", status="tobedeleted")],
                     users=[*NIGHT_0.users, student("s3", "sch2")]),
         Expected({("SCHOOL_INACTIVE", "school", "sch2", "users.csv", 5)},
                  users=NIGHT_0_USERS)),
]


# The case of the last test: a users delta resending s2 as it is, its school deactivated.
NAMED_SCHOOL = CombinedCase("the error row names the school",
                            NIGHT_0.but(users=user_rows()[1:2], manifest=USERS_DELTA),
                            before=AppSchoolStatus("sch1", "inactive"))


@pytest.fixture(scope="module")
def combined(tmp_path_factory: pytest.TempPathFactory) -> CombinedCases:
    cases = [CombinedCase(case.description, case.bundle,
                          AppSchoolStatus(case.app_school_inactive, "inactive")
                          if case.app_school_inactive else None) for case in CASES]
    return CombinedCases(tmp_path_factory.mktemp("references"), [*cases, NAMED_SCHOOL])


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_reference(case: Case, combined: CombinedCases) -> None:
    assert_expected(combined.run(case.description), case.expected)


def test_an_error_row_names_the_school_that_holds_the_person_back(
        combined: CombinedCases) -> None:
    (row,) = combined.run(NAMED_SCHOOL.name).errors("SCHOOL_INACTIVE")
    assert row["record_type"] == "student" and row["source_id"] == "s2"
    assert "North High" in row["message"] and "deactivated in the app" in row["message"]
    assert row["app_id"] is not None and row["remediation"]
