"""Benchmark: an initial sync and a next-night sync of a synthetic district of N students.

    python benchmarks/bench_sync.py --students 50000 [--workdir DIR] [--json FILE]

Generates the district (night 0 and night 1 bundles, timed apart from the syncs), writes its
config, then runs each sync in a child process so its peak RSS is its own, and prints district
size, seconds per stage, total seconds and peak RSS per sync. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

SYNCS = ("initial", "next_night")


def _require_sync_service() -> None:
    try:
        from rostersync_pipeline.runner import run_sync  # noqa: F401
    except ImportError as exc:
        raise SystemExit(
            "bench_sync: cannot import rostersync_pipeline.runner.run_sync "
            f"({exc}).\nThe sync entry point is required to benchmark a sync; the generator "
            "alone can be timed with rostersync_pipeline.demo.district.write_oneroster_bundle."
        ) from exc


def _peak_rss_mib() -> float:
    """Peak resident set size of this process (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def run_child(args: argparse.Namespace) -> int:
    """One sync in this (child) process; writes its measurements as JSON to ``--result``."""
    started = time.perf_counter()
    from rostersync_pipeline.runner import run_sync

    imported = time.perf_counter()
    outcome = run_sync(
        args.district_id,
        config_dir=Path(args.config_dir),
        warehouse_dir=Path(args.warehouse_dir),
        dry_run=False,
    )
    finished = time.perf_counter()
    result = {
        "run_id": outcome.run_id,
        "status": outcome.status,
        "failure": getattr(outcome, "failure", None),
        "stage_seconds": dict(outcome.stage_seconds),
        "stage_total_seconds": round(sum(outcome.stage_seconds.values()), 3),
        "sync_seconds": round(finished - imported, 3),
        "import_seconds": round(imported - started, 3),
        "peak_rss_mib": round(_peak_rss_mib(), 1),
        "counts": getattr(getattr(outcome, "summary", None), "counts", None),
    }
    Path(args.result).write_text(json.dumps(result), encoding="utf-8")
    return 0


def _sync_in_child(district_id: str, config_dir: Path, warehouse_dir: Path, out: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    command = [
        sys.executable, str(Path(__file__).resolve()), "--child",
        "--district-id", district_id, "--config-dir", str(config_dir),
        "--warehouse-dir", str(warehouse_dir), "--result", str(out),
    ]
    started = time.perf_counter()
    completed = subprocess.run(command, env=env, cwd=REPO_ROOT, check=False)
    wall = time.perf_counter() - started
    if completed.returncode != 0 or not out.exists():
        return {"status": "crashed", "failure": f"child exited {completed.returncode}",
                "stage_seconds": {}, "stage_total_seconds": 0.0, "sync_seconds": wall,
                "process_seconds": round(wall, 3), "peak_rss_mib": None, "run_id": None}
    result = json.loads(out.read_text(encoding="utf-8"))
    result["process_seconds"] = round(wall, 3)
    return result


def run_benchmark(args: argparse.Namespace) -> dict:
    from rostersync_pipeline.demo.district import (
        seed_roster,
        write_district_config,
        write_oneroster_bundle,
    )
    from rostersync_pipeline.lib.storage.warehouse import district_connection

    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="rs-bench-"))
    district_id = f"bench-{args.students}"
    bundles = {name: workdir / "bundles" / name for name in SYNCS}
    config_dir = workdir / "config"
    warehouse_dir = workdir / "warehouse"
    for stale in (*bundles.values(), warehouse_dir, config_dir):
        shutil.rmtree(stale, ignore_errors=True)

    generated = {}
    for night, name in enumerate(SYNCS):
        stats = write_oneroster_bundle(bundles[name], args.students, seed=args.seed, night=night)
        generated[name] = stats
        print(f"generated {name:<10} bundle in {stats.seconds:6.2f} s  ({bundles[name]})",
              flush=True)
    first = generated["initial"]
    report = {
        "district": {
            "students": first.students, "teachers": first.teachers, "schools": first.schools,
            "sections": first.sections, "enrollments": first.enrollments,
        },
        "next_night_changes": generated["next_night"].changes,
        "generation_seconds": {name: round(s.seconds, 3) for name, s in generated.items()},
        "app_share_pct": args.app_share,
        "syncs": {},
        "environment": {
            "python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "workdir": str(workdir),
    }
    with district_connection(warehouse_dir, district_id) as con:
        seed_roster(con, bundles["initial"], share_pct=args.app_share)
    for name in SYNCS:
        write_district_config(config_dir, district_id, bundles[name])
        print(f"running {name} sync ...", flush=True)
        report["syncs"][name] = _sync_in_child(
            district_id, config_dir, warehouse_dir, workdir / f"result-{name}.json"
        )
    if not args.workdir and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return report


def format_report(report: dict) -> str:
    d = report["district"]
    lines = [
        "",
        f"district: {d['students']:,} students, {d['teachers']:,} teachers, "
        f"{d['schools']:,} schools, {d['sections']:,} sections, {d['enrollments']:,} enrollments",
        "generation (not in the sync figures): "
        + ", ".join(f"{k} {v:.2f} s" for k, v in report["generation_seconds"].items()),
        "next-night changes: "
        + ", ".join(f"{k} {v:,}" for k, v in report["next_night_changes"].items()),
        "",
    ]
    syncs = report["syncs"]
    stages: list[str] = []
    for result in syncs.values():
        stages += [s for s in result["stage_seconds"] if s not in stages]
    width = max([len(s) for s in stages] + [24])
    header = f"{'seconds':<{width}}" + "".join(f"{name:>14}" for name in syncs)
    lines += [header, "-" * len(header)]

    def row(label: str, values: list[str]) -> str:
        return f"{label:<{width}}" + "".join(f"{v:>14}" for v in values)

    for stage in stages:
        lines.append(row(stage, [
            f"{r['stage_seconds'][stage]:.2f}" if stage in r["stage_seconds"] else "-"
            for r in syncs.values()
        ]))
    lines.append("-" * len(header))
    lines.append(row("total (stages)", [f"{r['stage_total_seconds']:.2f}" for r in syncs.values()]))
    lines.append(row("total (run_sync call)", [f"{r['sync_seconds']:.2f}" for r in syncs.values()]))
    lines.append(row("process (incl. imports)",
                     [f"{r['process_seconds']:.2f}" for r in syncs.values()]))
    lines.append(row("peak RSS (MiB)", [
        f"{r['peak_rss_mib']:.0f}" if r["peak_rss_mib"] is not None else "-"
        for r in syncs.values()
    ]))
    lines.append(row("status", [str(r["status"]) for r in syncs.values()]))
    for name, r in syncs.items():
        if r.get("failure"):
            lines.append(f"{name} failure: {r['failure']}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", help="keep bundles, config and warehouse here "
                        "(default: a temporary directory, removed afterwards)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--json", help="also write the results as JSON to this file")
    parser.add_argument("--app-share", type=int, default=0, metavar="PCT",
                        help="percent of the students and teachers the app already holds "
                             "before the initial sync (default 0: the app holds the schools "
                             "and two hand-made users; 80 is the demo's state)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--district-id", help=argparse.SUPPRESS)
    parser.add_argument("--config-dir", help=argparse.SUPPRESS)
    parser.add_argument("--warehouse-dir", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return run_child(args)
    if args.students < 1:
        raise SystemExit("--students must be at least 1")
    if not 0 <= args.app_share <= 100:
        raise SystemExit("--app-share must be between 0 and 100")
    _require_sync_service()
    report = run_benchmark(args)
    print(format_report(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"\nJSON written to {args.json}")
    failed = [n for n, r in report["syncs"].items() if r["status"] in ("failed", "crashed")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
