"""``rostersync plan | approve | discard | restore``: look before it writes, and undo a night.

- ``plan DISTRICT_ID [--run RUN_ID]``: a run's import summary (counts, errors, ID changes,
  alerts, sample rows) and the plans waiting for review;
- ``approve DISTRICT_ID PLAN_ID``: runs the ``approve_plan`` job in-process (the same job the
  Dagster UI launches) to apply exactly that stored plan;
- ``discard DISTRICT_ID PLAN_ID``: drops a stored plan;
- ``restore DISTRICT_ID --to-run RUN_ID``: returns the roster to its state after that run.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg


@dataclass
class ApprovalOutcome:
    run_id: str
    success: bool
    failure: str | None = None


def _failure_text(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if not event.is_step_failure:
            continue
        data = event.event_specific_data
        user = getattr(data, "user_failure_data", None)
        if user is not None and user.description:
            return user.description
        error = getattr(data, "error", None)
        if error is not None:
            return error.message.strip()
    return "the approval run failed"


def run_approval(
    district_id: str,
    plan_id: str,
    *,
    config_dir: Path,
    warehouse_dir: Path,
    instance: dg.DagsterInstance | None = None,
) -> ApprovalOutcome:
    """Run the ``approve_plan`` job in-process for one stored plan."""
    from rostersync_pipeline.definitions import build_definitions
    from rostersync_pipeline.defs.review.approve import APPROVE_JOB_NAME
    from rostersync_pipeline.runner import _instance

    defs = build_definitions(str(config_dir), str(warehouse_dir))
    job = defs.resolve_job_def(APPROVE_JOB_NAME)
    logging.getLogger("dagster").setLevel(logging.WARNING)
    result = job.execute_in_process(
        run_config={
            "ops": {"apply_stored_plan": {"config": {"district_id": district_id,
                                                     "plan_id": plan_id}}},
            "loggers": {"console": {"config": {"log_level": "WARNING"}}},
        },
        instance=instance or _instance(),
        raise_on_error=False,
        tags={"rostersync/district": district_id, "rostersync/trigger": "cli"},
    )
    failure = None if result.success else _failure_text(result)
    return ApprovalOutcome(result.run_id, result.success, failure)


def cmd_plan(args: argparse.Namespace) -> int:
    from rostersync_pipeline.lib.apply.plan_store import plans_awaiting_review
    from rostersync_pipeline.lib.report.run_record import latest_run_id, read_run_summary
    from rostersync_pipeline.lib.report.summary_text import summary_text
    from rostersync_pipeline.lib.storage.warehouse import district_connection

    with district_connection(args.warehouse, args.district_id, read_only=True) as con:
        run_id = args.run or latest_run_id(con)
        if run_id is None:
            raise SystemExit(f"no runs recorded for {args.district_id} yet")
        summary = read_run_summary(con, run_id)
        waiting = plans_awaiting_review(con)
    if summary is None:
        raise SystemExit(f"run {run_id} is not recorded for {args.district_id}")
    print(summary_text(summary))
    if waiting:
        print("\nplans waiting for review (requires_review):")
        for plan in waiting:
            print(f"  {plan.plan_id}  made {plan.created_at:%Y-%m-%d %H:%M}  "
                  + "; ".join(plan.reasons))
        print(f"approve with: rostersync approve {args.district_id} PLAN_ID   "
              f"(or discard with: rostersync discard {args.district_id} PLAN_ID)")
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    from rostersync_pipeline.lib.report.run_record import read_run_summary
    from rostersync_pipeline.lib.report.summary_text import summary_text
    from rostersync_pipeline.lib.storage.warehouse import district_connection

    outcome = run_approval(args.district_id, args.plan_id, config_dir=Path(args.config_dir),
                           warehouse_dir=Path(args.warehouse))
    if not outcome.success:
        print(outcome.failure, file=sys.stderr)
        return 1
    with district_connection(args.warehouse, args.district_id, read_only=True) as con:
        summary = read_run_summary(con, outcome.run_id)
    print(f"plan {args.plan_id} approved and applied as run {outcome.run_id}\n")
    if summary:
        print(summary_text(summary))
    return 0


def cmd_discard(args: argparse.Namespace) -> int:
    from rostersync_pipeline.lib.apply.plan_store import PlanRefused, discard_stored_plan
    from rostersync_pipeline.lib.storage.warehouse import district_connection

    with district_connection(args.warehouse, args.district_id) as con:
        try:
            discard_stored_plan(con, args.district_id, args.plan_id, args.note)
        except PlanRefused as exc:
            print(f"discard refused: {exc}", file=sys.stderr)
            return 1
    print(f"plan {args.plan_id} discarded; the next run computes a fresh plan")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from rostersync_pipeline.lib.apply.restore import RestoreRefused, restore_to_run
    from rostersync_pipeline.lib.storage.warehouse import district_connection

    with district_connection(args.warehouse, args.district_id) as con:
        try:
            result = restore_to_run(con, args.district_id, args.to_run)
        except RestoreRefused as exc:
            print(f"restore refused: {exc}", file=sys.stderr)
            return 1
    print(f"roster of {args.district_id} restored to its state after run {args.to_run}: "
          f"{result.changes} change(s), recorded as run {result.run_id} (status restored)")
    for entity, actions in sorted(result.counts.items()):
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
    add_common(plan, config=False)
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
    add_common(discard, config=False)
    discard.set_defaults(func=cmd_discard)

    restore = sub.add_parser("restore", help="return the roster to its state after a run")
    restore.add_argument("district_id")
    restore.add_argument("--to-run", required=True, help="the run whose result to restore")
    add_common(restore, config=False)
    restore.set_defaults(func=cmd_restore)
