"""Benchmark: many small districts synced from their nightly schedules, through the run queue.

    python benchmarks/bench_many_districts.py --districts 200 --max-concurrent-runs 4 [--json FILE]

What runs, all real parts:

1. ``N`` district configs (each its own DuckDB file) with nightly schedules spread over six US
   time zones, all pointing at one tiny synthetic OneRoster bundle; a throwaway PostgreSQL server
   (``rostersync_pipeline_tests/pg_server.py``) and ``deploy/dagster.yaml`` rendered into a temp
   ``DAGSTER_HOME`` with ``max_concurrent_runs`` set.
2. ``dagster-daemon run`` on ``workspace.yaml``: its run queue (``QueuedRunCoordinator``) launches
   queued runs, each in its own process (``DefaultRunLauncher``), at most ``max_concurrent_runs``
   at once and one per district (tag ``rostersync/district``).
3. Dagster's scheduler iteration (the function the daemon's scheduler calls every tick) is run
   once with its clock at the end of the coming night: every district's nightly schedule is
   evaluated at its next tick, its run created and submitted to the queue, its tick recorded.
   This stands in for waiting until 02:00 in six time zones.
4. Wait until every run finished, then measure from the instance's run records and step stats.

Printed (and written with ``--json``): total wall time from the first submitted run to the last
finished one, runs per minute; per run the queue wait (created to launched), the launch time
(launched to the run process starting its first work: process start, imports, code loading),
the run duration, the time in steps and the overhead (launched to finished minus time in steps);
the median seconds per step; the peak number of runs in progress, and the checks: every run
succeeded, every district's DuckDB holds its ``sync.runs`` row, no event message mentions a
lock. See ``benchmarks/README-many-districts.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import dagster as dg  # noqa: E402

from rostersync_pipeline.demo.district import write_district_config, write_oneroster_bundle  # noqa: E402
from rostersync_pipeline.lib.storage.warehouse import district_connection  # noqa: E402

WORKSPACE = REPO_ROOT / "workspace.yaml"
DEPLOY_DAGSTER_YAML = REPO_ROOT / "deploy" / "dagster.yaml"
TIME_ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
              "America/Los_Angeles", "Pacific/Honolulu")
STUDENTS = 30
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


def write_districts(root: Path, count: int, students: int = STUDENTS) -> Districts:
    """``count`` district configs on one tiny bundle; nightly at 01:00-04:45 in six time zones."""
    bundle = root / "bundle"
    write_oneroster_bundle(bundle, students, seed=11)
    config_dir, warehouse_dir = root / "config", root / "warehouse"
    ids = []
    for i in range(count):
        district_id = f"district-{i:03d}"
        write_district_config(
            config_dir, district_id, bundle,
            name=f"Benchmark district {i:03d}",
            timezone=TIME_ZONES[i % len(TIME_ZONES)],
            schedule=f"{(i * 15) % 60} {1 + (i // 4) % 4} * * *",
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


@contextmanager
def daemon(env: Mapping[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    """``dagster-daemon run`` on the workspace, stopped (SIGTERM, then SIGKILL) on exit."""
    executable = Path(sys.executable).with_name("dagster-daemon")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(executable), "run", "-w", str(WORKSPACE), "--log-level", "warning"],
            cwd=REPO_ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@contextmanager
def scheduler_workspace(instance: dg.DagsterInstance) -> Iterator[object]:
    """The workspace (``workspace.yaml``, a code server process) the scheduler iteration reads."""
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    with WorkspaceProcessContext(instance, WorkspaceFileTarget(paths=[str(WORKSPACE)])) as context:
        yield context


SCHEDULER_ITERATIONS = 10


def scheduler_iteration(workspace: object, clock: datetime) -> None:
    """One iteration of the daemon's scheduler with its clock at ``clock``.

    Run with the clock at now, it records each (running by default) schedule as running since
    now; run again with a later clock, it evaluates every tick in between, creates each tick's
    run, submits it to the run coordinator (the queue) and records the tick.
    """
    from dagster._scheduler.scheduler import launch_scheduled_runs

    logger = logging.getLogger("bench_many_districts.scheduler")
    list(launch_scheduled_runs(workspace, logger, clock, iteration_times={}, max_catchup_runs=1))


def count_ticks(instance: dg.DagsterInstance) -> int:
    from dagster._core.definitions.run_request import InstigatorType

    return sum(len(instance.get_ticks(state.instigator_origin_id, state.selector_id))
               for state in instance.all_instigator_state(instigator_type=InstigatorType.SCHEDULE))


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
    submit_seconds: float, max_concurrent_runs: int,
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
    timeout_s: float,
) -> ManyDistrictsResult:
    """Steps 1-4 of the module docstring under ``root``; ``os.environ`` gains the settings."""
    from rostersync_pipeline.defs.partitions import sync_district_partitions

    districts = write_districts(root / "districts", count)
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
        with scheduler_workspace(instance) as workspace:
            scheduler_iteration(workspace, datetime.now(UTC))
            with daemon(env, root / "daemon.log"):
                started = time.monotonic()
                night = datetime.now(UTC) + timedelta(hours=23, minutes=59)
                # like the daemon's scheduler loop: a tick that failed (e.g. a code server
                # slow to answer under load) is retried on the next iteration
                for _ in range(SCHEDULER_ITERATIONS):
                    scheduler_iteration(workspace, night)
                    if len(instance.get_run_records(
                            dg.RunsFilter(job_name="sync_district"))) >= count:
                        break
                    time.sleep(2)
                submit_seconds = time.monotonic() - started
                records = wait_for_runs(instance, count, timeout_s)
    finally:
        instance.dispose()
    # A new instance object: the ticks, runs and events are read back from storage.
    reopened = dg.DagsterInstance.from_config(str(home))
    try:
        return measure(reopened, districts, records, ticks=count_ticks(reopened),
                       submit_seconds=submit_seconds, max_concurrent_runs=max_concurrent_runs)
    finally:
        reopened.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--districts", type=int, default=200)
    parser.add_argument("--max-concurrent-runs", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for runs")
    parser.add_argument("--workdir", type=Path, help="keep files here (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)

    from rostersync_pipeline_tests.pg_server import postgres_server

    root = args.workdir or Path(tempfile.mkdtemp(prefix="rostersync-many-"))
    try:
        with postgres_server(dbname="dagster") as pg:
            result = run_many_districts(root, pg.env(), args.districts, args.max_concurrent_runs,
                                        args.timeout)
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
