"""Many districts from their nightly schedules through the run queue: a small run of the benchmark.

Three tiny districts in three time zones, ``deploy/dagster.yaml`` on a real PostgreSQL server with
at most two runs in progress, and a real ``dagster-daemon``: its scheduler evaluates every
district's once-a-day schedule at its tick (set for the coming minute on the district's clock),
its run queue launches each queued run in its own process (see
``benchmarks/bench_many_districts.py``). Every run must succeed, without lock errors, and each
district's DuckDB must hold its run's ``sync.runs`` row. A new instance object then finds each
district's tick (its run key on the district's own clock), its run and the run's tags in
PostgreSQL: what a scheduled night leaves behind survives reopening the production instance.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from benchmarks.bench_many_districts import TIME_ZONES, run_many_districts
from rostersync_pipeline.defs.partitions import districts_partitions
from rostersync_pipeline_tests.fixtures.dagster_processes import ticks
from rostersync_pipeline_tests.pg_server import PostgresServer

DISTRICTS = 3  # more than the run limit, so the queue holds one back
MAX_CONCURRENT_RUNS = 2


def test_every_district_syncs_from_its_schedule_within_the_run_limit(
    postgres_session: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("DAGSTER_HOME", "ROSTERSYNC_CONFIG_DIR", "ROSTERSYNC_WAREHOUSE",
                "ROSTERSYNC_SMTP_HOST", *postgres_session.env()):
        monkeypatch.setenv(key, os.environ.get(key, ""))
    database = postgres_session.create_database("dagster_many_districts")

    result = run_many_districts(tmp_path, database.env(), DISTRICTS, MAX_CONCURRENT_RUNS,
                                timeout_s=600)

    assert result.ticks == DISTRICTS
    assert result.runs == result.succeeded == DISTRICTS
    assert result.districts_with_run_row == DISTRICTS
    assert result.lock_messages == 0
    assert 1 <= result.peak_in_progress <= MAX_CONCURRENT_RUNS
    assert result.total_wall_seconds > 0 and result.overhead_s["median"] >= 0
    assert "normalize_roster" in result.stage_median_s  # the expectation suite's step
    reopened = dg.DagsterInstance.from_config(str(tmp_path / "dagster_home"))
    try:
        assert type(reopened.run_storage).__name__ == "PostgresRunStorage"
        runs = {run.tags["rostersync/district"]: run
                for run in reopened.get_runs(dg.RunsFilter(job_name="sync_district"))}
        district_ids = [f"district-{i:03d}" for i in range(DISTRICTS)]
        assert sorted(runs) == district_ids
        assert sorted(reopened.get_dynamic_partitions(districts_partitions.name)) == district_ids
        tick_at = datetime.fromisoformat(result.tick_at)
        for i, district_id in enumerate(district_ids):
            run = runs[district_id]
            assert run.status == dg.DagsterRunStatus.SUCCESS
            assert run.tags["dagster/partition"] == district_id
            [tick] = ticks(reopened, run.tags["dagster/schedule_name"])
            assert tick.status.value == "SUCCESS"
            local_tick = tick_at.astimezone(ZoneInfo(TIME_ZONES[i % len(TIME_ZONES)]))
            assert tick.run_keys == [f"{district_id}:{local_tick.isoformat()}"]
            assert tick.run_ids == [run.run_id]
    finally:
        reopened.dispose()
    print(f"\n{DISTRICTS} districts, limit {MAX_CONCURRENT_RUNS}: wall {result.total_wall_seconds}s, "
          f"submit {result.submit_seconds}s, run {result.run_duration_s}, "
          f"overhead {result.overhead_s}, launch {result.launch_s}")
