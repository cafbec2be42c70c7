"""Guardians (#13 point 1, core): OneRoster parents / guardians / relatives land in
``core.guardians`` with their students in ``core.guardian_relationships``, never in ``core.users``
(the app's roster: ``apply/test_guardian_roster.py``); a relationship to someone not in the
landing is RELATIONSHIP_NOT_FOUND.
Clever CSV contacts (``students.csv``'s ``Contact_*`` columns) likewise; Clever API contacts,
from the real Clever sample: ``ingest/test_live_providers_e2e.py``."""

from __future__ import annotations

from pathlib import Path

import duckdb

from rostersync_pipeline_tests.helpers import (
    enrollment,
    make_district,
    org,
    section,
    student,
    teacher,
    write_bundle,
)
from rostersync_pipeline_tests.transform.bad_input import clever_csv_bundle


def guardian(source_id: str, school: str, role: str = "parent", **fields: str) -> dict[str, str]:
    return {**student(source_id, school), "role": role, "grades": "", **fields}


def test_parents_are_guardians_related_to_their_students_from_either_side(tmp_path: Path) -> None:
    bundle = write_bundle(
        tmp_path / "night-0",
        orgs=[org("sch1", "North")],
        users=[
            teacher("t1", "sch1"),
            # siblings sharing g1; s1 names g1 too (both sides: one relationship)
            student("s1", "sch1", agentSourcedIds="g1"),
            student("s2", "sch1", agentSourcedIds="g9-gone"),
            student("s3", "sch1", agentSourcedIds="g2"),
            guardian("g1", "sch1", agentSourcedIds="s1, s2"),
            guardian("g2", "sch1", role="guardian"),
            guardian("g3", "sch1", role="relative", agentSourcedIds="s404"),
            # an agent who is a teacher is no guardian relationship (and no error)
            student("s4", "sch1", agentSourcedIds="t1"),
            guardian("g4", "sch1", status="tobedeleted", agentSourcedIds="s4"),
        ],
        classes=[section("c1", "sch1")],
        enrollments=[enrollment("e1", "c1", "s1", "sch1"),
                     enrollment("e2", "c1", "t1", "sch1", role="teacher")],
    )
    district = make_district(tmp_path, bundle, schools={"create_unmatched": True})
    outcome = district.sync()
    assert outcome.status == "applied", outcome.summary

    assert district.query(
        "select user_source_id, sis_id, email, is_deleted from core.guardians order by 1") == [
        ("g1", "sis-g1", "g1@example.org", False), ("g2", "sis-g2", "g2@example.org", False),
        ("g3", "sis-g3", "g3@example.org", False), ("g4", "sis-g4", "g4@example.org", True)]
    assert district.query(
        "select guardian_source_id, student_source_id, relationship "
        "from core.guardian_relationships order by 1, 2") == [
        ("g1", "s1", None), ("g1", "s2", None), ("g2", "s3", None)]
    # guardians are not core.users (never matched to a student or an educator); the app holds
    # them as users of role guardian, linked to their students (apply/test_guardian_roster.py)
    assert district.query("select count(*) from core.users where user_source_id like 'g%'") == [
        (0,)]
    assert district.query("select source_id from roster.users where role = 'guardian' "
                          "order by 1") == [("g1",), ("g2",), ("g3",)]
    assert district.query("select count(*) from roster.users where status = 'active'") == [(8,)]
    assert district.query("select count(*) from roster.guardian_relationships") == [(3,)]

    errors = {(e["record_type"], e["source_id"], e["field"], e["error_value"], e["source_file"])
              for e in district.errors(outcome.run_id, "RELATIONSHIP_NOT_FOUND")}
    assert errors == {("student", "s2", "guardian", "g9-gone", "users.csv"),
                      ("guardian", "g3", "student", "s404", "users.csv")}
    [error] = district.errors(outcome.run_id, "RELATIONSHIP_NOT_FOUND")[:1]
    assert error["remediation"].startswith("Include the related person in the export")
    # the people themselves are imported
    assert ("s2",) in district.query("select source_id from roster.users")

    # analysts count them per run across districts
    with duckdb.connect(str(district.warehouse_dir / "analytics.duckdb"), read_only=True) as con:
        counts = dict(con.execute(
            "select entity, records from incoming_counts where run_id = ?",
            [outcome.run_id]).fetchall())
    assert counts == {"students": 4, "educators": 1, "guardians": 4,
                      "guardian_relationships": 3, "schools": 1, "sections": 1,
                      "enrollments": 2}


def test_clever_csv_contacts_are_guardians_with_their_relationship(tmp_path: Path) -> None:
    def row(student_id: str, last: str, **contact: str) -> dict[str, str]:
        return {"School_id": "S1", "Student_id": student_id, "Last_name": last,
                "First_name": "Kid", "Grade": "3", **contact}

    mother = {"Contact_name": "Jo Doe", "Contact_email": "Jo@Example.org",
              "Contact_sis_id": "P1", "Contact_relationship": "Mother"}
    bundle = clever_csv_bundle(tmp_path / "clever", {
        "schools": [{"School_id": "S1", "School_name": "North"}],
        "students": [row("1001", "Doe", **mother), row("1002", "Doe", **mother),
                     row("1002", "Doe", Contact_name="Al Doe", Contact_relationship="Uncle"),
                     row("1003", "Poe")],
    })
    district = make_district(tmp_path, bundle, source={"type": "clever_csv"},
                             schools={"create_unmatched": True})
    outcome = district.sync()
    assert outcome.status == "applied", outcome.summary
    assert district.query(
        "select sis_id, email, last_name, provider from core.guardians order by 1") == [
        ("P1", "jo@example.org", "Jo Doe", "clever"), (None, None, "Al Doe", "clever")]
    assert district.query(
        "select coalesce(g.sis_id, 'uncle'), r.student_source_id, r.relationship "
        "from core.guardian_relationships as r join core.guardians as g "
        "on g.user_source_id = r.guardian_source_id order by 1, 2") == [
        ("P1", "1001", "Mother"), ("P1", "1002", "Mother"), ("uncle", "1002", "Uncle")]
    assert district.query("select source_id from roster.users where role = 'student' "
                          "order by 1") == [("1001",), ("1002",), ("1003",)]
    assert district.query("select sis_id, last_name from roster.users where role = 'guardian' "
                          "order by 1") == [("P1", "Jo Doe"), (None, "Al Doe")]
    assert district.scalar("select count(*) from roster.guardian_relationships") == 3
    assert district.errors(outcome.run_id) == []
