"""Sections keep their co-teachers with a primary flag (issue #13 point 2), through real syncs.

Two teachers in one section, one primary (OneRoster ``enrollments.primary``): both enrollments
land with ``is_primary``; swapping who is primary is two enrollment updates, never a
deactivation and a create.
"""

from __future__ import annotations

from pathlib import Path

from rostersync_pipeline_tests.helpers import District, enrollment, make_district, teacher
from rostersync_pipeline_tests.transform.bad_input import NIGHT_0


def co_taught(t1_primary: str, t2_primary: str):
    return NIGHT_0.but(
        users=[*NIGHT_0.users, teacher("t2", "sch1")],
        enrollments=[*(e for e in NIGHT_0.enrollments if e["userSourcedId"] != "t1"),
                     enrollment("e-t1", "sec1", "t1", "sch1", role="teacher",
                                primary=t1_primary),
                     enrollment("e-t2", "sec1", "t2", "sch1", role="teacher",
                                primary=t2_primary)],
    )


def teachers(district: District) -> dict[str, tuple]:
    """The teacher enrollments by source id: (is_primary, status)."""
    return {source_id: (primary, status) for source_id, primary, status in district.query(
        "select source_id, is_primary, status from roster.enrollments where role = 'teacher'")}


def test_swapping_the_primary_teacher_is_two_updates(tmp_path: Path) -> None:
    district = make_district(tmp_path, co_taught("true", "false").write(tmp_path / "night-0"),
                             schools={"create_unmatched": True})
    assert district.sync().status == "applied"
    assert teachers(district) == {"e-t1": (True, "active"), "e-t2": (False, "active")}

    night_1 = district.sync(co_taught("false", "true").write(tmp_path / "night-1"))
    assert night_1.status == "applied", (night_1.failure, night_1.summary)
    assert [(action, source_id, changed)
            for _, action, _, source_id, changed in district.plan("enrollments")] == [
        ("update", "e-t1", ["is_primary"]), ("update", "e-t2", ["is_primary"])]
    assert teachers(district) == {"e-t1": (False, "active"), "e-t2": (True, "active")}
    # a night that does not say who is primary keeps what the app has
    night_2 = district.sync(co_taught("", "").write(tmp_path / "night-2"))
    assert night_2.status == "applied"
    assert district.plan("enrollments") == []
    assert teachers(district) == {"e-t1": (False, "active"), "e-t2": (True, "active")}


def test_copies_of_one_enrollment_keep_the_live_one_and_the_first_stated_primary(
    tmp_path: Path,
) -> None:
    """Two landed enrollments of one teacher in one section and role are one app enrollment:
    the live copy wins over a deleted one, then the smaller source id; is_primary is the first
    one stated in that order (the live copy does not say, so the deleted copy's stands)."""
    copies = NIGHT_0.but(
        users=[*NIGHT_0.users, teacher("t2", "sch1")],
        enrollments=[*(e for e in NIGHT_0.enrollments if e["userSourcedId"] != "t1"),
                     enrollment("e-t1a", "sec1", "t1", "sch1", role="teacher",
                                status="tobedeleted", primary="true"),
                     enrollment("e-t1z", "sec1", "t1", "sch1", role="teacher", primary=""),
                     enrollment("e-t1y", "sec1", "t1", "sch1", role="teacher",
                                status="tobedeleted", primary="false"),
                     enrollment("e-t2", "sec1", "t2", "sch1", role="teacher", primary="false")],
    )
    district = make_district(tmp_path, copies.write(tmp_path / "night-0"),
                             schools={"create_unmatched": True})
    outcome = district.sync()
    assert outcome.status == "applied", (outcome.failure, outcome.summary)
    assert teachers(district) == {"e-t1z": (True, "active"), "e-t2": (False, "active")}
