"""One run per district at a time: the district lock, held by every run for its whole duration."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from rostersync_pipeline.lib.apply.run_lock import DistrictBusy, current_holder, district_lock
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

# Nights, each started twice at once (issue #8 asks for ten; the test also fails when the two
# runs never overlapped).
ITERATIONS = 10
TIMEOUT_S = 240


def night(drop: Path, number: int) -> Path:
    """Night ``number``: students s0..s(number+2), so every night creates exactly one student."""
    users = [teacher("t1", "sch1")] + [student(f"s{i}", "sch1") for i in range(number + 3)]
    return write_bundle(
        drop / f"night-{number:02d}",
        orgs=[org("sch1", "North High")],
        users=users,
        classes=[section("sec1", "sch1")],
        enrollments=[enrollment(f"e{u['sourcedId']}", "sec1", u["sourcedId"], "sch1",
                                role="teacher" if u["role"] == "teacher" else "student")
                     for u in users],
    )


def lock_district(tmp_path: Path) -> tuple[District, Path]:
    drop = tmp_path / "drop"
    first = night(drop, 0)
    district = make_district(tmp_path, first, schools={"create_unmatched": True},
                             source={"type": "oneroster_csv", "drop_folder": str(drop)})
    return district, drop


def test_a_second_holder_waits_then_is_told_who_holds_the_district(tmp_path: Path):
    with district_lock(tmp_path, "d1", run_id="run-1", purpose="sync_district", wait_s=0):
        holder = current_holder(tmp_path, "d1")
        assert holder is not None and holder.run_id == "run-1" and holder.pid == os.getpid()
        with pytest.raises(DistrictBusy, match="sync_district run run-1") as busy:
            with district_lock(tmp_path, "d1", run_id="run-2", purpose="approve_plan",
                               wait_s=0.2):
                pass
        assert busy.value.holder == holder
        with district_lock(tmp_path, "d2", run_id="run-3", purpose="sync_district", wait_s=0):
            pass
    assert current_holder(tmp_path, "d1") is None
    with district_lock(tmp_path, "d1", run_id="run-4", purpose="sync_district", wait_s=0):
        pass


def test_a_sync_of_a_busy_district_is_skipped_and_touches_nothing(tmp_path: Path):
    district, drop = lock_district(tmp_path)
    assert district.sync(night(drop, 0)).status == "applied"
    before = district.roster_snapshot()
    runs = district.scalar("select count(*) from sync.runs")

    with district_lock(district.warehouse_dir, district.district_id, run_id="cli-restore",
                       purpose="restore", wait_s=0):
        os.environ["ROSTERSYNC_RUN_LOCK_WAIT_S"] = "0.5"
        try:
            outcome = district.sync(night(drop, 1))
        finally:
            del os.environ["ROSTERSYNC_RUN_LOCK_WAIT_S"]

    assert outcome.status == "skipped"
    assert outcome.success
    assert "restore run cli-restore" in (outcome.failure or outcome.reason or "")
    assert district.roster_snapshot() == before
    assert district.scalar("select count(*) from sync.runs") == runs


def sync_nights_in_child(config_dir: str, warehouse_dir: str, drop: str, barrier, results,
                         iterations: int) -> None:
    """Runs in a spawned process: for each night, wait for the other process, then sync."""
    from rostersync_pipeline.runner import run_sync

    os.environ["ROSTERSYNC_RUN_LOCK_WAIT_S"] = "0"
    for number in range(1, iterations + 1):
        barrier.wait(timeout=120)
        try:
            outcome = run_sync("district-a", config_dir=Path(config_dir),
                               warehouse_dir=Path(warehouse_dir),
                               bundle_path=Path(drop) / f"night-{number:02d}")
            results.put((number, outcome.run_id, outcome.status,
                         outcome.reason or outcome.failure))
        except Exception as exc:  # reported to the parent, which fails the test
            results.put((number, None, "raised", repr(exc)))


def test_two_syncs_started_together_night_after_night_apply_once_each_night(tmp_path: Path):
    district, drop = lock_district(tmp_path)
    assert district.sync(night(drop, 0)).status == "applied"
    for number in range(1, ITERATIONS + 1):
        night(drop, number)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    children = [ctx.Process(target=sync_nights_in_child,
                            args=(str(district.config_dir), str(district.warehouse_dir),
                                  str(drop), barrier, results, ITERATIONS))
                for _ in range(2)]
    for child in children:
        child.start()
    outcomes: list[tuple] = []
    try:
        for _ in range(2 * ITERATIONS):
            outcomes.append(results.get(timeout=TIMEOUT_S))
    finally:
        for child in children:
            child.join(timeout=30)
            if child.is_alive():
                child.kill()

    assert not [o for o in outcomes if o[2] not in ("applied", "skipped")], outcomes
    skipped = [o for o in outcomes if o[2] == "skipped"]
    assert skipped, "the two syncs never overlapped, so the lock was not exercised"
    assert all("is busy" in (o[3] or "") for o in skipped)
    applied_runs = {o[1]: o[0] for o in outcomes if o[2] == "applied"}
    changed = district.query(
        "select run_id, count(*) from roster.change_log where run_id in "
        "(select unnest(?::varchar[])) group by run_id", [list(applied_runs)])
    changed_nights = sorted(applied_runs[run_id] for run_id, _ in changed)
    assert changed_nights == list(range(1, ITERATIONS + 1))
    assert district.query(
        "select source_id, count(*) from roster.users group by source_id having count(*) > 1"
    ) == []
    assert district.query(
        "select count(*), count(distinct app_id) from roster.users") == [
        (ITERATIONS + 4, ITERATIONS + 4)]
    assert district.query(
        "select count(*) from roster.change_log where action = 'create' and entity = 'students'"
    ) == [(ITERATIONS + 3,)]
