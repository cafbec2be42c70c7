"""Matching, planning, guard and apply, night after night, on tiny hand-written bundles.

Each scenario syncs two or three consecutive bundles of one district and asserts on the rows
the run leaves: ``sync.matches``, ``sync.sync_plan``, ``sync.sync_errors`` and ``roster.*``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rostersync_pipeline.runner import SyncOutcome
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


def night_bundle(
    directory: Path,
    students: list[dict[str, str]],
    *,
    teachers: list[dict[str, str]] | None = None,
    schools: list[dict[str, str]] | None = None,
    classes: list[dict[str, str]] | None = None,
    enrollments: list[dict[str, str]] | None = None,
    **kwargs,
) -> Path:
    """School sch1 with one section sec1, teacher t1 and every student enrolled in sec1."""
    teachers = teachers if teachers is not None else [teacher("t1", "sch1")]
    users = teachers + students
    if enrollments is None:
        enrollments = [
            enrollment(f"e-{u['sourcedId']}", "sec1", u["sourcedId"], "sch1",
                       role="teacher" if u["role"] == "teacher" else "student")
            for u in users
        ]
    return write_bundle(
        directory,
        orgs=schools if schools is not None else [org("sch1", "North High")],
        users=users,
        classes=classes if classes is not None else [section("sec1", "sch1")],
        enrollments=enrollments,
        **kwargs,
    )


def students(*ids: str) -> list[dict[str, str]]:
    return [student(i, "sch1") for i in ids]


def only_actions(counts: dict[str, dict[str, int]]) -> set[str]:
    return {action for actions in counts.values() for action in actions}


def app_ids(district: District) -> dict[str, int]:
    return dict(district.query("select source_id, app_id from roster.users"))


@pytest.fixture(scope="module")
def first_sync(tmp_path_factory: pytest.TempPathFactory) -> tuple[District, SyncOutcome]:
    """A district after its first sync of s1..s3 and t1 (all created), synced once per module,
    and that sync's outcome."""
    root = tmp_path_factory.mktemp("synced")
    district = make_district(
        root, night_bundle(root / "night0", students("s1", "s2", "s3")), **CREATE_SCHOOLS,
    )
    outcome = district.sync()
    assert outcome.status == "applied", outcome.failure
    return district, outcome


@pytest.fixture(scope="module")
def synced_once(first_sync: tuple[District, SyncOutcome]) -> District:
    return first_sync[0]


@pytest.fixture
def synced(synced_once: District, tmp_path: Path) -> District:
    """Each test's own copy of :func:`synced_once`."""
    return synced_once.copy_to(tmp_path)


def test_first_sync_creates_and_an_identical_sync_changes_nothing(
        first_sync: tuple[District, SyncOutcome], tmp_path: Path):
    district, first = first_sync[0].copy_to(tmp_path), first_sync[1]

    assert first.status == "applied"
    assert first.summary.counts == {
        "schools": {"create": 1}, "students": {"create": 3}, "educators": {"create": 1},
        "sections": {"create": 1}, "enrollments": {"create": 4}, "user_schools": {"create": 4},
    }
    assert district.scalar("select count(*) from roster.change_log") == 14
    assert district.query(
        "select distinct status, origin, created_run_id from roster.users"
    ) == [("active", "sync", first.run_id)]

    second = district.sync()

    assert second.status == "applied"
    assert district.plan() == []
    assert only_actions(second.summary.counts) == {"unchanged"}
    assert second.summary.counts["enrollments"] == {"unchanged": 4}
    assert district.query(
        "select distinct match_status, matched_rule from sync.matches"
    ) == [("matched", "source_id")]
    assert district.scalar("select count(*) from roster.change_log") == 14


def test_rotated_ids_update_the_same_app_record(synced: District, tmp_path: Path):
    before = app_ids(synced)
    rotated = [
        student("s1", "sch1"),
        {**student("s2", "sch1"), "sourcedId": "s2-new", "identifier": "sis-s2-new"},
        {**student("s3", "sch1"), "sourcedId": "s3-new"},
    ]

    outcome = synced.sync(night_bundle(tmp_path / "night1", rotated))

    assert outcome.status == "applied"
    assert outcome.summary.counts["students"] == {"update": 2, "unchanged": 1}
    assert "create" not in only_actions(outcome.summary.counts)
    assert "deactivate" not in only_actions(outcome.summary.counts)
    rules = dict(synced.query(
        "select source_id, matched_rule from sync.matches where entity = 'students'"))
    assert rules == {"s1": "source_id", "s2-new": "email", "s3-new": "sis_id"}
    plan = {row[3]: row for row in synced.plan("students")}
    assert plan["s2-new"][1:3] == ("update", before["s2"])
    assert plan["s2-new"][4] == ["source_id", "sis_id"]
    assert plan["s3-new"][1:3] == ("update", before["s3"])
    assert plan["s3-new"][4] == ["source_id"]
    after = synced.users()
    assert after["s2-new"][:3] == (before["s2"], "active", "sis-s2-new")
    assert after["s3-new"][:2] == (before["s3"], "active")
    assert "s2" not in after and "s3" not in after
    assert synced.scalar("select count(*) from roster.enrollments where status = 'active'") == 4


