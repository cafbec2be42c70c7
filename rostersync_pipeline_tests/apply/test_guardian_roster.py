"""Guardians in the app's roster (issue #13 point 1), through real syncs of OneRoster bundles.

Guardians are app users of role ``guardian`` with their own match keys, linked to their
students in ``roster.guardian_relationships``: a guardian shared by siblings is one app user with
a link per sibling. They are matched only to app guardians (never to a student or an educator,
even on the same email), planned, deactivated, historised and restored like other people.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rostersync_pipeline.cli.main import main
from rostersync_pipeline.runner import SyncOutcome
from rostersync_pipeline_tests.helpers import District, make_district, student
from rostersync_pipeline_tests.transform.bad_input import NIGHT_0


def guardian(source_id: str, students: str, **fields: str) -> dict[str, str]:
    return {**student(source_id, "sch1"), "role": "parent", "grades": "",
            "agentSourcedIds": students, **fields}


def children(n: int) -> list[dict[str, str]]:
    return [student(f"k{i}", "sch1") for i in range(1, n + 1)]


# siblings k1 and k2 share g1; g2..g5 have a child each
FAMILIES = NIGHT_0.but(users=[
    *NIGHT_0.users, *children(5),
    guardian("g1", "k1,k2"), guardian("g2", "k3"), guardian("g3", "k4"), guardian("g4", "k5"),
    guardian("g5", "s1"),
])


def links(district: District) -> dict[tuple[str, str], str]:
    """roster.guardian_relationships by (guardian, student) source ids: status."""
    return {(g, s): status for g, s, status in district.query(
        "select g.source_id, s.source_id, l.status from roster.guardian_relationships as l "
        "join roster.users as g on g.app_id = l.guardian_app_id "
        "join roster.users as s on s.app_id = l.student_app_id")}


def guardians(district: District) -> dict[str, tuple]:
    return {source_id: (email, status) for source_id, email, status in district.query(
        "select source_id, email, status from roster.users where role = 'guardian'")}


@pytest.fixture(scope="module")
def families_night_0(tmp_path_factory: pytest.TempPathFactory) -> tuple[District, SyncOutcome]:
    """The families' district after its night 0, synced once per module, and that sync's
    outcome; each test goes on from its own copy."""
    root = tmp_path_factory.mktemp("families")
    district = make_district(root, FAMILIES.write(root / "night-0"),
                             schools={"create_unmatched": True})
    return district, district.sync()


def test_guardians_are_app_users_linked_to_their_students_night_after_night(
    tmp_path: Path, families_night_0: tuple[District, SyncOutcome],
) -> None:
    district, night_0 = families_night_0[0].copy_to(tmp_path), families_night_0[1]
    assert night_0.status == "applied", (night_0.failure, night_0.summary)
    assert guardians(district) == {f"g{i}": (f"g{i}@example.org", "active") for i in range(1, 6)}
    assert links(district) == {("g1", "k1"): "active", ("g1", "k2"): "active",
                               ("g2", "k3"): "active", ("g3", "k4"): "active",
                               ("g4", "k5"): "active", ("g5", "s1"): "active"}
    # a guardian is no student, educator or school member
    assert district.query("select grade, school_app_id, birth_date from roster.users "
                          "where source_id = 'g1'") == [(None, None, None)]
    assert district.scalar("select count(*) from roster.user_schools as l join roster.users "
                           "as u on u.app_id = l.user_app_id where u.role = 'guardian'") == 0

    # night 1: g1's email changes and k2 no longer names... g1 lists only k1; g2 left the SIS;
    # g6 is new, shared by k3 and k4
    night_1_users = [row for row in FAMILIES.users if row["sourcedId"] != "g2"]
    night_1_users = [
        {**row, "email": "g1.new@example.org", "agentSourcedIds": "k1"}
        if row["sourcedId"] == "g1" else row for row in night_1_users]
    night_1_users.append(guardian("g6", "k3,k4"))
    night_1 = district.sync(FAMILIES.but(users=night_1_users).write(tmp_path / "night-1"))
    assert night_1.status == "applied", (night_1.failure, night_1.summary)
    assert sorted((entity, action, source_id) for entity, action, _, source_id, *_ in
                  district.plan()) == [
        ("guardian_relationships", "create", "g6@k3"),
        ("guardian_relationships", "create", "g6@k4"),
        ("guardian_relationships", "deactivate", "g1@k2"),
        ("guardian_relationships", "deactivate", "g2@k3"),
        ("guardians", "create", "g6"),
        ("guardians", "deactivate", "g2"),
        ("guardians", "update", "g1"),
    ]
    assert guardians(district)["g1"] == ("g1.new@example.org", "active")
    assert guardians(district)["g2"] == ("g2@example.org", "inactive")
    assert links(district)[("g1", "k2")] == "inactive"
    assert links(district)[("g6", "k4")] == "active"
    assert district.scalar("select count(*) from roster.guardian_relationships_history") == 10

    # restore to night 0: g2 and the g1-k2 link come back, g6's links are deactivated
    assert main(["restore", district.district_id, "--to-run", night_0.run_id,
                 "--warehouse", str(district.warehouse_dir),
                 "--config-dir", str(district.config_dir)]) == 0
    assert guardians(district)["g2"] == ("g2@example.org", "active")
    assert guardians(district)["g1"] == ("g1@example.org", "active")
    assert links(district)[("g1", "k2")] == "active"
    assert links(district)[("g6", "k3")] == "inactive"


def test_a_guardian_is_never_matched_to_a_student_or_an_educator(tmp_path: Path) -> None:
    # g1 carries teacher t1's email and student s1's sis id: matching stays among guardians, so
    # g1 is a new guardian. Guardians are a login namespace of their own: the teacher who is
    # also a parent is imported twice and neither record blocks the other; two guardians on one
    # email are DUPLICATE_EMAIL_ADDRESS.
    bundle = NIGHT_0.but(users=[
        *NIGHT_0.users,
        guardian("g1", "s1", email="t1@example.org", identifier="sis-s1"),
        guardian("g2", "s2"),
        guardian("g3", "s2", email="g2@example.org"),
    ])
    district = make_district(tmp_path, bundle.write(tmp_path / "night-0"),
                             schools={"create_unmatched": True})
    outcome = district.sync()
    assert outcome.status == "applied", (outcome.failure, outcome.summary)
    assert district.query("select entity, source_id, match_status from sync.matches "
                          "where entity = 'guardians' order by 2") == [
        ("guardians", "g1", "new"), ("guardians", "g2", "new"), ("guardians", "g3", "new")]
    assert sorted((e["record_type"], e["source_id"]) for e in district.errors(
        outcome.run_id, "DUPLICATE_EMAIL_ADDRESS")) == [("guardian", "g2"), ("guardian", "g3")]
    assert guardians(district) == {"g1": ("t1@example.org", "active")}
    assert district.query("select source_id, role, email from roster.users "
                          "where source_id in ('s1', 't1') order by 1") == [
        ("s1", "student", "s1@example.org"), ("t1", "educator", "t1@example.org")]
    # a relationship waits with its guardian
    assert links(district) == {("g1", "s1"): "active"}

    # night 1: still no cross-role match; the app guardian keeps its own record
    night_1 = district.sync(bundle.write(tmp_path / "night-1"))
    assert night_1.status == "applied", (night_1.failure, night_1.summary)
    assert district.query("select source_id, match_status, matched_rule from sync.matches "
                          "where entity = 'guardians' and source_id = 'g1'") == [
        ("g1", "matched", "source_id")]
    assert district.scalar("select count(*) from roster.users where email = 't1@example.org'") == 2


def test_a_guardian_whose_source_id_rotates_keeps_its_app_record(
    tmp_path: Path, families_night_0: tuple[District, SyncOutcome],
) -> None:
    district = families_night_0[0].copy_to(tmp_path)
    assert families_night_0[1].status == "applied"
    before = district.scalar("select app_id from roster.users where source_id = 'g3'")
    rotated = [{**row, "sourcedId": "g3-new"} if row["sourcedId"] == "g3" else row
               for row in FAMILIES.users]
    night_1 = district.sync(FAMILIES.but(users=rotated).write(tmp_path / "night-1"))
    assert night_1.status == "applied", (night_1.failure, night_1.summary)
    assert district.query("select entity, action, changed_fields, matched_rule "
                          "from sync.plan_users where source_id = 'g3-new'") == [
        ("guardians", "update", ["source_id"], "sis_id")]
    assert district.scalar("select app_id from roster.users where source_id = 'g3-new'") == before
    assert links(district)[("g3-new", "k4")] == "active"


def test_a_guardian_without_its_required_name_is_reported_and_its_app_record_kept(
    tmp_path: Path, families_night_0: tuple[District, SyncOutcome],
) -> None:
    district = families_night_0[0].copy_to(tmp_path)
    assert families_night_0[1].status == "applied"
    before = district.roster_snapshot()
    # night 1: g2's family name is empty (required_fields.guardians: last_name)
    nameless = [{**row, "familyName": ""} if row["sourcedId"] == "g2" else row
                for row in FAMILIES.users]
    night_1 = district.sync(FAMILIES.but(users=nameless).write(tmp_path / "night-1"))
    assert night_1.status == "applied", (night_1.failure, night_1.summary)
    [error] = district.errors(night_1.run_id, "VALUE_NOT_SPECIFIED")
    assert (error["record_type"], error["source_id"], error["field"], error["source_file"]) == (
        "guardian", "g2", "last_name", "users.csv")
    # neither g2 nor its link is deactivated or changed: the roster is as it was
    assert district.plan() == []
    assert district.roster_snapshot() == before
