"""History and restore: three nights of changes, the two history queries, restore to night 1.

Each night is a real sync of a tiny bundle into a DuckDB file in ``tmp_path``; the assertions
read ``roster.*``, ``roster.*_history``, ``roster.change_log`` and ``sync.runs``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rostersync_pipeline.cli.main import main
from rostersync_pipeline.lib.apply.restore import RestoreRefused, restore_to_run
from rostersync_pipeline.lib.storage.warehouse import district_connection
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

ENTITY_TABLES = ("schools", "users", "sections", "enrollments")

# "Who was in section X at time T": one row per user enrolled (active) at that moment.
WHO_WAS_IN_SECTION = """
select e.user_app_id, e.role
from roster.enrollments_history as e
where e.section_app_id = $section_app_id
    and e.status = 'active'
    and e.valid_from <= $at and (e.valid_to is null or e.valid_to > $at)
order by e.user_app_id
"""

# "What did this record look like before run N": the version valid when run N started.
BEFORE_RUN = """
select h.*
from roster.users_history as h
join sync.runs as r on r.run_id = $run_id
where h.app_id = $app_id
    and h.valid_from <= r.started_at and (h.valid_to is null or h.valid_to > r.started_at)
"""


def night(directory: Path, users: list[dict[str, str]]) -> Path:
    """School sch1, section sec1, teacher t1; every user enrolled in sec1."""
    everyone = [teacher("t1", "sch1"), *users]
    return write_bundle(
        directory,
        orgs=[org("sch1", "North High")],
        users=everyone,
        classes=[section("sec1", "sch1")],
        enrollments=[enrollment(f"e-{u['sourcedId']}", "sec1", u["sourcedId"], "sch1",
                                role=u["role"] if u["role"] == "teacher" else "student")
                     for u in everyone],
    )


def roster_tables(district: District) -> dict[str, list[tuple]]:
    """Every roster table without its bookkeeping column (updated_run_id), by app_id."""
    with district_connection(district.warehouse_dir, district.district_id) as con:
        return {t: con.execute(f"select * exclude (updated_run_id) from roster.{t} "
                               "order by app_id").fetchall() for t in ENTITY_TABLES}


@pytest.fixture(scope="module")
def three_nights(tmp_path_factory: pytest.TempPathFactory):
    tmp_path = tmp_path_factory.mktemp("history")
    night1 = night(tmp_path / "n1", [student(s, "sch1") for s in ("s1", "s2", "s3", "s4")])
    district = make_district(tmp_path, night1, schools={"create_unmatched": True})
    runs = [district.sync()]
    snapshot = roster_tables(district)
    night2 = night(tmp_path / "n2", [
        student("s1", "sch1", familyName="Renamed"),
        student("s3-new", "sch1", identifier="sis-s3", email="s3@example.org", username="s3"),
        student("s4", "sch1"),
        student("s5", "sch1"),
    ])
    runs.append(district.sync(night2))
    night3 = night(tmp_path / "n3", [
        student("s1", "sch1", familyName="Renamed"),
        student("s3-new", "sch1", identifier="sis-s3", email="s3@example.org", username="s3"),
        student("s4", "sch1", grades="06"),
        student("s5", "sch1"),
    ])
    runs.append(district.sync(night3))
    assert [r.status for r in runs] == ["applied"] * 3, [r.failure for r in runs]
    return district, runs, snapshot


def test_the_nights_change_what_the_test_restores(three_nights) -> None:
    district, runs, _ = three_nights
    assert runs[1].summary.counts["students"] == {
        "create": 1, "update": 2, "deactivate": 1, "unchanged": 1}
    assert runs[2].summary.counts["students"] == {"update": 1, "unchanged": 3}
    assert district.scalar(
        "select count(*) from roster.users_history where valid_to is null") == district.scalar(
        "select count(*) from roster.users")


def test_who_was_in_a_section_at_a_moment_is_one_query(three_nights) -> None:
    district, runs, _ = three_nights
    app = dict(district.query("select source_id, app_id from roster.users"))
    section_app_id = district.scalar("select app_id from roster.sections where source_id = 'sec1'")
    after = {i: district.scalar("select finished_at from sync.runs where run_id = ?", [r.run_id])
             for i, r in enumerate(runs, start=1)}

    def members(at) -> set[int]:
        rows = district.query(WHO_WAS_IN_SECTION, {"section_app_id": section_app_id, "at": at})
        return {user for user, _ in rows}

    first = {app[s] for s in ("t1", "s1", "s2", "s3-new", "s4")}
    assert members(after[1]) == first
    assert members(after[2]) == first - {app["s2"]} | {app["s5"]}
    assert members(after[3]) == first - {app["s2"]} | {app["s5"]}


def test_what_a_record_looked_like_before_a_run_is_one_query(three_nights) -> None:
    district, runs, _ = three_nights
    s1 = district.scalar("select app_id from roster.users where source_id = 's1'")
    s3 = district.scalar("select app_id from roster.users where source_id = 's3-new'")
    with district_connection(district.warehouse_dir, district.district_id) as con:
        before = con.sql(BEFORE_RUN, params={"run_id": runs[1].run_id, "app_id": s1}).pl()
        after = con.sql(BEFORE_RUN, params={"run_id": runs[2].run_id, "app_id": s1}).pl()
        rotated = con.sql(BEFORE_RUN, params={"run_id": runs[1].run_id, "app_id": s3}).pl()
    assert before["last_name"].to_list() == ["Familys1"]
    assert before["valid_to_run"].to_list() == [runs[1].run_id]
    assert after["last_name"].to_list() == ["Renamed"]
    assert rotated["source_id"].to_list() == ["s3"]


def test_restore_to_night_one_returns_the_roster_to_its_snapshot(three_nights) -> None:
    district, runs, snapshot = three_nights
    before_log = district.scalar("select count(*) from roster.change_log")

    assert main(["restore", district.district_id, "--to-run", runs[0].run_id,
                 "--warehouse", str(district.warehouse_dir),
                 "--config-dir", str(district.config_dir)]) == 0

    restored = roster_tables(district)
    for table in ENTITY_TABLES:
        kept = {row[0] for row in snapshot[table]}
        assert [row for row in restored[table] if row[0] in kept] == snapshot[table], table
        extra = [row for row in restored[table] if row[0] not in kept]
        assert all("inactive" in row for row in extra), (table, extra)
    assert district.query(
        "select source_id, status from roster.users where source_id = 's5'") == [
        ("s5", "inactive")]
    run = district.query(
        "select run_id, status, status_reason from sync.runs where status = 'restored'")
    assert len(run) == 1 and runs[0].run_id in run[0][2]
    restore_run = run[0][0]
    assert district.scalar("select count(*) from roster.change_log where run_id = ?",
                           [restore_run]) == (
        district.scalar("select count(*) from roster.change_log") - before_log)
    assert sorted(district.query(
        "select action, changed_fields from roster.change_log where run_id = ? "
        "and entity = 'students'", [restore_run])) == [
        ("deactivate", []),
        ("reactivate", []),
        ("update", ["grade"]),
        ("update", ["last_name"]),
        ("update", ["source_id", "first_name", "last_name"]),
    ]
    assert district.scalar(
        "select count(*) from roster.users_history where valid_from_run = ?", [restore_run]) == 5


def test_the_next_night_after_a_restore_plans_from_the_restored_roster(three_nights,
                                                                        tmp_path: Path) -> None:
    district, runs, _ = three_nights
    if not district.query("select 1 from sync.runs where status = 'restored'"):
        restore_to_run_cli(district, runs[0].run_id)
    again = district.sync(night(tmp_path / "n4", [student(s, "sch1")
                                                  for s in ("s1", "s2", "s3", "s4")]))
    assert again.status == "applied", again.failure
    assert again.summary.counts["students"] == {"unchanged": 4}


def restore_to_run_cli(district: District, run_id: str) -> None:
    assert main(["restore", district.district_id, "--to-run", run_id,
                 "--warehouse", str(district.warehouse_dir),
                 "--config-dir", str(district.config_dir)]) == 0


def test_restore_to_an_unknown_run_is_refused_and_changes_nothing(three_nights, capsys) -> None:
    district, _, _ = three_nights
    before = district.roster_snapshot()
    with district_connection(district.warehouse_dir, district.district_id) as con:
        with pytest.raises(RestoreRefused, match="run 'no-such-run' is not recorded"):
            restore_to_run(con, district.district_id, "no-such-run")
    assert main(["restore", district.district_id, "--to-run", "no-such-run",
                 "--warehouse", str(district.warehouse_dir),
                 "--config-dir", str(district.config_dir)]) == 1
    assert "restore refused" in capsys.readouterr().err
    assert district.roster_snapshot() == before