def test_match_keys_are_tried_in_the_configured_order(tmp_path: Path):
    bundle = night_bundle(tmp_path / "night0", students("s1", "s2"))
    district = make_district(
        tmp_path, bundle, match_keys={"students": ["email", "source_id"]}, **CREATE_SCHOOLS)
    assert district.sync().status == "applied"

    district.sync()

    rules = district.query(
        "select entity, matched_rule, count(*) from sync.matches "
        "where entity in ('students', 'educators') group by all order by all")
    assert rules == [("educators", "source_id", 1), ("students", "email", 2)]


def test_two_app_records_with_the_incoming_email_are_ambiguous(synced: District, tmp_path: Path):
    synced.query(
        "insert into roster.users (app_id, role, email, first_name, last_name, school_app_id) "
        "select 100 + i, 'student', 'twin@example.org', 'Twin', 'Copy' || i, "
        "(select min(app_id) from roster.schools) from range(2) t(i)"
    )
    incoming = students("s1", "s2", "s3") + [
        student("n1", "sch1", email="Twin@Example.org")]

    outcome = synced.sync(night_bundle(tmp_path / "night1", incoming))

    errors = synced.errors(outcome.run_id, "EXACT_MATCH_MULTIPLE")
    assert [(e["source_id"], e["field"], e["error_value"], e["app_id"]) for e in errors] == [
        ("n1", "email", "twin@example.org", 100)]
    assert "100, 101" in errors[0]["message"]
    assert "n1" not in synced.users()
    assert synced.query("select app_id, status from roster.users where app_id >= 100 "
                        "order by 1") == [(100, "active"), (101, "active")]


def test_username_and_email_held_by_another_record_are_duplicates(tmp_path: Path):
    incoming = students("s1") + [
        student("n1", "sch1", username="Taken.Name"),
        student("n2", "sch1", email="taken@example.org"),
        student("n3", "sch1", email="pair@example.org"),
        student("n4", "sch1", email="PAIR@example.org"),
    ]
    district = make_district(
        tmp_path, night_bundle(tmp_path / "night0", incoming),
        match_keys={"students": ["source_id", "sis_id"]}, **CREATE_SCHOOLS)
    district.query(
        "insert into roster.users (app_id, role, email, username, first_name, last_name, "
        "origin) values (7, 'educator', 'taken@example.org', 'taken.name', 'Sub', 'Teacher', "
        "'manual')"
    )

    outcome = district.sync()

    found = {(e["error_code"], e["source_id"], e["field"], e["error_value"], e["app_id"])
             for e in district.errors(outcome.run_id)}
    assert found == {
        ("DUPLICATE_USERNAME", "n1", "username", "Taken.Name", 7),
        ("DUPLICATE_EMAIL_ADDRESS", "n2", "email", "taken@example.org", 7),
        ("DUPLICATE_EMAIL_ADDRESS", "n3", "email", "pair@example.org", None),
        ("DUPLICATE_EMAIL_ADDRESS", "n4", "email", "pair@example.org", None),
    }
    assert outcome.summary.counts["students"] == {"create": 1}
    assert set(district.users()) == {"t1", "s1"}
    assert district.query("select status from roster.users where app_id = 7") == [("active",)]


@pytest.fixture(scope="module")
def problem_run(tmp_path_factory: pytest.TempPathFactory):
    """One first sync of a bundle holding one record per problem kind."""
    root = tmp_path_factory.mktemp("problems")
    incoming = [
        student("ok1", "sch1"),
        student("nolast", "sch1", familyName=""),
        student("badgrade", "sch1", grades="Grade Thirteen"),
    ]
    enrollments = [
        enrollment("e-ok1", "sec1", "ok1", "sch1"),
        enrollment("e-ghost", "sec1", "ghost", "sch1"),
        enrollment("e-nosec", "nosec", "ok1", "sch1"),
    ]
    bundle = night_bundle(
        root / "night0", incoming, teachers=[teacher("t-noemail", "sch1", email="")],
        enrollments=enrollments)
    district = make_district(root, bundle, **CREATE_SCHOOLS)
    outcome = district.sync()
    return district, outcome


def test_missing_required_values_name_the_field(problem_run):
    district, outcome = problem_run
    errors = district.errors(outcome.run_id, "VALUE_NOT_SPECIFIED")
    assert [(e["record_type"], e["source_id"], e["field"], e["source_row"]) for e in errors] == [
        ("student", "nolast", "last_name", 4), ("educator", "t-noemail", "email", 2)]
    assert all(e["school"] == "North High" and e["remediation"] for e in errors)


