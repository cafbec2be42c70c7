"""Benchmark: many small districts synced from their nightly schedules, through the run queue.

    python benchmarks/bench_many_districts.py --districts 200 --max-concurrent-runs 4 [--json FILE]

What runs, all real parts:

1. ``N`` district configs (each its own DuckDB file) with nightly schedules in six US time zones,
   all pointing at one tiny synthetic OneRoster bundle. Each schedule is a once-a-day cron set,
   on its district's clock, for the same coming minute (``--tick-margin`` seconds or more from
   now): 02:15 in one zone is 01:15 in the next. A throwaway PostgreSQL server
   (``rostersync_pipeline_tests/pg_server.py``) and ``deploy/dagster.yaml`` rendered into a temp
   ``DAGSTER_HOME`` with ``max_concurrent_runs`` set.
2. ``dagster-daemon run`` on ``workspace.yaml``. Its scheduler records every schedule as running
   when it starts, then at the tick evaluates each district's schedule, creates its run, submits
   it to the queue and records the tick. Its run queue (``QueuedRunCoordinator``) launches queued
   runs, each in its own process (``DefaultRunLauncher``), at most ``max_concurrent_runs`` at once
   and one per district (tag ``rostersync/district``).
3. Wait until every run finished, then measure from the instance's run records and step stats.

Printed (and written with ``--json``): total wall time from the first submitted run to the last
finished one, runs per minute, the seconds from the tick to the last run created; per run the
queue wait (created to launched), the launch time (launched to the run process starting its
first work: process start, imports, code loading), the run duration, the time in steps and the
overhead (launched to finished minus time in steps); the median seconds per step; the peak
number of runs in progress, and the checks: every run succeeded, every district's DuckDB holds
its ``sync.runs`` row, no event message mentions a lock. See
``benchmarks/README-many-districts.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import dagster as dg  # noqa: E402

from rostersync_pipeline.demo.district import write_district_config, write_oneroster_bundle  # noqa: E402
from rostersync_pipeline.lib.storage.warehouse import district_connection  # noqa: E402
from rostersync_pipeline_tests.fixtures.dagster_processes import (  # noqa: E402
    dagster_daemon,
    daily_cron_at,
    next_minute,
    schedule_states,
    wait_for_schedules,
)

WORKSPACE = REPO_ROOT / "workspace.yaml"
DEPLOY_DAGSTER_YAML = REPO_ROOT / "deploy" / "dagster.yaml"
TIME_ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
              "America/Los_Angeles", "Pacific/Honolulu")
STUDENTS = 30
# Seconds from writing the configs to the tick: the daemon must load the code location and record
# every schedule as running before it, or the tick is never evaluated (the run then times out).
TICK_MARGIN_S = 90.0
FINISHED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


@dataclass
class Districts:
    config_dir: Path
    warehouse_dir: Path
    ids: list[str]


@dataclass
class ManyDistrictsResult:
    districts: int
    max_concurrent_runs: int
    runs: int
    succeeded: int
    ticks: int
    districts_with_run_row: int
    lock_messages: int
    peak_in_progress: int
    tick_at: str
    submit_seconds: float
    total_wall_seconds: float
    runs_per_minute: float
    queue_wait_s: dict[str, float] = field(default_factory=dict)
    launch_s: dict[str, float] = field(default_factory=dict)
    run_duration_s: dict[str, float] = field(default_factory=dict)
    step_time_s: dict[str, float] = field(default_factory=dict)
    overhead_s: dict[str, float] = field(default_factory=dict)
    stage_median_s: dict[str, float] = field(default_factory=dict)
    machine: str = ""


def write_districts(root: Path, count: int, tick_at: datetime,
                    students: int = STUDENTS) -> Districts:
    """``count`` district configs on one tiny bundle, in six time zones, each with a once-a-day
    schedule that fires at ``tick_at`` on its own clock."""
    bundle = root / "bundle"
    write_oneroster_bundle(bundle, students, seed=11)
    config_dir, warehouse_dir = root / "config", root / "warehouse"
    ids = []
    for i in range(count):
        district_id = f"district-{i:03d}"
        timezone = TIME_ZONES[i % len(TIME_ZONES)]
        write_district_config(
            config_dir, district_id, bundle,
            name=f"Benchmark district {i:03d}",
            timezone=timezone,
            schedule=daily_cron_at(tick_at, timezone),
            schools={"create_unmatched": True},
            notifications={"emails": []},
        )
        ids.append(district_id)
    return Districts(config_dir, warehouse_dir, ids)


def render_instance(home: Path, max_concurrent_runs: int) -> Path:
    """``deploy/dagster.yaml`` in ``home`` with this machine's run limit."""
    config = yaml.safe_load(DEPLOY_DAGSTER_YAML.read_text(encoding="utf-8"))
    config["concurrency"]["runs"]["max_concurrent_runs"] = max_concurrent_runs
    home.mkdir(parents=True, exist_ok=True)
    path = home / "dagster.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def count_ticks(instance: dg.DagsterInstance) -> int:
    return sum(len(instance.get_ticks(state.instigator_origin_id, state.selector_id))
               for state in schedule_states(instance))


def wait_for_runs(instance: dg.DagsterInstance, expected: int, timeout_s: float) -> list:
    """Run records of the ``sync_district`` runs once ``expected`` of them have finished."""
    deadline = time.monotonic() + timeout_s
    while True:
        records = instance.get_run_records(dg.RunsFilter(job_name="sync_district"))
        done = [r for r in records if r.dagster_run.status in FINISHED]
        if len(done) >= expected:
            return records
        if time.monotonic() > deadline:
            states = sorted({r.dagster_run.status.value for r in records})
            raise TimeoutError(f"{len(done)} of {expected} runs finished after {timeout_s:.0f}s "
                               f"(statuses seen: {', '.join(states)})")
        time.sleep(1.0)


