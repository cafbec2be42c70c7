"""Benchmark: what a district's nights cost, as ratios to reading its bundle (issue #12).

    python benchmarks/bench_sync.py --students 50000 [--workdir DIR] [--json FILE] [--no-small]

In one run, on one synthetic OneRoster bundle of N students:

1. **floor**: DuckDB alone reads every CSV of the bundle into tables of a new DuckDB file (the
   least any sync of it can cost); measured before the syncs and again after them, the mean is
   the floor;
2. **initial**: the first sync (the app holds the schools and two hand-made users);
3. **next night**: about 5% of the students changed (drops, adds, ID rotations, family name,
   email and grade changes, enrollment moves: ``BENCH_NIGHT_BASIS_POINTS``);
4. **identical rerun**: the same bundle again (nothing to change); the roster changed at the
   next night, so matching and planning are rebuilt, while staging reuses its tables (same
   landing, same day) and unchanged tables reuse their expectation outcomes;
5. **quiet night**: the same bundle a third time, into the roster the identical rerun left
   unchanged: every stage's inputs are as at its last build, so both are reused
   (docs/architecture.md). No target of the issue names it; it is printed for what a district
   with nothing new costs.

Each sync runs in its own child process (so its peak RSS is its own) and is reported as seconds
per stage, the ``run_sync`` call, and its ratio to the floor. Then a 500-student district end to
end, each figure the median of ``--repeat`` syncs of one bundle: in one warm process (after a
first, cold one), as a new ``rostersync sync`` process, and launched through the run queue a
``dagster-daemon`` serves (submission to success). Syncs of one bundle reuse their stages once
the roster stops changing, so the warm and new-process figures are also taken with every model
rebuilt (``*_full``: run tag ``rostersync/full``, ``sync --full``). ``--small-only`` runs just
these.
Shared, noisy machines: compare ratios, not seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from _child import add_child_args, sync_in_child  # noqa: E402 (beside this script)

SYNCS = ("initial", "next_night", "identical", "quiet")
TARGETS = {"initial": 3.0, "next_night": 1.5, "identical": 1.2}
SMALL_STUDENTS = 500
BIN = Path(sys.executable).parent


def _peak_rss_mib() -> float:
    """This process's own peak RSS. On Linux, VmHWM of /proc/self/status: ``ru_maxrss`` keeps,
    across exec, the peak of the process it was spawned from (here the parent, whose bundle
    generator peaks at about 4 GB for 1M students), so every child would report at least that."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def run_child(args: argparse.Namespace) -> int:
    """One sync in this (child) process; its measurements as JSON in ``--result``."""
    started = time.perf_counter()
    from rostersync_pipeline.runner import run_sync

    imported = time.perf_counter()
    outcome = run_sync(args.district_id, config_dir=Path(args.config_dir),
                       warehouse_dir=Path(args.warehouse_dir))
    finished = time.perf_counter()
    summary = outcome.summary
    Path(args.result).write_text(json.dumps({
        "run_id": outcome.run_id,
        "status": str(outcome.status),
        "failure": outcome.failure,
        "stage_seconds": dict(outcome.stage_seconds),
        "sync_seconds": round(finished - imported, 3),
        "import_seconds": round(imported - started, 3),
        "peak_rss_mib": round(_peak_rss_mib(), 1),
        "counts": summary.counts if summary else None,
    }), encoding="utf-8")
    return 0


def floor_seconds(bundle: Path, workdir: Path) -> float:
    """DuckDB alone: every CSV of the bundle into a table of a new DuckDB file."""
    import duckdb

    path = workdir / "floor.duckdb"
    path.unlink(missing_ok=True)
    started = time.perf_counter()
    con = duckdb.connect(str(path))
    for csv in sorted(bundle.glob("*.csv")):
        con.execute(f'create table "{csv.stem}" as select * from read_csv(?, header = true, '
                    "all_varchar = true)", [str(csv)])
    con.close()
    seconds = time.perf_counter() - started
    path.unlink(missing_ok=True)
    return seconds