def test_unmapped_grade_is_invalid_grade_with_its_value(problem_run):
    district, outcome = problem_run
    errors = district.errors(outcome.run_id, "INVALID_GRADE")
    assert [(e["source_id"], e["field"], e["error_value"]) for e in errors] == [
        ("badgrade", "grade", "Grade Thirteen")]
    assert set(district.users()) == {"ok1"}


def test_enrollment_of_an_unknown_user_or_section_is_an_orphan(problem_run):
    district, outcome = problem_run
    errors = district.errors(outcome.run_id, "ORPHAN_ENROLLMENT")
    assert [(e["source_id"], e["field"], e["error_value"]) for e in errors] == [
        ("e-ghost", "user", "ghost"), ("e-nosec", "section", "nosec")]
    assert district.query("select source_id from roster.enrollments") == [("e-ok1",)]
    assert outcome.summary.error_counts == {
        "VALUE_NOT_SPECIFIED": 2, "INVALID_GRADE": 1, "ORPHAN_ENROLLMENT": 2}


def test_unmatched_school_is_reported_and_its_records_held_back(tmp_path: Path):
    schools = [
        org("sch1", "North High"),
        org("sch2", "Lincoln Elem", identifier="LIN-002"),
    ]
    incoming = students("s1", "s2") + [student("s3", "sch2")]
    classes = [section("sec1", "sch1"), section("sec2", "sch2")]
    enrollments = [enrollment(f"e-{s}", "sec1", s, "sch1") for s in ("t1", "s1", "s2")] + [
        enrollment("e-s3", "sec2", "s3", "sch2")]
    bundle = night_bundle(tmp_path / "night0", incoming, schools=schools, classes=classes,
                          enrollments=enrollments)
    district = make_district(
        tmp_path, bundle, schools={"create_unmatched": False,
                                   "custom_names": {"LIN-002": "Lincoln Elementary School"}})
    district.query(
        "insert into roster.schools (app_id, custom_name) values "
        "(1, 'North High School'), (2, 'Lincoln Elementary School'), (3, 'Northridge Middle')"
    )

    outcome = district.sync()

    errors = district.errors(outcome.run_id, "SCHOOL_NOT_MATCHED")
    assert [(e["source_id"], e["field"], e["error_value"]) for e in errors] == [
        ("sch1", "name", "North High")]
    message = errors[0]["message"]
    assert "closest app names: North High School | Northridge Middle" in message
    assert "held back: 2 students, 1 educators, 1 sections, 3 enrollments" in message
    assert district.query("select source_id, matched_rule from sync.matches "
                          "where entity = 'schools' and match_status = 'matched'") == [
        ("sch2", "name")]
    assert set(district.users()) == {"s3"}
    assert district.query("select source_id, school_app_id from roster.sections") == [
        ("sec2", 2)]
    assert district.query("select source_id from roster.enrollments") == [("e-s3",)]


def test_missing_record_is_deactivated_and_reactivated_when_back(synced: District,
                                                                  tmp_path: Path):
    before = app_ids(synced)

    dropped = synced.sync(night_bundle(tmp_path / "night1", students("s1", "s2")))

    assert dropped.status == "applied"
    assert dropped.summary.counts["students"] == {"deactivate": 1, "unchanged": 2}
    assert dropped.summary.counts["enrollments"] == {"deactivate": 1, "unchanged": 3}
    assert synced.users()["s3"][1] == "inactive"
    assert synced.scalar(
        "select status from roster.enrollments where source_id = 'e-s3'") == "inactive"

    back = synced.sync(night_bundle(tmp_path / "night2", students("s1", "s2", "s3")))

    assert back.summary.counts["students"] == {"reactivate": 1, "unchanged": 2}
    assert back.summary.counts["enrollments"] == {"reactivate": 1, "unchanged": 3}
    assert synced.users()["s3"][:2] == (before["s3"], "active")
    assert synced.query("select status, count(*) from roster.enrollments group by 1") == [
        ("active", 4)]
    assert app_ids(synced) == before


def test_dry_run_plans_and_reports_but_leaves_the_roster(synced: District, tmp_path: Path):
    before = synced.roster_snapshot()
    incoming = [student("s1", "sch1", familyName="Renamed"), student("s4", "sch1"),
                student("bad", "sch1", grades="Grade Thirteen")]

    outcome = synced.sync(night_bundle(tmp_path / "night1", incoming), dry_run=True)

    assert outcome.success and outcome.status == "dry_run"
    assert outcome.summary.counts["students"] == {
        "create": 1, "update": 1, "deactivate": 2}
    assert synced.scalar("select count(*) from sync.sync_plan where run_id = ?",
                         [outcome.run_id]) == 8  # 4 students, s4's school, 3 enrollments
    assert [e["source_id"] for e in synced.errors(outcome.run_id)] == ["bad"]
    assert synced.scalar("select dry_run from sync.runs where run_id = ?",
                         [outcome.run_id]) is True
    assert synced.roster_snapshot() == before


