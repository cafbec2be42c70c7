"""The ``rostersync`` command: drives the same Dagster jobs in-process that the UI launches.

Mistakes at the terminal (an unknown district, a refused approval, a bad config) end with one or
two lines saying what is wrong and what to do; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import duckdb

from rostersync_pipeline.cli.console import add_console_commands
from rostersync_pipeline.cli.districts import CliError, require_configured, require_warehouse
from rostersync_pipeline.cli.identity import register_identity_commands
from rostersync_pipeline.cli.review import add_review_commands
from rostersync_pipeline.config import ConfigError
from rostersync_pipeline.lib.apply.run_lock import DistrictBusy

DEFAULT_CONFIG_DIR = os.environ.get("ROSTERSYNC_CONFIG_DIR", "config/districts")
DEFAULT_WAREHOUSE = os.environ.get("ROSTERSYNC_WAREHOUSE", "warehouse")
DEMO_DISTRICT = "demo-district"


def _print_outcome(outcome, warehouse_dir: Path, district_id: str) -> None:
    from rostersync_pipeline.lib.report.summary_text import summary_text
    from rostersync_pipeline.lib.storage.warehouse import district_db_path

    if outcome.summary:
        print(summary_text(outcome.summary))
    elif outcome.reason:
        print(f"district {district_id}  run {outcome.run_id}  status: {outcome.status}")
        print(f"note: {outcome.reason}")
    if outcome.failure:
        print(f"run failed: {outcome.failure}", file=sys.stderr)
    hint = next_step(outcome.summary)
    if hint:
        print(f"\nnext step: {hint}")
    print()
    print("seconds per stage: " + ", ".join(f"{k} {v:.2f}" for k, v in outcome.stage_seconds.items()))
    if outcome.summary and outcome.summary.export_path:
        print(f"error export:  {outcome.summary.export_path}")
    print(f"DuckDB file:   {district_db_path(warehouse_dir, district_id)}")
    print(f"analytics:     {Path(warehouse_dir) / 'analytics.duckdb'}")


def next_step(summary) -> str | None:
    """What to do after a run that imported nothing because no school matched (a first sync
    into an app that has none of the district's schools yet)."""
    if summary is None or not summary.error_counts.get("SCHOOL_NOT_MATCHED"):
        return None
    changed = sum(n for entity, actions in summary.counts.items() if entity != "schools"
                  for action, n in actions.items() if action != "unchanged")
    if changed:
        return None
    return (f"no school matched an app school, so nothing was imported "
            f"({summary.error_counts['SCHOOL_NOT_MATCHED']} SCHOOL_NOT_MATCHED). Map the SIS "
            "schools to the app's names (schools.custom_names), or let sync create them "
            "(schools.create_unmatched: true) in the district config, then sync again; "
            "the error export lists the closest app names")


def cmd_sync(args: argparse.Namespace) -> int:
    from rostersync_pipeline.lib.transform.incremental import FULL_TAG
    from rostersync_pipeline.runner import run_sync

    require_configured(args)
    outcome = run_sync(
        args.district_id,
        config_dir=Path(args.config_dir),
        warehouse_dir=Path(args.warehouse),
        dry_run=args.dry_run,
        bundle_path=Path(args.bundle) if args.bundle else None,
        progress=True,
        tags={FULL_TAG: "true"} if args.full else None,
    )
    _print_outcome(outcome, Path(args.warehouse), args.district_id)
    return 0 if outcome.success else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from rostersync_pipeline.demo.app_roster import seed_roster, write_district_config
    from rostersync_pipeline.demo.district import write_oneroster_bundle
    from rostersync_pipeline.lib.storage.warehouse import district_connection, district_db_path
    from rostersync_pipeline.runner import run_sync

    if args.night == 1:
        return _demo_next_night(args)
    if args.students < 1100:
        raise CliError("--students must be at least 1100 (two schools of 550; one of "
                         "them plays the school the app does not know)")
    warehouse = Path(args.warehouse)
    demo_root = warehouse / "demo"
    config_dir = Path(args.config_dir)
    bundle = demo_root / "bundles" / "night-0"
    started = time.perf_counter()
    shutil.rmtree(demo_root, ignore_errors=True)
    district_db_path(warehouse, DEMO_DISTRICT).unlink(missing_ok=True)
    stats = write_oneroster_bundle(bundle, args.students, seed=7, problems=True)
    write_district_config(config_dir, DEMO_DISTRICT, bundle, alerts={"open_alert_policy": "hold"})
    with district_connection(warehouse, DEMO_DISTRICT) as con:
        seed = seed_roster(con, bundle)
    print(
        f"demo district: {stats.students} students, {stats.teachers} teachers, "
        f"{stats.guardians} guardians, {stats.schools} schools, {stats.sections} sections, "
        f"{stats.enrollments} enrollments "
        f"(app already holds {seed.students} students, {seed.educators} educators)"
    )
    print("seeded problems: a rotated ID, a shared email, a missing required value, an "
          "unknown school name, an unmapped grade\n")
    outcome = run_sync(DEMO_DISTRICT, config_dir=config_dir, warehouse_dir=warehouse, progress=True)
    _print_outcome(outcome, warehouse, DEMO_DISTRICT)
    print(f"config:        {config_dir / (DEMO_DISTRICT + '.yaml')}")
    home = os.environ.get("DAGSTER_HOME")
    if home:
        print(f"Dagster:       {home} (the run, the district's partition and its nightly "
              "schedule; open it with `make dev`)")
    else:
        print("Dagster:       not recorded (no DAGSTER_HOME; `make demo` sets .dagster_home, "
              "which `make dev` opens)")
    print(f"total seconds: {time.perf_counter() - started:.1f}")
    return 0 if outcome.success else 1


def _demo_next_night(args: argparse.Namespace) -> int:
    """``demo --night 1``: write the next night's export (a closed school, a re-added student)
    as a zip to upload in the console; nothing is synced."""
    from rostersync_pipeline.demo.next_night import write_next_night

    warehouse = Path(args.warehouse)
    try:
        night = write_next_night(warehouse / "demo", warehouse, DEMO_DISTRICT)
    except FileNotFoundError as exc:
        raise CliError(f"{exc}; `make demo` (or `rostersync demo`) syncs night 0 first") from exc
    print(f"night 1 export: {night.bundle}")
    print(f"  school {night.closed_school_name} closed: {night.users_removed} students and "
          f"teachers and {night.sections_removed} sections leave the export")
    print(f"  student {night.readded_from} re-added in the SIS as {night.readded_as} (new IDs "
          "and email): a possible duplicate")
    print("next: upload it in the console for a test import (docs/console.md)")
    return 0


def cmd_errors(args: argparse.Namespace) -> int:
    from rostersync_pipeline.lib.report.export import export_errors
    from rostersync_pipeline.lib.report.run_record import latest_run_id
    from rostersync_pipeline.lib.storage.warehouse import district_connection

    require_warehouse(args)
    with district_connection(args.warehouse, args.district_id, read_only=True) as con:
        run_id = args.run or latest_run_id(con)
        if run_id is None:
            raise CliError(f"no runs recorded for district {args.district_id} yet")
        rows = export_errors(con, args.district_id, run_id, Path(args.out))
    print(f"{rows} error rows of run {run_id} written to {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rostersync", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def add_common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config-dir", default=DEFAULT_CONFIG_DIR,
                       help="directory of district YAML files (default %(default)s)")
        p.add_argument("--warehouse", default=DEFAULT_WAREHOUSE,
                       help="warehouse directory (default %(default)s)")
        p.add_argument("--debug", action="store_true",
                       help="show tracebacks and Dagster's own log lines")

    demo = sub.add_parser("demo", help="generate a synthetic district with problems and sync it")
    demo.add_argument("--students", type=int, default=2000)
    demo.add_argument("--night", type=int, choices=(0, 1), default=0,
                      help="1: write the next night's export (a closed school, a re-added "
                           "student) to upload in the console; nothing is synced")
    add_common(demo)
    demo.set_defaults(func=cmd_demo)

    sync = sub.add_parser("sync", help="sync one district now")
    sync.add_argument("district_id")
    sync.add_argument("--dry-run", action="store_true", help="test import: plan, change nothing")
    sync.add_argument("--bundle", help="land this bundle instead of the configured source")
    sync.add_argument("--full", action="store_true",
                      help="rebuild every SQL model, even those whose inputs did not change")
    add_common(sync)
    sync.set_defaults(func=cmd_sync)

    errors = sub.add_parser("errors", help="export a run's errors as a .zip of CSV")
    errors.add_argument("district_id")
    errors.add_argument("--run", help="run id (default: the latest run)")
    errors.add_argument("--out", required=True, help="output .zip path")
    add_common(errors)
    errors.set_defaults(func=cmd_errors)

    add_review_commands(sub, add_common)
    register_identity_commands(sub, add_common)
    add_console_commands(sub, add_common)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        return args.func(args)
    except ConfigError as exc:
        if debug:
            raise
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except (CliError, DistrictBusy, FileNotFoundError, duckdb.Error) as exc:
        if debug:
            raise
        print(f"{args.command}: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
