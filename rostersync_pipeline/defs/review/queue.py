"""Plans waiting for review, across every district: ``reports/plans_awaiting_review``.

An unpartitioned asset whose materialization lists, as a Markdown table in its metadata, every
stored plan in ``requires_review`` of every configured district (district, plan id, when it was
made, why it was held, its counts) and how to approve it. The ``review_queue`` job materializes
it; the ``review_queue_refresh`` sensor launches that job whenever a sync, approval or discard
ends, so the asset's page in the Dagster UI is the reviewers' to-do list. Districts are read
with short read-only connections; a district a run is writing at that moment is listed as busy.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
import duckdb

from rostersync_pipeline.defs.jobs import QUEUE_ASSET, sync_district_job
from rostersync_pipeline.defs.review.plans import approve_plan_job, discard_plan_job
from rostersync_pipeline.lib.apply import plan_store
from rostersync_pipeline.lib.apply.plan_store import StoredPlan
from rostersync_pipeline.resources.warehouse import RosterWarehouse

QUEUE_JOB = "review_queue"


@dataclass(frozen=True)
class WaitingPlans:
    plans: list[StoredPlan]
    busy: list[str]


def waiting_plans(warehouse: RosterWarehouse) -> WaitingPlans:
    """Every configured district's plans waiting for review, oldest first."""
    plans, busy = [], []
    for district_id in sorted(warehouse.valid_districts()):
        if not warehouse.db_path(district_id).exists():
            continue
        try:
            with warehouse.connect(district_id, read_only=True) as con:
                plans += plan_store.plans_awaiting_review(con)
        except duckdb.IOException:
            busy.append(district_id)
    return WaitingPlans(sorted(plans, key=lambda p: (p.created_at, p.district_id)), busy)


def queue_markdown(waiting: WaitingPlans) -> str:
    if not waiting.plans:
        lines = ["No plan waits for review."]
    else:
        lines = ["| district | plan id | made | held because | changes |", "|---|---|---|---|---|"]
        for plan in waiting.plans:
            changes = "; ".join(
                f"{entity}: " + ", ".join(f"{action} {n}" for action, n in sorted(actions.items())
                                          if action != "unchanged")
                for entity, actions in sorted(plan.counts.items())
                if any(a != "unchanged" for a in actions))
            reasons = "<br>".join(r.replace("|", "/") for r in plan.reasons)
            made = f"{plan.created_at:%Y-%m-%d %H:%M}"
            lines.append(f"| {plan.district_id} | `{plan.plan_id}` | {made} | {reasons} | "
                         f"{changes} |")
        lines += ["", "Approve: launch `approve_plan` for the district's partition (left without "
                  "config it approves the district's one waiting plan), or `rostersync approve "
                  "DISTRICT PLAN_ID`. Discard: `discard_plan` / `rostersync discard`."]
    if waiting.busy:
        lines += ["", f"Busy (a run was writing them): {', '.join(waiting.busy)}."]
    return "\n".join(lines)


@dg.asset(key=QUEUE_ASSET, group_name="reports", kinds={"duckdb"})
def plans_awaiting_review(warehouse: RosterWarehouse) -> dg.MaterializeResult:
    """Plans waiting for review across districts (grain: one row per stored plan in
    ``requires_review``), as a table in this asset's metadata."""
    waiting = waiting_plans(warehouse)
    return dg.MaterializeResult(metadata={
        "waiting": len(waiting.plans),
        "districts": len({p.district_id for p in waiting.plans}),
        "queue": dg.MetadataValue.md(queue_markdown(waiting)),
    })


review_queue_job = dg.define_asset_job(
    QUEUE_JOB, selection=[QUEUE_ASSET],
    description="List the plans waiting for review in every district (reports/plans_awaiting_review).",
)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="review_queue_refresh",
    monitored_jobs=[sync_district_job, approve_plan_job, discard_plan_job],
    request_job=review_queue_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Refreshes reports/plans_awaiting_review when a sync, an approval or a discard "
    "ends.",
)
def review_queue_refresh(context: dg.RunStatusSensorContext) -> dg.RunRequest:
    return dg.RunRequest(run_key=f"review-queue:{context.dagster_run.run_id}")