def test_delta_records_of_an_existing_school_keep_that_school(synced: District, tmp_path: Path):
    school_app_id = synced.scalar("select app_id from roster.schools where source_id = 'sch1'")
    delta = write_bundle(
        tmp_path / "delta",
        users=[student("s4", "sch1")],
        classes=[section("sec2", "sch1")],
        enrollments=[enrollment("e-s4", "sec2", "s4", "sch1")],
        manifest={f"file.{name}": "delta" for name in ("orgs", "users", "classes",
                                                       "enrollments")},
    )

    outcome = synced.sync(delta)

    assert outcome.summary.fetch_mode == "delta"
    assert outcome.summary.counts["students"] == {"create": 1}
    assert synced.query("select school_app_id from roster.users where source_id = 's4'") == [
        (school_app_id,)]
    assert synced.query(
        "select school_app_id from roster.sections where source_id = 'sec2'") == [
        (school_app_id,)]


def large_roster(n: int) -> list[dict[str, str]]:
    return students(*(f"s{i:02d}" for i in range(n)))


def test_mass_deactivation_is_held_until_the_threshold_allows_it(tmp_path: Path):
    district = make_district(
        tmp_path, night_bundle(tmp_path / "night0", large_roster(30)), **CREATE_SCHOOLS)
    assert district.sync().summary.counts["students"] == {"create": 30}
    before = district.roster_snapshot()
    night1 = night_bundle(tmp_path / "night1", large_roster(21))

    held = district.sync(night1)

    assert held.success and held.status == "requires_review"
    assert any("students: would deactivate 9 of 30" in r for r in held.summary.reasons)
    assert district.roster_snapshot() == before

    make_district(tmp_path, night1, guard={"max_deactivate_pct": 50}, **CREATE_SCHOOLS)
    applied = district.sync()

    assert applied.status == "applied"
    assert applied.summary.counts["students"] == {"deactivate": 9, "unchanged": 21}
    assert district.scalar(
        "select count(*) from roster.users where status = 'inactive'") == 9


def test_a_failing_apply_leaves_the_roster_as_it_was(synced: District, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch):
    from rostersync_pipeline.lib.apply import apply_plan as apply

    before = synced.roster_snapshot()
    reached = []

    def failing_apply_enrollments(con, run_id):
        reached.append(con.execute(
            "select count(*) from roster.users where source_id = 's4'").fetchall()[0][0])
        raise RuntimeError("disk full while applying enrollments")

    monkeypatch.setattr(apply, "apply_enrollments", failing_apply_enrollments)
    incoming = [student("s1", "sch1", familyName="Renamed"), student("s4", "sch1")]
    incoming += students("s2", "s3")

    outcome = synced.sync(night_bundle(
        tmp_path / "night1", incoming, schools=[org("sch1", "North High"), org("sch9", "New")]))

    assert not outcome.success
    assert "disk full while applying enrollments" in outcome.failure
    assert reached == [1]
    assert synced.roster_snapshot() == before


@pytest.fixture(scope="module")
def blocked_run(tmp_path_factory: pytest.TempPathFactory):
    """A first sync whose GX suite has a failing hard expectation (the district made
    ``users.grade_mapped`` hard; half its students' grades are unmapped): INVALID_GRADE.
    The tests only read what it left."""
    tmp_path = tmp_path_factory.mktemp("blocked")
    bundle = night_bundle(tmp_path / "night0",
                          students("s1") + [student("bad", "sch1", grades="Grade Thirteen")])
    district = make_district(tmp_path, bundle, **CREATE_SCHOOLS,
                             expectations={"users.grade_mapped": "hard"})
    before = district.roster_snapshot()
    return district, before, district.sync()


def test_failed_hard_expectation_blocks_apply(blocked_run):
    district, before, outcome = blocked_run
    assert not outcome.success
    assert outcome.status == "blocked"
    assert "blocking expectation check failed; apply did not run" in outcome.failure
    assert district.roster_snapshot() == before


def test_failed_hard_expectation_still_exports_the_errors(blocked_run):
    district, _, outcome = blocked_run
    assert district.scalar("select status from sync.runs where run_id = ?",
                           [outcome.run_id]) == "blocked"
    export = (district.warehouse_dir / "exports" / district.district_id
              / f"sync_errors_{district.district_id}_{outcome.run_id[:8]}.zip")
    assert export.is_file()
    assert [e["source_id"] for e in district.errors(outcome.run_id, "INVALID_GRADE")] == ["bad"]
