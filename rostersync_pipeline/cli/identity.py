"""Identity commands of the ``rostersync`` CLI: hand-made records, duplicate alerts, explain.

``rostersync manual add DISTRICT --role educator --email ... --first-name ... --last-name ...``
``rostersync alerts list DISTRICT`` / ``rostersync alerts decide DISTRICT SOURCE_ID --match APP_ID
| --create``, ``rostersync explain DISTRICT KEY``. See ``docs/identity.md``.
"""

from __future__ import annotations

import argparse
import getpass
import os
from collections.abc import Callable
from pathlib import Path

from rostersync_pipeline.cli.districts import CliError, require_configured, require_warehouse


def cmd_manual_add(args: argparse.Namespace) -> int:
    from rostersync_pipeline.lib.apply.run_lock import district_lock
    from rostersync_pipeline.lib.identity.manual import ManualRecordError, add_manual_user
    from rostersync_pipeline.lib.storage.warehouse import district_connection

    require_configured(args)
    with district_lock(args.warehouse, args.district_id, run_id=f"cli-{os.getpid()}",
                       purpose="manual add"), \
            district_connection(args.warehouse, args.district_id) as con:
        try:
            app_id = add_manual_user(
                con, role=args.role, email=args.email, first_name=args.first_name,
                last_name=args.last_name, placeholder_source_id=args.placeholder_source_id,
                sis_id=args.sis_id, grade=args.grade, school_app_id=args.school_app_id,
            )
        except ManualRecordError as exc:
            raise CliError(str(exc)) from exc
    print(f"manual {args.role} added as app record {app_id} (origin manual: matched on email, "
          "never deactivated by a sync)")
    return 0


def cmd_alerts_list(args: argparse.Namespace) -> int:
    from rostersync_pipeline.lib.identity.decisions import list_alerts
    from rostersync_pipeline.lib.storage.warehouse import district_connection

    require_warehouse(args)
    with district_connection(args.warehouse, args.district_id, read_only=True) as con:
        alerts = list_alerts(con, include_decided=args.all)
    if not alerts:
        print("no open possible-duplicate alerts in the last run")
        return 0
    print(f"{'entity':<10} {'source_id':<20} {'app_id':>8} {'score':>6}  status  evidence")
    for a in alerts:
        print(f"{a['entity']:<10} {a['source_id_l']:<20} {a['app_id_r']:>8} {a['score']:>6.3f}  "
              f"{a['status']:<6}  {', '.join(a['rules'])}; app record {a['status_r']}: "
              f"{a['first_name_r']} {a['last_name_r']} ~ {a['first_name_l']} {a['last_name_l']}")
    print("\ndecide: rostersync alerts decide DISTRICT SOURCE_ID --match APP_ID | --create")
    return 0


def cmd_alerts_decide(args: argparse.Namespace) -> int:
    from rostersync_pipeline.defs.review.alerts import DECIDE_JOB_NAME
    from rostersync_pipeline.runner import run_review_job

    config = {"source_id": args.source_id, "match_app_id": args.match, "create": args.create,
              "decided_by": args.by or getpass.getuser(), "note": args.note}
    require_configured(args)
    outcome = run_review_job(DECIDE_JOB_NAME, args.district_id, "record_match_decision", config,
                             config_dir=Path(args.config_dir), warehouse_dir=Path(args.warehouse))
    if not outcome.success:
        raise CliError(outcome.failure or "the decision was refused")
    target = f"app record {args.match}" if args.match is not None else "a new record"
    print(f"recorded: {args.source_id} -> {target}; the next sync honours it")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from rostersync_pipeline.lib.identity.explain import explain
    from rostersync_pipeline.lib.storage.warehouse import district_connection

    require_warehouse(args)
    with district_connection(args.warehouse, args.district_id, read_only=True) as con:
        found = explain(con, args.key)
    if not found:
        print(f"no incoming student or educator of the last run matches {args.key!r}")
        return 1
    for item in found:
        print("\n".join(item.lines()))
    return 0


def register_identity_commands(
    sub: argparse._SubParsersAction, add_common: Callable[..., None]
) -> None:
    """Add ``manual``, ``alerts`` and ``explain`` to the ``rostersync`` parser."""
    manual = sub.add_parser("manual", help="hand-made app records")
    manual_sub = manual.add_subparsers(dest="manual_command", required=True)
    add = manual_sub.add_parser("add", help="add a hand-made app user (origin manual)")
    add.add_argument("district_id")
    add.add_argument("--role", choices=("student", "educator"), required=True)
    add.add_argument("--email", required=True)
    add.add_argument("--first-name", required=True)
    add.add_argument("--last-name", required=True)
    add.add_argument("--placeholder-source-id", help="replaced by the real id when it matches")
    add.add_argument("--sis-id")
    add.add_argument("--grade")
    add.add_argument("--school-app-id", type=int)
    add_common(add)
    add.set_defaults(func=cmd_manual_add)

    alerts = sub.add_parser("alerts", help="possible-duplicate alerts and decisions")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True)
    listing = alerts_sub.add_parser("list", help="the last run's possible duplicates")
    listing.add_argument("district_id")
    listing.add_argument("--all", action="store_true", help="include decided alerts")
    add_common(listing)
    listing.set_defaults(func=cmd_alerts_list)
    decide = alerts_sub.add_parser("decide", help="match an incoming record to X, or create it")
    decide.add_argument("district_id")
    decide.add_argument("source_id")
    choice = decide.add_mutually_exclusive_group(required=True)
    choice.add_argument("--match", type=int, metavar="APP_ID")
    choice.add_argument("--create", action="store_true")
    decide.add_argument("--by", help="who decided (default: the OS user)")
    decide.add_argument("--note")
    add_common(decide)
    decide.set_defaults(func=cmd_alerts_decide)

    exp = sub.add_parser("explain", help="how one person was matched (source id, SIS id or email)")
    exp.add_argument("district_id")
    exp.add_argument("key")
    add_common(exp)
    exp.set_defaults(func=cmd_explain)


__all__ = ["register_identity_commands"]
