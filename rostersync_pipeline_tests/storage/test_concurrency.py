"""Two districts syncing at the same time into one warehouse directory, in two processes."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import duckdb

from rostersync_pipeline.demo.district import write_oneroster_bundle
from rostersync_pipeline_tests.helpers import make_district

DISTRICTS = ("district-a", "district-b")
TIMEOUT_S = 150


def sync_in_child(district_id: str, config_dir: str, warehouse_dir: str, barrier, results) -> None:
    """Runs in a spawned process: wait for the other district, then sync this one."""
    from rostersync_pipeline.runner import run_sync

    barrier.wait(timeout=60)
    try:
        outcome = run_sync(district_id, config_dir=Path(config_dir),
                           warehouse_dir=Path(warehouse_dir))
        results.put((district_id, outcome.success, outcome.status, outcome.failure,
                     outcome.run_id))
    except Exception as exc:
        results.put((district_id, False, "raised", repr(exc), None))


def test_two_districts_sync_concurrently_in_one_warehouse(tmp_path: Path):
    for seed, district_id in enumerate(DISTRICTS, start=1):
        bundle = write_oneroster_bundle(tmp_path / district_id, 300, seed=seed).out_dir
        make_district(tmp_path, bundle, district_id, schools={"create_unmatched": True})
    config_dir, warehouse = tmp_path / "config", tmp_path / "warehouse"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(DISTRICTS))
    results = ctx.Queue()
    children = [
        ctx.Process(target=sync_in_child,
                    args=(d, str(config_dir), str(warehouse), barrier, results))
        for d in DISTRICTS
    ]
    for child in children:
        child.start()
    outcomes = {}
    try:
        for _ in DISTRICTS:
            district_id, *rest = results.get(timeout=TIMEOUT_S)
            outcomes[district_id] = rest
    finally:
        for child in children:
            child.join(timeout=30)
            if child.is_alive():
                child.kill()

    for district_id in DISTRICTS:
        success, status, failure, _ = outcomes[district_id]
        assert success, f"{district_id}: {failure}"
        assert status == "applied"
        assert failure is None
    with duckdb.connect(str(warehouse / "analytics.duckdb"), read_only=True) as con:
        runs = con.execute(
            "select district_id, run_id, status from runs order by district_id").fetchall()
        students = con.execute(
            "select district_id, sum(records) from roster_counts "
            "where entity = 'students' and status = 'active' group by 1 order by 1").fetchall()
    assert runs == [(d, outcomes[d][3], "applied") for d in DISTRICTS]
    assert [d for d, _ in students] == list(DISTRICTS)
    assert all(n > 0 for _, n in students)
