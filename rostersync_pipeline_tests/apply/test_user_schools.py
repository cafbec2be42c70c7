"""People in several schools (issue #13 point 2): ``roster.user_schools``, through real syncs.

A teacher listed in two schools has two links, the first listed primary; moving the primary to
the other school is an update of the user and of both links, never a deactivation and a
create; a school the source stops listing for her is a deactivated link; restore brings it
back.
"""

from __future__ import annotations

from pathlib import Path

from rostersync_pipeline.cli.main import main
from rostersync_pipeline_tests.helpers import District, make_district, org, teacher
from rostersync_pipeline_tests.transform.bad_input import NIGHT_0

TWO_SCHOOLS = NIGHT_0.but(
    orgs=[*NIGHT_0.orgs, org("sch2", "South High")],
    users=[row if row["sourcedId"] != "t1" else teacher("t1", "sch1,sch2")
           for row in NIGHT_0.users],
)


def links(district: District) -> dict[tuple[str, str], tuple]:
    """roster.user_schools by (user, school) source ids: (is_primary, status)."""
    return {(user, school): (primary, status) for user, school, primary, status in district.query(
        "select u.source_id, s.source_id, l.is_primary, l.status from roster.user_schools as l "
        "join roster.users as u on u.app_id = l.user_app_id "
        "join roster.schools as s on s.app_id = l.school_app_id")}


def with_teacher_in(schools: str):
    return TWO_SCHOOLS.but(users=[row if row["sourcedId"] != "t1" else teacher("t1", schools)
                                  for row in TWO_SCHOOLS.users])


def test_a_teacher_in_two_schools_moves_between_them_by_updates(tmp_path: Path) -> None:
    district = make_district(tmp_path, TWO_SCHOOLS.write(tmp_path / "night-0"),
                             schools={"create_unmatched": True})
    night_0 = district.sync()
    assert night_0.status == "applied", night_0.failure
    assert links(district) == {("s1", "sch1"): (True, "active"), ("s2", "sch1"): (True, "active"),
                               ("t1", "sch1"): (True, "active"), ("t1", "sch2"): (False, "active")}
    primary = dict(district.query(
        "select u.source_id, s.source_id from roster.users as u "
        "join roster.schools as s on s.app_id = u.school_app_id"))
    assert primary["t1"] == "sch1"

    # night 1: her primary school is now sch2, still in both
    night_1 = district.sync(with_teacher_in("sch2,sch1").write(tmp_path / "night-1"))
    assert night_1.status == "applied", (night_1.failure, night_1.summary)
    assert sorted(row[:2] + (row[4],) for row in district.plan()) == [
        ("educators", "update", ["school_app_id"]),
        ("user_schools", "update", ["is_primary"]),
        ("user_schools", "update", ["is_primary"]),
    ]
    assert links(district)[("t1", "sch1")] == (False, "active")
    assert links(district)[("t1", "sch2")] == (True, "active")

    # night 2: she leaves sch1
    night_2 = district.sync(with_teacher_in("sch2").write(tmp_path / "night-2"))
    assert night_2.status == "applied", (night_2.failure, night_2.summary)
    assert [(row[0], row[1], row[3]) for row in district.plan()] == [
        ("user_schools", "deactivate", "t1@sch1")]
    assert links(district)[("t1", "sch1")] == (False, "inactive")
    assert district.scalar("select count(*) from roster.user_schools_history "
                           "where valid_to is null") == 4

    assert main(["restore", district.district_id, "--to-run", night_0.run_id,
                 "--warehouse", str(district.warehouse_dir),
                 "--config-dir", str(district.config_dir)]) == 0
    assert links(district)[("t1", "sch1")] == (True, "active")
    assert links(district)[("t1", "sch2")] == (False, "active")
