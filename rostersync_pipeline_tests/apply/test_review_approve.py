"""Review and approve: a held plan is stored, approved exactly as stored, refused when stale.

Real syncs of tiny bundles into DuckDB files in ``tmp_path``; approval runs the ``approve_plan``
Dagster job in-process (through the CLI and through ``run_approval`` on a test instance).
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from rostersync_pipeline.cli.main import main
from rostersync_pipeline.lib.apply.plan_store import (
    STORED,
    PlanRefused,
    approve_stored_plan,
    discard_stored_plan,
    roster_fingerprint,
)
from rostersync_pipeline.lib.storage.warehouse import district_connection
from rostersync_pipeline.runner import run_approval
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

APPROVAL = {"schools": {"create_unmatched": True}, "require_approval": True}


def night(directory: Path, *student_ids: str) -> Path:
    users = [teacher("t1", "sch1"), *(student(s, "sch1") for s in student_ids)]
    return write_bundle(
        directory,
        orgs=[org("sch1", "North High")],
        users=users,
        classes=[section("sec1", "sch1")],
        enrollments=[enrollment(f"e-{u['sourcedId']}", "sec1", u["sourcedId"], "sch1",
                                role="teacher" if u["role"] == "teacher" else "student")
                     for u in users],
    )


def cli(district: District, *args: str) -> int:
    return main([*args, "--warehouse", str(district.warehouse_dir),
                 "--config-dir", str(district.config_dir)])


def approve(district: District, plan_id: str) -> int:
    return cli(district, "approve", district.district_id, plan_id)


def test_a_held_plan_waits_and_approval_applies_exactly_the_stored_plan(tmp_path: Path,
                                                                         capsys) -> None:
    bundle = night(tmp_path / "bundle", "s1", "s2", "s3")
    district = make_district(tmp_path, bundle, **APPROVAL)

    held = district.sync()

    assert held.success and held.status == "requires_review", held.failure
    assert district.scalar("select count(*) from roster.users") == 0
    assert district.query("select plan_id, status from sync.stored_plans") == [
        (held.run_id, "requires_review")]
    assert district.scalar("select count(*) from sync.stored_plan_users where plan_id = ?",
                           [held.run_id]) == 4
    assert cli(district, "plan", district.district_id) == 0
    shown = capsys.readouterr().out
    assert "status: requires_review" in shown
    assert f"rostersync approve {district.district_id} PLAN_ID" in shown
    assert held.run_id in shown

    night(bundle, "s1", "s2", "s3", "s4")  # the source changed since: not part of the plan
    assert approve(district, held.run_id) == 0
    assert "approved and applied" in capsys.readouterr().out

    assert sorted(district.users()) == ["s1", "s2", "s3", "t1"]
    approval = district.query(
        "select run_id, status, status_reason, counts->>'$.students.create' from sync.runs "
        "where status = 'approved'")
    assert len(approval) == 1
    approval_run, _, reason, created = approval[0]
    assert reason == f"approved stored plan {held.run_id}" and created == "3"
    assert district.query("select status, decided_run_id from sync.stored_plans") == [
        ("approved", approval_run)]
    assert district.scalar("select count(*) from roster.change_log where run_id = ?",
                           [approval_run]) == 14  # 10 and the 4 people's school links
    assert district.scalar("select count(*) from roster.users_history where valid_from_run = ?",
                           [approval_run]) == 4

    assert approve(district, held.run_id) == 1
    assert f"plan {held.run_id} is already approved" in capsys.readouterr().err


def test_next_night_plans_afresh_and_a_stale_plan_is_refused_then_discarded(tmp_path: Path,
                                                                           capsys) -> None:
    district = make_district(tmp_path, night(tmp_path / "n1", "s1", "s2"), **APPROVAL)
    first = district.sync()
    second = district.sync(night(tmp_path / "n2", "s1", "s2", "s3"))

    assert (first.status, second.status) == ("requires_review", "requires_review")
    stored = dict(district.query(
        "select plan_id, count(*) from sync.stored_plan_users group by all"))
    assert stored == {first.run_id: 3, second.run_id: 4}

    assert approve(district, second.run_id) == 0
    capsys.readouterr()
    before = district.roster_snapshot()

    assert approve(district, first.run_id) == 1
    refusal = capsys.readouterr().err
    assert f"approval refused: plan {first.run_id} was made on a roster that has changed" in (
        refusal)
    assert "roster.users has 4 rows, 0 at plan time" in refusal
    assert district.roster_snapshot() == before
    assert district.scalar("select status from sync.stored_plans where plan_id = ?",
                           [first.run_id]) == "requires_review"

    assert cli(district, "discard", district.district_id, first.run_id,
               "--note", "superseded") == 0
    assert district.query(
        "select status, decision_note from sync.stored_plans where plan_id = ?",
        [first.run_id]) == [("discarded", "superseded")]
    assert district.scalar("select count(*) from sync.stored_plan_users where plan_id = ?",
                           [first.run_id]) == 0
    assert cli(district, "discard", district.district_id, first.run_id) == 1
    assert "already discarded" in capsys.readouterr().err


def test_the_approve_plan_job_is_a_dagster_run_with_the_same_config(tmp_path: Path) -> None:
    district = make_district(tmp_path, night(tmp_path / "n1", "s1"), **APPROVAL)
    held = district.sync()

    with dg.instance_for_test() as instance:
        refused = run_approval(district.district_id, "no-such-plan",
                               config_dir=district.config_dir,
                               warehouse_dir=district.warehouse_dir, instance=instance)
        outcome = run_approval(district.district_id, held.run_id,
                               config_dir=district.config_dir,
                               warehouse_dir=district.warehouse_dir, instance=instance)
        run = instance.get_run_by_id(outcome.run_id)
        event = instance.get_latest_materialization_event(
            dg.AssetKey(["roster", "synced_roster"]))

    assert not refused.success
    assert "no stored plan 'no-such-plan'" in refused.failure
    assert outcome.success, outcome.failure
    assert run.job_name == "approve_plan"
    assert run.run_config["ops"]["apply_stored_plan"]["config"] == {"plan_id": held.run_id}
    assert run.tags["dagster/partition"] == district.district_id
    materialization = event.asset_materialization
    assert materialization.partition == district.district_id
    assert materialization.metadata["plan_id"].value == held.run_id
    assert district.scalar("select status from sync.runs where run_id = ?",
                           [outcome.run_id]) == "approved"


def test_a_plan_stored_before_a_plan_table_existed_is_refused_and_can_be_discarded(
    tmp_path: Path,
) -> None:
    """A plan held by an older rostersync (its store has no ``stored_plan_terms``) on a roster
    that has not changed since: approval is refused with why, nothing applied; discard works."""
    with district_connection(tmp_path, "old-plan") as con:
        for name, stored in STORED.items():
            if name != "plan_terms":
                con.execute(f"create table {stored} (plan_id varchar)")
        old_fingerprint = {t: v for t, v in roster_fingerprint(con).items() if t != "terms"}
        con.execute("insert into sync.stored_plans (plan_id, district_id, created_at, status, "
                    "roster_fingerprint) values ('p1', 'old-plan', now()::timestamp, "
                    "'requires_review', ?::json)", [json.dumps(old_fingerprint)])
        with pytest.raises(PlanRefused, match="stored by an older rostersync, without plan_terms"):
            approve_stored_plan(con, "old-plan", "p1", "approval-run")
        assert con.execute("select count(*) from roster.change_log").fetchall() == [(0,)]
        discard_stored_plan(con, "old-plan", "p1")
        assert con.execute("select status from sync.stored_plans").fetchall() == [("discarded",)]