def _spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 2),
        "p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 2),
        "max": round(ordered[-1], 2),
        "mean": round(statistics.fmean(ordered), 2),
    }


def _peak_in_progress(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
                   key=lambda edge: (edge[0], edge[1]))
    peak = current = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def measure(
    instance: dg.DagsterInstance, districts: Districts, records: list, *, ticks: int,
    tick_at: datetime, submit_seconds: float, max_concurrent_runs: int,
) -> ManyDistrictsResult:
    """Figures from the run records, step stats, event logs and each district's DuckDB."""
    queue_wait, launch, duration, step_time, overhead, intervals = [], [], [], [], [], []
    stages: dict[str, list[float]] = {}
    lock_messages = 0
    with_row = 0
    for record in records:
        run_id = record.dagster_run.run_id
        start, end = record.start_time or 0.0, record.end_time or 0.0
        steps = 0.0
        for stat in instance.get_run_step_stats(run_id):
            if stat.start_time and stat.end_time:
                steps += stat.end_time - stat.start_time
                stages.setdefault(stat.step_key, []).append(stat.end_time - stat.start_time)
        starting = instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.RUN_STARTING).records
        launched = starting[0].timestamp if starting else start
        queue_wait.append(launched - record.create_timestamp.timestamp())
        launch.append(start - launched)
        duration.append(end - start)
        step_time.append(steps)
        overhead.append(end - launched - steps)
        intervals.append((launched, end))
        for entry in instance.all_logs(run_id):
            if "lock" in (entry.message or "").lower():
                lock_messages += 1
        district_id = record.dagster_run.tags.get("dagster/partition", "")
        with district_connection(districts.warehouse_dir, district_id, read_only=True) as con:
            rows = con.execute("select status from sync.runs where run_id = ?", [run_id]).fetchall()
        with_row += rows == [("applied",)]
    first = min(r.create_timestamp.timestamp() for r in records)
    last = max(r.end_time or 0.0 for r in records)
    wall = last - first
    return ManyDistrictsResult(
        districts=len(districts.ids),
        max_concurrent_runs=max_concurrent_runs,
        runs=len(records),
        succeeded=sum(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in records),
        ticks=ticks,
        districts_with_run_row=with_row,
        lock_messages=lock_messages,
        peak_in_progress=_peak_in_progress(intervals),
        tick_at=tick_at.isoformat(),
        submit_seconds=round(submit_seconds, 1),
        total_wall_seconds=round(wall, 1),
        runs_per_minute=round(60 * len(records) / wall, 2) if wall else 0.0,
        queue_wait_s=_spread(queue_wait),
        launch_s=_spread(launch),
        run_duration_s=_spread(duration),
        step_time_s=_spread(step_time),
        overhead_s=_spread(overhead),
        stage_median_s={key: round(statistics.median(v), 2) for key, v in sorted(stages.items())},
        machine=f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
    )


def run_many_districts(
    root: Path, pg_env: Mapping[str, str], count: int, max_concurrent_runs: int,
    timeout_s: float, tick_margin_s: float = TICK_MARGIN_S,
) -> ManyDistrictsResult:
    """Steps 1-3 of the module docstring under ``root``; ``os.environ`` gains the settings.
    ``timeout_s`` counts from the tick."""
    from rostersync_pipeline.defs.partitions import sync_district_partitions

    tick_at = next_minute(datetime.now(UTC), tick_margin_s)
    districts = write_districts(root / "districts", count, tick_at)
    home = root / "dagster_home"
    render_instance(home, max_concurrent_runs)
    env = {**pg_env, "DAGSTER_HOME": str(home),
           "ROSTERSYNC_CONFIG_DIR": str(districts.config_dir),
           "ROSTERSYNC_WAREHOUSE": str(districts.warehouse_dir)}
    os.environ.update(env)
    os.environ.pop("ROSTERSYNC_SMTP_HOST", None)
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        sync_district_partitions(instance, districts.ids)
        with dagster_daemon(["-w", str(WORKSPACE)], env, root / "daemon.log", cwd=REPO_ROOT):
            wait_for_schedules(instance, count, tick_at)
            records = wait_for_runs(instance, count, tick_at.timestamp() - time.time() + timeout_s)
    finally:
        instance.dispose()
    # A new instance object: the ticks, runs and events are read back from storage.
    reopened = dg.DagsterInstance.from_config(str(home))
    try:
        submit_seconds = max(r.create_timestamp.timestamp() for r in records) - tick_at.timestamp()
        return measure(reopened, districts, records, ticks=count_ticks(reopened),
                       tick_at=tick_at, submit_seconds=submit_seconds,
                       max_concurrent_runs=max_concurrent_runs)
    finally:
        reopened.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--districts", type=int, default=200)
    parser.add_argument("--max-concurrent-runs", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=3600.0,
                        help="seconds to wait for the runs, from the tick")
    parser.add_argument("--tick-margin", type=float, default=TICK_MARGIN_S,
                        help="at least this many seconds from start to the nightly tick")
    parser.add_argument("--workdir", type=Path, help="keep files here (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)

    from rostersync_pipeline_tests.pg_server import postgres_server

    root = args.workdir or Path(tempfile.mkdtemp(prefix="rostersync-many-"))
    try:
        with postgres_server(dbname="dagster") as pg:
            result = run_many_districts(root, pg.env(), args.districts, args.max_concurrent_runs,
                                        args.timeout, args.tick_margin)
    finally:
        if args.workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    figures = asdict(result)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    ok = (result.succeeded == result.runs == result.districts == result.districts_with_run_row
          and result.lock_messages == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