def _sync_in_child(district_id: str, config_dir: Path, warehouse_dir: Path, out: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    result, wall, code = sync_in_child(__file__, district_id, config_dir, warehouse_dir, out, env)
    if result is None:
        return {"status": "crashed", "failure": f"child exited {code}",
                "stage_seconds": {}, "sync_seconds": wall, "process_seconds": wall,
                "peak_rss_mib": None, "run_id": None}
    result["process_seconds"] = round(wall, 3)
    return result


def _district(workdir: Path, students: int, district_id: str) -> tuple[Path, dict[str, Path]]:
    from rostersync_pipeline.demo.district import (
        BENCH_NEW_STUDENT_BASIS_POINTS,
        BENCH_NIGHT_BASIS_POINTS,
        write_oneroster_bundle,
    )

    bundles = {"night0": workdir / "bundles" / "night0", "night1": workdir / "bundles" / "night1"}
    stats = {
        "night0": write_oneroster_bundle(bundles["night0"], students, seed=7),
        "night1": write_oneroster_bundle(
            bundles["night1"], students, seed=7, night=1,
            change_basis_points=BENCH_NIGHT_BASIS_POINTS,
            new_student_basis_points=BENCH_NEW_STUDENT_BASIS_POINTS),
    }
    return workdir / "config", {"bundles": bundles, "stats": stats}


def run_benchmark(args: argparse.Namespace) -> dict:
    from rostersync_pipeline.demo.district import seed_roster, write_district_config
    from rostersync_pipeline.lib.storage.warehouse import district_connection

    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="rs-bench-"))
    for stale in ("bundles", "config", "warehouse"):
        shutil.rmtree(workdir / stale, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    district_id = f"bench-{args.students}"
    config_dir, made = _district(workdir, args.students, district_id)
    bundles, stats = made["bundles"], made["stats"]
    warehouse_dir = workdir / "warehouse"
    first = stats["night0"]
    print(f"generated bundles in {stats['night0'].seconds + stats['night1'].seconds:.1f} s",
          flush=True)
    floors = [floor_seconds(bundles["night0"], workdir)]
    with district_connection(warehouse_dir, district_id) as con:
        seed_roster(con, bundles["night0"], share_pct=0)
    syncs = {}
    for name, bundle in zip(SYNCS, ("night0", "night1", "night1", "night1"), strict=True):
        write_district_config(config_dir, district_id, bundles[bundle])
        print(f"running {name} sync ...", flush=True)
        syncs[name] = _sync_in_child(district_id, config_dir, warehouse_dir,
                                     workdir / f"result-{name}.json")
    floors.append(floor_seconds(bundles["night0"], workdir))
    floor = sum(floors) / len(floors)
    for result in syncs.values():
        result["ratio"] = round(result["sync_seconds"] / floor, 2)
    report = {
        "district": {"students": first.students, "teachers": first.teachers,
                     "guardians": first.guardians, "schools": first.schools, "sections": first.sections,
                     "enrollments": first.enrollments},
        "next_night_changes": stats["night1"].changes,
        "floor_seconds": [round(f, 3) for f in floors],
        "syncs": syncs,
        "environment": {"python": platform.python_version(), "platform": platform.platform(),
                        "cpus": os.cpu_count(), "load_average": os.getloadavg()},
    }
    if args.small:
        report["small_district"] = small_district(workdir / "small", args.repeat)
    if not args.workdir and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return report


def small_district(workdir: Path, repeat: int = 3) -> dict:
    """A 500-student district: warm in-process, as a new process, through the daemon's queue.

    Each figure is the median of ``repeat`` syncs of the same bundle (the first in-process sync,
    the cold one, is reported apart); ``runs`` holds every sync's seconds."""
    from rostersync_pipeline.demo.district import write_district_config, write_oneroster_bundle
    from rostersync_pipeline.lib.transform.incremental import FULL_TAG
    from rostersync_pipeline.runner import run_sync

    shutil.rmtree(workdir, ignore_errors=True)
    bundle = workdir / "bundle"
    write_oneroster_bundle(bundle, SMALL_STUDENTS, seed=11)
    config_dir, warehouse = workdir / "config", workdir / "warehouse"
    write_district_config(config_dir, "small", bundle, schools={"create_unmatched": True})
    runs: dict[str, list] = {"cold_in_process": [], "warm_in_process": [],
                             "warm_in_process_full": [], "new_process": [], "new_process_full": []}
    load_before = os.getloadavg()[0]
    for attempt in range(repeat + 1):
        for full in (False, True) if attempt else (False,):
            started = time.perf_counter()
            outcome = run_sync("small", config_dir=config_dir, warehouse_dir=warehouse,
                               tags={FULL_TAG: "true"} if full else None)
            assert outcome.success, outcome.failure
            name = "cold_in_process" if not attempt else (
                "warm_in_process_full" if full else "warm_in_process")
            runs[name].append(round(time.perf_counter() - started, 3))
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    for _ in range(repeat):
        for full in (False, True):
            started = time.perf_counter()
            subprocess.run([str(BIN / "rostersync"), "sync", "small", "--config-dir",
                            str(config_dir), "--warehouse", str(warehouse),
                            *(["--full"] if full else [])],
                           env=env, check=True, capture_output=True)
            runs["new_process_full" if full else "new_process"].append(
                round(time.perf_counter() - started, 3))
    runs["run_queue"] = _through_run_queue(workdir, config_dir, warehouse, repeat)
    timings: dict = {name: (statistics.median(seconds) if None not in seconds else None)
                     for name, seconds in runs.items()}
    timings["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    timings["runs"] = runs
    return timings


def _through_run_queue(workdir: Path, config_dir: Path, warehouse: Path,
                       launches: int = 1) -> list[float | None]:
    """Submission to success of each of ``launches`` syncs launched, one after the other, into
    a running daemon's queue (None: the run failed or took over 300 s)."""
    import dagster as dg

    home = workdir / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_ROOT / "deploy" / "local" / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "ROSTERSYNC_CONFIG_DIR": str(config_dir),
           "ROSTERSYNC_WAREHOUSE": str(warehouse)}
    target = ["-w", str(REPO_ROOT / "workspace.yaml")]
    with open(workdir / "daemon.log", "wb") as log:
        daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", *target], cwd=REPO_ROOT,
                                  env=env, stdout=log, stderr=subprocess.STDOUT)
    instance = dg.DagsterInstance.from_config(str(home))
    finished = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE)
    seconds: list[float | None] = []
    try:
        instance.add_dynamic_partitions("districts", ["small"])
        time.sleep(8)  # the daemon's queue loop is up (not counted)
        for _ in range(launches):
            known = {run.run_id for run in instance.get_runs()}
            started = time.perf_counter()
            subprocess.run([str(BIN / "dagster"), "job", "launch", "-j", "sync_district", *target,
                            "--tags", json.dumps({"dagster/partition": "small"})],
                           cwd=REPO_ROOT, env=env, check=True, capture_output=True)
            run = next(r for r in instance.get_runs(limit=5) if r.run_id not in known)
            while time.perf_counter() - started < 300:
                run = instance.get_run_by_id(run.run_id)
                if run is not None and run.status in finished:
                    break
                time.sleep(0.2)
            ok = run is not None and run.status == dg.DagsterRunStatus.SUCCESS
            seconds.append(round(time.perf_counter() - started, 3) if ok else None)
        return seconds
    finally:
        instance.dispose()
        daemon.terminate()
        daemon.wait(timeout=30)


