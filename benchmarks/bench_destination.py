"""Benchmark: applying a district's nights to the DuckDB destination and to PostgreSQL (#14).

    python benchmarks/bench_destination.py --students 200000 [--workdir DIR] [--json FILE]

In one run, on one synthetic OneRoster district of N students (schools created by the first
sync), two districts sync the same two nights, one per destination:

1. **initial**: the first sync creates every school, user, section and enrollment;
2. **next night**: about 5% of the students changed (``BENCH_NIGHT_BASIS_POINTS``: drops,
   adds, ID rotations, family name, email, grade and enrollment changes).

Each sync runs in its own child process with an ephemeral Dagster instance. Reported per sync:
``apply`` (the destination's apply, as ``roster/synced_roster`` measures it: for PostgreSQL the
COPY of the plan, the set statements, history, change log and feed, the commit, then the
mirror's own update and the run record), rows applied (``change_log`` rows) and rows/s;
``mirror`` (PostgreSQL only: replacing the DuckDB roster tables from the destination at the
start of the run); the ``guard_and_apply`` and ``normalize`` stages and the whole ``run_sync``.

The PostgreSQL server is a throwaway one (``rostersync_pipeline_tests/pg_server.py``) on this
machine, with durable settings (fsync, synchronous commit and full-page writes on) unless
``--fast-pg``. Shared, noisy machines: compare the two columns of one run, not runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from _child import add_child_args, sync_in_child  # noqa: E402 (beside this script)

DESTINATIONS = ("duckdb", "postgres")
NIGHTS = ("initial", "next_night")
DSN_ENV = "ROSTERSYNC_BENCH_DESTINATION_DSN"
DURABLE_SETTINGS = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on",
                    "shared_buffers": "256MB", "max_wal_size": "4GB",
                    "checkpoint_timeout": "15min", "work_mem": "64MB",
                    "maintenance_work_mem": "256MB"}


def run_child(args: argparse.Namespace) -> int:
    """One sync in this (child) process; its measurements as JSON in ``--result``."""
    import dagster as dg

    from rostersync_pipeline.lib.storage.warehouse import district_connection
    from rostersync_pipeline.runner import run_sync

    started = time.perf_counter()
    with dg.DagsterInstance.ephemeral() as instance:
        outcome = run_sync(args.district_id, config_dir=Path(args.config_dir),
                           warehouse_dir=Path(args.warehouse_dir), instance=instance)
        finished = time.perf_counter()
        event = instance.get_latest_materialization_event(
            dg.AssetKey(["roster", "synced_roster"]))
        metadata = {k: v.value for k, v in event.asset_materialization.metadata.items()} if (
            event and event.run_id == outcome.run_id) else {}
    with district_connection(Path(args.warehouse_dir), args.district_id) as con:
        mirror = con.execute("select seconds, mirrored_rows from sync.destination_mirror"
                             ).fetchall()
        rows = con.execute("select count(*) from roster.change_log where run_id = ?",
                           [outcome.run_id]).fetchall()[0][0]
    result = {
        "run_id": outcome.run_id,
        "status": outcome.status,
        "failure": outcome.failure,
        "stage_seconds": dict(outcome.stage_seconds),
        "sync_seconds": round(finished - started, 3),
        "apply_seconds": metadata.get("apply_seconds"),
        "rows_applied": rows,
        "mirror_seconds": round(mirror[0][0], 3) if mirror else None,
        "mirrored_rows": mirror[0][1] if mirror else None,
        "counts": outcome.summary.counts if outcome.summary else None,
    }
    Path(args.result).write_text(json.dumps(result), encoding="utf-8")
    return 0


def _sync_in_child(district_id: str, config_dir: Path, warehouse_dir: Path, out: Path,
                   env: dict[str, str]) -> dict:
    result, wall, code = sync_in_child(__file__, district_id, config_dir, warehouse_dir, out, env)
    if result is None:
        return {"status": "crashed", "failure": f"child exited {code}",
                "stage_seconds": {}, "sync_seconds": wall, "apply_seconds": None,
                "rows_applied": 0, "mirror_seconds": None}
    return result


def _bundles(workdir: Path, students: int) -> tuple[dict[str, Path], dict]:
    from rostersync_pipeline.demo.district import (
        BENCH_NEW_STUDENT_BASIS_POINTS,
        BENCH_NIGHT_BASIS_POINTS,
        write_oneroster_bundle,
    )

    bundles = {name: workdir / "bundles" / name for name in NIGHTS}
    stats = {
        "initial": write_oneroster_bundle(bundles["initial"], students, seed=7),
        "next_night": write_oneroster_bundle(
            bundles["next_night"], students, seed=7, night=1,
            change_basis_points=BENCH_NIGHT_BASIS_POINTS,
            new_student_basis_points=BENCH_NEW_STUDENT_BASIS_POINTS),
    }
    return bundles, stats


def run_benchmark(args: argparse.Namespace) -> dict:
    from rostersync_pipeline.demo.district import write_district_config
    from rostersync_pipeline_tests import pg_server

    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="rs-bench-"))
    for stale in ("bundles", "config", "warehouse"):
        shutil.rmtree(workdir / stale, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    bundles, stats = _bundles(workdir, args.students)
    first = stats["initial"]
    report: dict = {
        "district": {"students": first.students, "teachers": first.teachers,
                     "schools": first.schools, "sections": first.sections,
                     "enrollments": first.enrollments},
        "next_night_changes": stats["next_night"].changes,
        "postgres_settings": "fast (test server)" if args.fast_pg else DURABLE_SETTINGS,
        "syncs": {d: {} for d in DESTINATIONS},
        "environment": {"python": platform.python_version(), "platform": platform.platform(),
                        "cpus": os.cpu_count()},
        "workdir": str(workdir),
    }
    if not args.fast_pg:
        pg_server.SERVER_SETTINGS.update(DURABLE_SETTINGS)
    with pg_server.postgres_server(dbname="rostersync_bench") as server:
        env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
        env[DSN_ENV] = server.url
        config_dir, warehouse_dir = workdir / "config", workdir / "warehouse"
        for destination in DESTINATIONS:
            district_id = f"bench-{destination}-{args.students}"
            settings = ({"type": "postgres", "dsn_env": DSN_ENV} if destination == "postgres"
                        else {"type": "duckdb"})
            for night in NIGHTS:
                write_district_config(config_dir, district_id, bundles[night],
                                      schools={"create_unmatched": True},
                                      guard={"max_deactivate_pct": 10, "max_update_pct": 75},
                                      destination=settings)
                print(f"{destination}: {night} sync ...", flush=True)
                report["syncs"][destination][night] = _sync_in_child(
                    district_id, config_dir, warehouse_dir,
                    workdir / f"result-{destination}-{night}.json", env)
    if not args.workdir and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return report


def _rate(result: dict) -> str:
    seconds, rows = result.get("apply_seconds"), result.get("rows_applied") or 0
    return f"{rows / seconds:,.0f}" if seconds else "-"


def format_report(report: dict) -> str:
    d = report["district"]
    lines = ["", f"district: {d['students']:,} students, {d['teachers']:,} teachers, "
             f"{d['schools']:,} schools, {d['sections']:,} sections, "
             f"{d['enrollments']:,} enrollments",
             "next-night changes: " + ", ".join(
                 f"{k} {v:,}" for k, v in report["next_night_changes"].items()), ""]
    columns = [(dest, night) for night in NIGHTS for dest in DESTINATIONS]
    header = f"{'':<26}" + "".join(f"{f'{dest} {night}':>22}" for dest, night in columns)
    lines += [header, "-" * len(header)]

    def row(label: str, cell) -> str:
        values = []
        for dest, night in columns:
            result = report["syncs"][dest].get(night, {})
            values.append(cell(result) if result else "-")
        return f"{label:<26}" + "".join(f"{v:>22}" for v in values)

    def seconds(value) -> str:
        return f"{value:.2f}" if isinstance(value, int | float) else "-"

    lines.append(row("rows applied", lambda r: f"{r.get('rows_applied') or 0:,}"))
    lines.append(row("apply (s)", lambda r: seconds(r.get("apply_seconds"))))
    lines.append(row("apply rows/s", _rate))
    lines.append(row("mirror from destination (s)", lambda r: seconds(r.get("mirror_seconds"))))
    lines.append(row("guard_and_apply stage (s)",
                     lambda r: seconds(r["stage_seconds"].get("guard_and_apply"))))
    lines.append(row("normalize stage (s)", lambda r: seconds(r["stage_seconds"].get("normalize"))))
    lines.append(row("run_sync (s)", lambda r: seconds(r.get("sync_seconds"))))
    lines.append(row("status", lambda r: str(r.get("status"))))
    for dest in DESTINATIONS:
        for night, result in report["syncs"][dest].items():
            if result.get("failure"):
                lines.append(f"{dest} {night} failure: {result['failure']}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=200_000)
    parser.add_argument("--workdir", help="keep bundles, config and warehouses here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--json", help="also write the results as JSON to this file")
    parser.add_argument("--fast-pg", action="store_true",
                        help="the test server's settings (fsync off): not production figures")
    add_child_args(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return run_child(args)
    report = run_benchmark(args)
    print(format_report(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    failed = [r for dest in report["syncs"].values() for r in dest.values()
              if r.get("status") != "applied"]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
