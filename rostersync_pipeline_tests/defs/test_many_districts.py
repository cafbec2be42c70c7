"""Many districts from their nightly schedules through the run queue: a small run of the benchmark.

Four tiny districts in four time zones, ``deploy/dagster.yaml`` on a real PostgreSQL server with
at most two runs in progress, and a real ``dagster-daemon``: its scheduler evaluates every
district's once-a-day schedule at its tick (set for the coming minute on the district's clock),
its run queue launches each queued run in its own process (see
``benchmarks/bench_many_districts.py``). Every run must succeed, without lock errors, and each
district's DuckDB must hold its run's ``sync.runs`` row.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.bench_many_districts import run_many_districts
from rostersync_pipeline_tests.pg_server import PostgresServer

DISTRICTS = 4
MAX_CONCURRENT_RUNS = 2


def test_every_district_syncs_from_its_schedule_within_the_run_limit(
    postgres_session: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("DAGSTER_HOME", "ROSTERSYNC_CONFIG_DIR", "ROSTERSYNC_WAREHOUSE",
                "ROSTERSYNC_SMTP_HOST", *postgres_session.env()):
        monkeypatch.setenv(key, os.environ.get(key, ""))
    database = postgres_session.create_database("dagster_many_districts")

    result = run_many_districts(tmp_path, database.env(), DISTRICTS, MAX_CONCURRENT_RUNS,
                                timeout_s=240)

    assert result.ticks == DISTRICTS
    assert result.runs == result.succeeded == DISTRICTS
    assert result.districts_with_run_row == DISTRICTS
    assert result.lock_messages == 0
    assert 1 <= result.peak_in_progress <= MAX_CONCURRENT_RUNS
    assert result.total_wall_seconds > 0 and result.overhead_s["median"] >= 0
    assert "normalize_roster" in result.stage_median_s  # the expectation suite's step
    print(f"\n{DISTRICTS} districts, limit {MAX_CONCURRENT_RUNS}: wall {result.total_wall_seconds}s, "
          f"submit {result.submit_seconds}s, run {result.run_duration_s}, "
          f"overhead {result.overhead_s}, launch {result.launch_s}")
