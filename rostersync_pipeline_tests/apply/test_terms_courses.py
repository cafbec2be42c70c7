"""Terms and courses as roster records (issue #13 point 3), through real syncs of tiny bundles.

One district, night after night: terms keep their hierarchy (school year -> semester) as app
ids, courses their school and school year, sections point at both by app id; a renamed term is
an update, a section moving to another term an update of ``term_app_id``, a course the bulk
landing no longer lists a deactivation; a move to another source (every term and course id
new, names, dates and codes the same) keeps the app's terms and courses; history and restore
cover them like every other roster table; a delta that names a term the app does not have is
REFERENCE_NOT_FOUND.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rostersync_pipeline.cli.main import main
from rostersync_pipeline.runner import SyncOutcome
from rostersync_pipeline_tests.helpers import District, enrollment, make_district, org, section
from rostersync_pipeline_tests.transform.bad_input import (
    FALL,
    MATH,
    NIGHT_0,
    SCHOOL_YEAR,
    SCIENCE,
    SPRING,
    Bundle,
    course,
)

ART = course("art", "dist1", courseCode="ART")  # a course of the district: no school

NIGHT_0_TC = NIGHT_0.but(
    academicSessions=[SCHOOL_YEAR, FALL, SPRING],
    courses=[MATH, ART, SCIENCE],
    classes=[section("sec1", "sch1", termSourcedIds="fall", courseSourcedId="math"),
             section("sec2", "sch1", termSourcedIds="spring", courseSourcedId="art")],
    enrollments=[*NIGHT_0.enrollments, enrollment("e2-s1", "sec2", "s1", "sch1")],
)


def renamed(ids: dict[str, str], row: dict[str, str], *fields: str) -> dict[str, str]:
    """``row`` with its own id and the ids in ``fields`` mapped through ``ids``."""
    return {**row, **{f: ids.get(row[f], row[f]) for f in ("sourcedId", *fields) if row.get(f)}}


def terms(district: District) -> dict[str, tuple]:
    """roster.terms by name: (source_id, status, parent's name, start, end)."""
    return {name: (source_id, status, parent, str(start), str(end))
            for name, source_id, status, parent, start, end in district.query(
                "select t.name, t.source_id, t.status, p.name, t.start_date, t.end_date "
                "from roster.terms as t left join roster.terms as p "
                "on p.app_id = t.parent_term_app_id")}


def courses(district: District) -> dict[str, tuple]:
    """roster.courses by code: (source_id, status, school source id, school year's name)."""
    return {code: (source_id, status, school, year)
            for code, source_id, status, school, year in district.query(
                "select c.course_code, c.source_id, c.status, s.source_id, t.name "
                "from roster.courses as c "
                "left join roster.schools as s on s.app_id = c.school_app_id "
                "left join roster.terms as t on t.app_id = c.school_year_app_id")}


def section_links(district: District) -> dict[str, tuple]:
    """roster.sections by source id: (term name, course code) through the app ids."""
    return {source_id: (term, code) for source_id, term, code in district.query(
        "select s.source_id, t.name, c.course_code from roster.sections as s "
        "left join roster.terms as t on t.app_id = s.term_app_id "
        "left join roster.courses as c on c.app_id = s.course_app_id")}


@pytest.fixture(scope="module")
def synced_night_0(tmp_path_factory: pytest.TempPathFactory) -> tuple[District, SyncOutcome]:
    """The district after its night 0 (``NIGHT_0_TC``), synced once per module, and that
    sync's outcome; each test goes on from its own copy."""
    root = tmp_path_factory.mktemp("terms-courses")
    district = make_district(root, NIGHT_0_TC.write(root / "night-0"),
                             schools={"create_unmatched": True})
    return district, district.sync()


def test_terms_and_courses_are_roster_records_night_after_night(
        tmp_path: Path, synced_night_0: tuple[District, SyncOutcome]) -> None:
    district, night_0 = synced_night_0[0].copy_to(tmp_path), synced_night_0[1]
    assert night_0.status == "applied", night_0.failure
    assert district.errors(night_0.run_id) == []
    assert terms(district) == {
        "2025-2026": ("sy", "active", None, "2025-08-01", "2026-06-30"),
        "Fall": ("fall", "active", "2025-2026", "2025-08-01", "2025-12-20"),
        "Spring": ("spring", "active", "2025-2026", "2026-01-05", "2026-06-30"),
    }
    # a course of the district has no school
    assert courses(district) == {"MATH1": ("math", "active", "sch1", "2025-2026"),
                                 "ART": ("art", "active", None, None),
                                 "SCI": ("science", "active", "sch1", "2025-2026")}
    assert section_links(district) == {"sec1": ("Fall", "MATH1"), "sec2": ("Spring", "ART")}
    assert district.scalar("select count(*) from roster.terms_history") == 3

    # night 1: Fall is renamed, sec1 moves to Spring, art is no longer sent (sec2 now teaches
    # science)
    night_1_bundle = NIGHT_0_TC.but(
        academicSessions=[SCHOOL_YEAR, {**FALL, "title": "Fall Semester"}, SPRING],
        courses=[MATH, SCIENCE],
        classes=[section("sec1", "sch1", termSourcedIds="spring", courseSourcedId="math"),
                 section("sec2", "sch1", termSourcedIds="spring", courseSourcedId="science")],
    )
    night_1 = district.sync(night_1_bundle.write(tmp_path / "night-1"))
    assert night_1.status == "applied", (night_1.failure, night_1.summary)
    assert sorted(row[:2] + (row[4],) for row in district.plan()
                  if row[0] in ("terms", "courses", "sections")) == [
        ("courses", "deactivate", []),
        ("sections", "update", ["course_name", "course_app_id"]),
        ("sections", "update", ["term_name", "term_app_id"]),
        ("terms", "update", ["name"]),
    ]
    assert terms(district)["Fall Semester"] == ("fall", "active", "2025-2026", "2025-08-01",
                                                "2025-12-20")
    assert courses(district)["ART"] == ("art", "inactive", None, None)
    assert section_links(district) == {"sec1": ("Spring", "MATH1"), "sec2": ("Spring", "SCI")}
    assert district.scalar("select count(*) from roster.terms_history "
                           "where source_id = 'fall'") == 2

    # night 2: another source sends the same terms and courses under new ids
    ids = {"sy": "SY-26", "fall": "T-FALL", "spring": "T-SPR", "math": "C-MATH",
           "science": "C-SCI"}
    moved = night_1_bundle.but(
        academicSessions=[renamed(ids, row, "parentSourcedId")
                          for row in night_1_bundle.academicSessions],
        courses=[renamed(ids, row, "schoolYearSourcedId") for row in night_1_bundle.courses],
        classes=[renamed(ids, row, "termSourcedIds", "courseSourcedId")
                 for row in night_1_bundle.classes],
    )
    night_2 = district.sync(moved.write(tmp_path / "night-2"))
    assert night_2.status == "applied", (night_2.failure, night_2.summary)
    term_and_course_plan = {(entity, action, tuple(changed))
                            for entity, action, _, _, changed in district.plan()
                            if entity in ("terms", "courses")}
    assert term_and_course_plan == {("terms", "update", ("source_id",)),
                                    ("courses", "update", ("source_id",))}
    assert district.scalar("select count(*) from roster.terms") == 3
    assert {name: row[0] for name, row in terms(district).items()} == {
        "2025-2026": "SY-26", "Fall Semester": "T-FALL", "Spring": "T-SPR"}
    assert section_links(district) == {"sec1": ("Spring", "MATH1"), "sec2": ("Spring", "SCI")}

    # restore to night 0: names, links and the deactivated course come back
    assert main(["restore", district.district_id, "--to-run", night_0.run_id,
                 "--warehouse", str(district.warehouse_dir),
                 "--config-dir", str(district.config_dir)]) == 0
    assert terms(district)["Fall"][1:] == ("active", "2025-2026", "2025-08-01", "2025-12-20")
    assert courses(district)["ART"] == ("art", "active", None, None)
    assert section_links(district) == {"sec1": ("Fall", "MATH1"), "sec2": ("Spring", "ART")}


def test_a_delta_class_in_a_term_the_app_does_not_have_is_not_imported(
        tmp_path: Path, synced_night_0: tuple[District, SyncOutcome]) -> None:
    district = synced_night_0[0].copy_to(tmp_path)
    assert synced_night_0[1].status == "applied"
    delta = Bundle(
        classes=(section("sec3", "sch1", termSourcedIds="winter", courseSourcedId="math"),
                 section("sec4", "sch1", termSourcedIds="fall", courseSourcedId="math")),
        manifest=(("file.classes", "delta"), ("file.orgs", "absent"), ("file.users", "absent"),
                  ("file.enrollments", "absent")),
    )
    outcome = district.sync(delta.write(tmp_path / "delta"))
    assert outcome.status == "applied", (outcome.failure, outcome.summary)
    assert [(e["error_code"], e["field"], e["error_value"], e["source_id"])
            for e in district.errors(outcome.run_id)] == [
        ("REFERENCE_NOT_FOUND", "term", "winter", "sec3")]
    # a term the app already has is found there
    assert section_links(district)["sec4"] == ("Fall", "MATH1")
    assert "sec3" not in section_links(district)


def test_a_course_of_an_unmatched_school_waits_with_the_school(tmp_path: Path) -> None:
    bundle = NIGHT_0_TC.but(orgs=[*NIGHT_0_TC.orgs, org("sch2", "South High")],
                            courses=[*NIGHT_0_TC.courses, course("history", "sch2",
                                                                 courseCode="HIST")])
    district = make_district(tmp_path, bundle.write(tmp_path / "night-0"))
    district.query("insert into roster.schools (app_id, custom_name, source_id) "
                   "values (1, 'North High', 'sch1')")
    outcome = district.sync()
    assert outcome.status == "applied", (outcome.failure, outcome.summary)
    assert [(e["error_code"], e["source_id"]) for e in district.errors(outcome.run_id)] == [
        ("SCHOOL_NOT_MATCHED", "sch2")]
    assert sorted(courses(district)) == ["ART", "MATH1", "SCI"]  # no HIST, no row of its own
