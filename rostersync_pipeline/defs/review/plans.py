"""``approve_plan`` and ``discard_plan``: decide a stored plan that waits in ``requires_review``.

Both are partitioned by district and take only the plan id: in the UI, open the job's
Launchpad, pick the district's partition and launch (the district's one waiting plan), or name
the plan in run config, e.g.::

    ops:
      apply_stored_plan:
        config: {plan_id: "1a2b3c4d-..."}

``rostersync approve | discard DISTRICT_ID PLAN_ID`` runs the same jobs in-process. The plan id
is the id of the run that made the plan (``sync.stored_plans``). An approval is a run of its own
(``sync.runs`` status ``approved``); it is refused, and nothing changes, if the plan is not that
district's, was already decided, or the roster changed since the plan was made.
"""

import dagster as dg

from rostersync_pipeline.defs.partitions import districts_partitions
from rostersync_pipeline.lib.apply.plan_store import (
    PlanRefused,
    approve_stored_plan,
    discard_stored_plan,
    only_waiting_plan,
)
from rostersync_pipeline.lib.apply.refresh import deliver_pending_webhooks, refresh_roster
from rostersync_pipeline.lib.report.run_status import RunStatus
from rostersync_pipeline.lib.report.summary_text import summary_markdown
from rostersync_pipeline.lib.storage.analytics import publish_run
from rostersync_pipeline.lib.storage.destinations import DestinationRefused
from rostersync_pipeline.resources.warehouse import RosterWarehouse

APPROVE_JOB_NAME = "approve_plan"
DISCARD_JOB_NAME = "discard_plan"
SYNCED_ROSTER = dg.AssetKey(["roster", "synced_roster"])


class StoredPlanConfig(dg.Config):
    plan_id: str | None = None
    """The stored plan: the id of the run that made it (``rostersync plan`` lists them). Left
    out: the district's one plan waiting for review (refused when several wait)."""
    note: str | None = None
    """Why (kept in ``sync.stored_plans.decision_note`` when discarding)."""


@dg.op
def apply_stored_plan(
    context: dg.OpExecutionContext, config: StoredPlanConfig, warehouse: RosterWarehouse
) -> None:
    """Apply the stored plan in one transaction with the approval run's record (the roster
    read from the district's destination first)."""
    district_id = context.partition_key
    destination = warehouse.destination(district_id)
    with warehouse.connect(district_id) as con:
        try:
            refresh_roster(con, destination, context.log)
            plan_id = config.plan_id or only_waiting_plan(con, district_id)
            plan, applied, summary = approve_stored_plan(con, district_id, plan_id,
                                                         context.run_id, destination)
        except (PlanRefused, DestinationRefused) as exc:
            raise dg.Failure(description=f"approval refused: {exc}") from exc
        deliver_pending_webhooks(con, destination, context.log)
        publish_run(con, warehouse.warehouse_dir, district_id, context.run_id,
                    tables=("runs", "roster_counts"))
    context.log.info(f"district {district_id}: stored plan {plan.plan_id} approved, "
                     f"{applied} change(s) applied")
    context.log_event(dg.AssetMaterialization(
        asset_key=SYNCED_ROSTER,
        partition=district_id,
        description=f"stored plan {plan.plan_id} approved and applied",
        metadata={
            "status": RunStatus.APPROVED.value,
            "plan_id": plan.plan_id,
            "changes_applied": applied,
            "summary": dg.MetadataValue.md(summary_markdown(summary)),
        },
    ))


@dg.op
def drop_stored_plan(
    context: dg.OpExecutionContext, config: StoredPlanConfig, warehouse: RosterWarehouse
) -> None:
    """Mark the stored plan discarded and drop its rows; the next run plans afresh."""
    district_id = context.partition_key
    with warehouse.connect(district_id) as con:
        try:
            plan_id = config.plan_id or only_waiting_plan(con, district_id)
            plan = discard_stored_plan(con, district_id, plan_id, config.note)
        except PlanRefused as exc:
            raise dg.Failure(description=f"discard refused: {exc}") from exc
    context.log.info(f"district {district_id}: stored plan {plan.plan_id} discarded")


@dg.job(
    name=APPROVE_JOB_NAME,
    partitions_def=districts_partitions,
    description="Apply exactly one stored plan of the district that waits in requires_review "
    "(config: plan_id); refused if the roster changed since the plan was made.",
)
def approve_plan_job() -> None:
    apply_stored_plan()


@dg.job(
    name=DISCARD_JOB_NAME,
    partitions_def=districts_partitions,
    description="Discard one stored plan of the district that waits in requires_review "
    "(config: plan_id, note).",
)
def discard_plan_job() -> None:
    drop_stored_plan()
