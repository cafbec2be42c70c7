"""``rostersync plan | approve | discard | restore``: look before it writes, and undo a night.

- ``plan DISTRICT_ID [--run RUN_ID]``: a run's import summary (counts, errors, ID changes,
  alerts, sample rows) and the plans waiting for review;
- ``approve DISTRICT_ID PLAN_ID``: applies exactly that stored plan;
- ``discard DISTRICT_ID PLAN_ID``: drops a stored plan;
- ``restore DISTRICT_ID --to-run RUN_ID``: returns the roster to its state after that run.

Approve, discard and restore run the Dagster jobs ``approve_plan``, ``discard_plan`` and
``restore_roster`` in-process (the jobs the UI launches), for the district's partition.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rostersync_pipeline.cli.districts import CliError, require_configured, require_warehouse

if TYPE_CHECKING:
    from rostersync_pipeline.lib.report.run_record import RunSummary


def cmd_plan(args: argparse.Namespace) -> int:
    from rostersync_pipeline.lib.apply.plan_store import plans_awaiting_review
    from rostersync_pipeline.lib.report.run_record import latest_run_id, read_run_summary
    from rostersync_pipeline.lib.report.summary_text import summary_text
    from rostersync_pipeline.lib.storage.warehouse import district_connection

    require_warehouse(args)
    with district_connection(args.warehouse, args.district_id, read_only=True) as con:
        run_id = args.run or latest_run_id(con)
        if run_id is None:
            raise CliError(f"no runs recorded for {args.district_id} yet")
        summary = read_run_summary(con, run_id)
        waiting = plans_awaiting_review(con)
    if summary is None:
        raise CliError(f"run {run_id} is not recorded for {args.district_id} (rostersync plan "
                       f"{args.district_id} shows the latest)")
    print(summary_text(summary))
    if waiting:
        print("\nplans waiting for review (requires_review):")
        for plan in waiting:
            print(f"  {plan.plan_id}  made {plan.created_at:%Y-%m-%d %H:%M}  "
                  + "; ".join(plan.reasons))
        print(f"approve with: rostersync approve {args.district_id} PLAN_ID   "
              f"(or discard with: rostersync discard {args.district_id} PLAN_ID)")
    return 0


def _review(args: argparse.Namespace, job_name: str, op_name: str,
            op_config: dict) -> tuple[bool, RunSummary | None]:
    """Run a review job for the district: (succeeded, its recorded run summary); a failure is
    printed, one line."""
    from rostersync_pipeline.lib.report.run_record import read_run_summary
    from rostersync_pipeline.lib.storage.warehouse import district_connection
    from rostersync_pipeline.runner import run_review_job

    require_configured(args)
    outcome = run_review_job(job_name, args.district_id, op_name, op_config,
                             config_dir=Path(args.config_dir), warehouse_dir=Path(args.warehouse))
    if not outcome.success:
        print(outcome.failure, file=sys.stderr)
        return False, None
    with district_connection(args.warehouse, args.district_id, read_only=True) as con:
        return True, read_run_summary(con, outcome.run_id)


def cmd_approve(args: argparse.Namespace) -> int:
    from rostersync_pipeline.defs.review.plans import APPROVE_JOB_NAME
    from rostersync_pipeline.lib.report.summary_text import summary_text

    ok, summary = _review(args, APPROVE_JOB_NAME, "apply_stored_plan", {"plan_id": args.plan_id})
    if not ok or summary is None:
        return 1
    print(f"plan {args.plan_id} approved and applied as run {summary.run_id}\n")
    print(summary_text(summary))
    return 0


def cmd_discard(args: argparse.Namespace) -> int:
    from rostersync_pipeline.defs.review.plans import DISCARD_JOB_NAME

    ok, _ = _review(args, DISCARD_JOB_NAME, "drop_stored_plan",
                    {"plan_id": args.plan_id, "note": args.note})
    if not ok:
        return 1
    print(f"plan {args.plan_id} discarded; the next run computes a fresh plan")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from rostersync_pipeline.defs.review.restore import RESTORE_JOB_NAME

    ok, summary = _review(args, RESTORE_JOB_NAME, "restore_roster_to_run",
                          {"to_run_id": args.to_run})
    if not ok or summary is None:
        return 1
    changes = sum(n for actions in summary.counts.values() for n in actions.values())
    print(f"roster of {args.district_id} restored to its state after run {args.to_run}: "
          f"{changes} change(s), recorded as run {summary.run_id} (status restored)")
    for entity, actions in sorted(summary.counts.items()):
        print(f"  {entity:<12} " + ", ".join(f"{a} {n}" for a, n in sorted(actions.items())))
    return 0


def add_review_commands(
    sub: argparse._SubParsersAction,
    add_common: Callable[..., None],
) -> None:
    """Register ``plan``, ``approve``, ``discard`` and ``restore`` on the ``rostersync`` parser."""
    plan = sub.add_parser("plan", help="show a run's import summary and plans awaiting review")
    plan.add_argument("district_id")
    plan.add_argument("--run", help="run id (default: the latest run)")
    add_common(plan)
    plan.set_defaults(func=cmd_plan)

    approve = sub.add_parser("approve", help="apply exactly one stored plan held for review")
    approve.add_argument("district_id")
    approve.add_argument("plan_id", help="the id of the run that made the plan")
    add_common(approve)
    approve.set_defaults(func=cmd_approve)

    discard = sub.add_parser("discard", help="drop a stored plan held for review")
    discard.add_argument("district_id")
    discard.add_argument("plan_id")
    discard.add_argument("--note", help="why (kept in sync.stored_plans.decision_note)")
    add_common(discard)
    discard.set_defaults(func=cmd_discard)

    restore = sub.add_parser("restore", help="return the roster to its state after a run")
    restore.add_argument("district_id")
    restore.add_argument("--to-run", required=True, help="the run whose result to restore")
    add_common(restore)
    restore.set_defaults(func=cmd_restore)