def format_report(report: dict) -> str:
    d, syncs = report["district"], report["syncs"]
    floor = sum(report["floor_seconds"]) / len(report["floor_seconds"])
    lines = [
        "",
        f"district: {d['students']:,} students, {d['teachers']:,} teachers, "
        f"{d['guardians']:,} guardians, {d['schools']:,} schools, {d['sections']:,} sections, "
        f"{d['enrollments']:,} enrollments",
        "next night: " + ", ".join(f"{k} {v:,}" for k, v in report["next_night_changes"].items()),
        "floor (DuckDB reads the bundle): "
        + " / ".join(f"{f:.2f}" for f in report["floor_seconds"]) + f" s, mean {floor:.2f} s",
        "",
    ]
    stages: list[str] = []
    for result in syncs.values():
        stages += [s for s in result["stage_seconds"] if s not in stages]
    width = max([len(s) for s in stages] + [26])
    header = f"{'seconds':<{width}}" + "".join(f"{name:>13}" for name in syncs)

    def row(label: str, values: list[str]) -> str:
        return f"{label:<{width}}" + "".join(f"{v:>13}" for v in values)

    lines += [header, "-" * len(header)]
    for stage in stages:
        lines.append(row(stage, [f"{r['stage_seconds'].get(stage, 0):.2f}"
                                 for r in syncs.values()]))
    lines += ["-" * len(header),
              row("run_sync call", [f"{r['sync_seconds']:.2f}" for r in syncs.values()]),
              row("process (incl. imports)", [f"{r['process_seconds']:.2f}"
                                              for r in syncs.values()]),
              row("ratio to floor", [f"{r['ratio']:.2f}x" for r in syncs.values()]),
              row("target", [f"<= {TARGETS[n]}x" if n in TARGETS else "-" for n in syncs]),
              row("peak RSS (MiB)", [f"{r['peak_rss_mib']:.0f}" if r["peak_rss_mib"] else "-"
                                     for r in syncs.values()]),
              row("status", [str(r["status"]) for r in syncs.values()])]
    for name, r in syncs.items():
        if r.get("failure"):
            lines.append(f"{name} failure: {r['failure']}")
    small = report.get("small_district")
    if small:
        lines += ["", format_small(small)]
    return "\n".join(lines)


