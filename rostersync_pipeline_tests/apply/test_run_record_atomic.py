"""The run record is part of apply: ``sync.runs`` commits in the roster changes' transaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from rostersync_pipeline.defs.apply import assets as apply_assets
from rostersync_pipeline.defs.reports import assets as report_assets
from rostersync_pipeline.runner import run_approval, run_review_job
from rostersync_pipeline_tests.helpers import (
    District,
    enrollment,
    make_district,
    org,
    section,
    student,
    write_bundle,
)


def bundle(directory: Path, *students: str) -> Path:
    return write_bundle(
        directory, orgs=[org("sch1", "North High")],
        users=[student(s, "sch1") for s in students],
        classes=[section("sec1", "sch1")],
        enrollments=[enrollment(f"e{s}", "sec1", s, "sch1") for s in students],
    )


@pytest.fixture(scope="module")
def synced_once(tmp_path_factory: pytest.TempPathFactory) -> District:
    root = tmp_path_factory.mktemp("synced")
    district = make_district(root, bundle(root / "n0", "s1", "s2"),
                             schools={"create_unmatched": True})
    assert district.sync().status == "applied"
    return district


@pytest.fixture
def district(synced_once: District, tmp_path: Path) -> District:
    """Each test's own copy of the district after its first sync."""
    return synced_once.copy_to(tmp_path)


def test_a_failure_while_recording_the_run_rolls_the_roster_back(
    district: District, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = district.roster_snapshot()
    runs = district.query("select run_id from sync.runs order by all")

    def failing_record_run(con, summary):
        raise OSError("disk full while writing sync.runs")

    monkeypatch.setattr(apply_assets, "record_run", failing_record_run)
    outcome = district.sync(bundle(tmp_path / "n1", "s1", "s2", "s3"))

    assert not outcome.success
    assert "disk full while writing sync.runs" in outcome.failure
    assert district.roster_snapshot() == before
    assert district.query("select run_id from sync.runs where status <> 'not_applied' "
                          "order by all") == runs
    assert district.scalar("select count(*) from sync.guard_decision where run_id = ?",
                           [outcome.run_id]) == 0


def test_a_crash_after_apply_leaves_the_changes_with_their_run(
    district: District, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args, **kwargs):
        raise RuntimeError("killed while publishing the run summary")

    monkeypatch.setattr(report_assets, "publish_run", crash)
    outcome = district.sync(bundle(tmp_path / "n1", "s1", "s2", "s3"))

    assert not outcome.success and "killed while publishing" in outcome.failure
    assert district.scalar("select count(*) from roster.users where source_id = 's3'") == 1
    changed_by = district.query("select distinct run_id from roster.change_log "
                                "where app_id = (select app_id from roster.users "
                                "where source_id = 's3')")
    assert changed_by == [(outcome.run_id,)]
    assert district.query("select status, counts::varchar like '%students%' from sync.runs "
                          "where run_id = ?", [outcome.run_id]) == [("applied", True)]


def test_review_jobs_refuse_ids_that_are_not_the_districts(tmp_path: Path) -> None:
    a = make_district(tmp_path / "a", bundle(tmp_path / "a0", "s1"), "district-a",
                      schools={"create_unmatched": True}, require_approval=True)
    b = make_district(tmp_path / "b", bundle(tmp_path / "b0", "s1"), "district-b",
                      schools={"create_unmatched": True}, require_approval=True)
    held_a, held_b = a.sync(), b.sync()
    assert held_a.status == held_b.status == "requires_review"

    wrong = run_approval(a.district_id, held_b.run_id, config_dir=a.config_dir,
                         warehouse_dir=a.warehouse_dir)
    assert not wrong.success
    assert f"no stored plan '{held_b.run_id}' for district 'district-a'" in wrong.failure
    assert a.scalar("select count(*) from roster.users") == 0

    decided = run_review_job("decide_match_alert", a.district_id, "record_match_decision",
                             {"source_id": "someone-of-b", "create": True},
                             config_dir=a.config_dir, warehouse_dir=a.warehouse_dir)
    assert not decided.success
    assert "not an incoming student or educator of the last run" in decided.failure
    assert a.scalar("select count(*) from roster.match_decisions") == 0

    restored = run_review_job("restore_roster", a.district_id, "restore_roster_to_run",
                              {"to_run_id": held_b.run_id}, config_dir=a.config_dir,
                              warehouse_dir=a.warehouse_dir)
    assert not restored.success
    assert "is not recorded for district 'district-a'" in restored.failure
