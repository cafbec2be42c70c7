"""Identity resolution, night after night: ID rotation, email-first districts with hand-made
records, an email changed in the SIS only, possible-duplicate alerts and their decisions
(CLI and Dagster job), and explain. Each scenario syncs two or three bundles of one district.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from rostersync_pipeline.cli.main import main as cli_main
from rostersync_pipeline.defs.review.alerts import decide_match_alert_job
from rostersync_pipeline.resources.warehouse import RosterWarehouse
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


def bundle(directory: Path, users: list[dict[str, str]]) -> Path:
    """School sch1, section sec1, every user enrolled in it."""
    return write_bundle(
        directory,
        orgs=[org("sch1", "North High")],
        users=users,
        classes=[section("sec1", "sch1")],
        enrollments=[
            enrollment(f"e-{u['sourcedId']}", "sec1", u["sourcedId"], "sch1",
                       role="teacher" if u["role"] == "teacher" else "student")
            for u in users
        ],
    )


def cli(district: District, command: str, *args: str) -> int:
    """``rostersync <command words> DISTRICT <args> --warehouse ...``."""
    return cli_main([*command.split(), district.district_id, *args,
                     "--warehouse", str(district.warehouse_dir),
                     "--config-dir", str(district.config_dir)])


def test_rotated_ids_keep_the_app_record_and_are_listed_as_id_changes(tmp_path: Path, capsys):
    users = [teacher("t1", "sch1"), student("s1", "sch1"), student("s2", "sch1")]
    district = make_district(tmp_path, bundle(tmp_path / "n0", users), **CREATE_SCHOOLS)
    assert district.sync().status == "applied"
    app_id = district.users()["s1"][0]

    # s1 deleted and re-added in the SIS: new sourcedId and SIS ID, same email
    rotated = student("s1-new", "sch1", identifier="sis-s1-new", email="S1@Example.org ",
                      username="s1")
    night1 = district.sync(bundle(tmp_path / "n1", [users[0], rotated, users[2]]))

    assert night1.status == "applied"
    assert night1.summary.counts["students"] == {"update": 1, "unchanged": 1}
    assert district.query(
        "select entity, app_id, old_source_id, new_source_id, old_sis_id, new_sis_id, "
        "matched_rule, primary_id_change from sync.id_changes"
    ) == [("students", app_id, "s1", "s1-new", "sis-s1", "sis-s1-new", "email", True)]
    assert district.users()["s1-new"][:3] == (app_id, "active", "sis-s1-new")
    assert "s1" not in district.users()
    assert district.scalar("select count(*) from roster.users where role = 'student'") == 2
    changed = district.scalar(
        "select changed_fields from roster.change_log where run_id = ? and app_id = ?",
        [night1.run_id, app_id])
    assert {"source_id", "sis_id"} <= set(changed)

    # explain finds the person by the new email and shows the keys tried and the history
    capsys.readouterr()
    assert cli(district, "explain", "s1@example.org") == 0
    out = capsys.readouterr().out
    assert f"incoming student s1-new: matched -> app record {app_id} (rule: email)" in out
    assert "1. source_id = s1-new: no app record" in out
    assert f"3. email = s1@example.org: {app_id}  <- decided" in out
    assert "id change: source_id s1 -> s1-new, sis_id sis-s1 -> sis-s1-new" in out
    assert out.count(" create ") == 1 and " update (source_id, sis_id" in out
    assert district.scalar(
        "select count(*) from sync.explain_matches where source_id = 's1-new'") == 3


def test_email_first_district_adopts_manual_records_and_reports_an_email_changed_in_sis(
    tmp_path: Path,
):
    keys = {"match_keys": {"students": ["email"], "educators": ["email"]}, **CREATE_SCHOOLS}
    night0 = [teacher("t1", "sch1"), student("s1", "sch1"), student("s2", "sch1")]
    district = make_district(tmp_path, bundle(tmp_path / "n0", night0), **keys)
    # two hand-made app records: t1 (in the feed) and m2 (never in the feed)
    assert cli(district, "manual add", "--role", "educator", "--email", "T1@example.org",
               "--first-name", "Terry", "--last-name", "One",
               "--placeholder-source-id", "manual-t1") == 0
    assert cli(district, "manual add", "--role", "educator", "--email", "m2@example.org",
               "--first-name", "Manual", "--last-name", "Two") == 0
    manual_t1, manual_m2 = (row[0] for row in district.query(
        "select app_id from roster.users where origin = 'manual' order by email desc"))

    first = district.sync()

    assert first.status == "applied"
    assert first.summary.counts["educators"] == {"update": 1}
    assert first.summary.counts["students"] == {"create": 2}
    assert district.query(
        "select app_id, source_id, origin, status from roster.users where role = 'educator' "
        "order by app_id") == [(manual_t1, "t1", "manual", "active"),
                              (manual_m2, None, "manual", "active")]
    assert district.scalar("select matched_rule from sync.matches where source_id = 't1'") \
        == "email"
    s1_app = district.users()["s1"][0]

    # night 1: t1 gone from the feed, s1's email changed in the SIS only
    night1 = [student("s1", "sch1", email="s1.new@example.org"), student("s2", "sch1")]
    second = district.sync(bundle(tmp_path / "n1", night1))

    assert second.status == "applied"
    assert "create" not in second.summary.counts.get("students", {})
    assert "educators" not in second.summary.counts or \
        "deactivate" not in second.summary.counts["educators"]
    assert district.query("select status from roster.users where origin = 'manual'") == [
        ("active",), ("active",)]
    [error] = district.errors(second.run_id, "EMAIL_CHANGED_IN_SIS")
    assert (error["source_id"], error["app_id"], error["field"], error["error_value"]) == (
        "s1", s1_app, "email", "s1.new@example.org")
    assert "still has the old email s1@example.org" in error["message"]
    assert f"Update the email of app record {s1_app}" in error["message"]
    assert "column F" in error["remediation"]
    assert district.users()["s1"][:2] == (s1_app, "active")
    assert district.scalar("select count(*) from roster.users where role = 'student'") == 2


def test_possible_duplicates_are_held_and_decisions_are_honoured(tmp_path: Path, capsys):
    settings = {"match_keys": {"students": ["source_id", "sis_id"]},
                "alerts": {"open_alert_policy": "hold"}, **CREATE_SCHOOLS}
    night0 = [teacher("t1", "sch1"),
              student("s1", "sch1", givenName="José", familyName="García-López"),
              student("s2", "sch1", givenName="William", familyName="Smith"),
              student("s3", "sch1", givenName="Ann", familyName="Lee")]
    district = make_district(tmp_path, bundle(tmp_path / "n0", night0), **settings)
    assert district.sync().status == "applied"
    app = {k: v[0] for k, v in district.users().items()}

    # night 1: s1 and s2 re-entered under new IDs and emails, s3 leaves
    night1 = [night0[0],
              student("n1", "sch1", givenName="Jose", familyName="garcia lopez"),
              student("n2", "sch1", givenName="Bill", familyName="Smith")]
    held = district.sync(bundle(tmp_path / "n1", night1))

    assert held.status == "applied"
    alerts = district.query(
        "select source_id_l, app_id_r, rules, score, status from sync.match_alerts "
        "order by source_id_l")
    assert [(a[0], a[1], a[4]) for a in alerts] == [
        ("n1", app["s1"], "open"), ("n2", app["s2"], "open")]
    assert alerts[0][2] == ["close_name_same_school"] and alerts[0][3] == 1.0
    assert alerts[1][3] >= 0.9  # Bill = William through the nickname table
    assert {e["source_id"]: e["app_id"] for e in district.errors(
        held.run_id, "POSSIBLE_DUPLICATE")} == {"n1": app["s1"], "n2": app["s2"]}
    assert held.summary.counts["students"] == {"deactivate": 1}  # only s3; s1, s2 wait
    assert district.users()["s1"][1] == "active" and district.users()["s2"][1] == "active"
    capsys.readouterr()
    assert cli(district, "alerts list") == 0
    assert "n1" in capsys.readouterr().out

    # decisions: n1 is s1 (CLI); n2 is a different person (Dagster job with config)
    assert cli(district, "alerts decide", "n1", "--match", str(app["s1"])) == 0
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("districts", [district.district_id])
    result = decide_match_alert_job.execute_in_process(
        run_config={"ops": {"record_match_decision": {"config": {
            "source_id": "n2", "create": True}}}},
        partition_key=district.district_id,
        resources={"warehouse": RosterWarehouse(config_dir=str(district.config_dir),
                                                warehouse_dir=str(district.warehouse_dir))},
        instance=instance,
    )
    assert result.success
    # night 2: same people, plus n3, a look-alike of the deactivated s3
    night2 = [*night1, student("n3", "sch1", givenName="Anne", familyName="Lee")]
    decided = district.sync(bundle(tmp_path / "n2", night2))

    assert decided.status == "applied"
    assert district.query(
        "select source_id, match_status, matched_rule, app_id from sync.matches "
        "where source_id = 'n1'") == [("n1", "matched", "decision", app["s1"])]
    assert district.users()["n1"][:2] == (app["s1"], "active")
    assert district.query(
        "select old_source_id, new_source_id, matched_rule from sync.id_changes") == [
        ("s1", "n1", "decision")]
    assert district.users()["n2"][0] not in app.values()
    assert district.users()["s2"][1] == "inactive"
    [lookalike] = district.query(
        "select source_id_l, app_id_r, rules, status_r from sync.match_alerts "
        "where status = 'open'")
    assert lookalike[:2] == ("n3", app["s3"]) and "deactivated_lookalike" in lookalike[2]
    assert "n3" not in district.users()