def format_small(small: dict) -> str:
    figures = ", ".join(f"{name} {small[name]}" for name in
                        ("cold_in_process", "warm_in_process", "warm_in_process_full",
                         "new_process", "new_process_full", "run_queue"))
    every = "; ".join(f"{name}: {' / '.join(str(s) for s in seconds)}"
                      for name, seconds in small["runs"].items())
    return (f"{SMALL_STUDENTS}-student district, seconds end to end (medians): {figures}  "
            "(targets: warm_in_process <= 3, new_process <= 6; *_full: every model rebuilt)\n"
            f"  every sync: {every}\n  load average before / after: "
            f"{' / '.join(str(v) for v in small['load_average'])}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--workdir", help="keep bundles, config and warehouse here "
                        "(default: a temporary directory, removed afterwards)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--json", help="also write the results as JSON to this file")
    parser.add_argument("--no-small", dest="small", action="store_false",
                        help=f"skip the {SMALL_STUDENTS}-student district timings")
    parser.add_argument("--small-only", action="store_true",
                        help=f"only the {SMALL_STUDENTS}-student district timings")
    parser.add_argument("--repeat", type=int, default=3,
                        help=f"syncs per {SMALL_STUDENTS}-student figure (their median)")
    add_child_args(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return run_child(args)
    if args.small_only:
        workdir = Path(args.workdir or tempfile.mkdtemp(prefix="rs-bench-small-"))
        small = small_district(workdir / "small", args.repeat)
        print(format_small(small))
        if args.json:
            Path(args.json).write_text(json.dumps(small, indent=2) + "\n", encoding="utf-8")
        if not args.workdir and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        return 0 if None not in small["runs"]["run_queue"] else 1
    report = run_benchmark(args)
    print(format_report(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str) + "\n",
                                   encoding="utf-8")
        print(f"\nJSON written to {args.json}")
    failed = [n for n, r in report["syncs"].items() if r["status"] in ("failed", "crashed")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
