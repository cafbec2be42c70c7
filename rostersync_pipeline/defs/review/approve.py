"""The ``approve_plan`` job: apply exactly one stored plan that waits in ``requires_review``.

Launch it from the UI (Launchpad) with run config, e.g.::

    ops:
      apply_stored_plan:
        config: {district_id: springfield, plan_id: "1a2b3c4d-..."}

``rostersync approve DISTRICT_ID PLAN_ID`` runs the same job in-process. The plan id is the id of
the run that made the plan (``sync.stored_plans``). The approval is a run of its own
(``sync.runs`` status ``approved``); it is refused, and nothing changes, if the roster changed
since the plan was made or the plan was already approved or discarded.
"""


import dagster as dg

from rostersync_pipeline.lib.apply.plan_store import (
    PlanRefused,
    approve_stored_plan,
    stage_stored_plan,
)
from rostersync_pipeline.lib.report.run_record import (
    APPROVED,
    RunSummary,
    fill_plan_summary,
    record_run,
)
from rostersync_pipeline.lib.report.summary_text import summary_markdown
from rostersync_pipeline.resources.warehouse import RosterWarehouse

APPROVE_JOB_NAME = "approve_plan"
SYNCED_ROSTER = dg.AssetKey(["roster", "synced_roster"])


class ApprovePlanConfig(dg.Config):
    district_id: str
    """The district whose plan is approved."""
    plan_id: str
    """The stored plan to apply: the id of the run that made it."""


@dg.op
def apply_stored_plan(
    context: dg.OpExecutionContext, config: ApprovePlanConfig, warehouse: RosterWarehouse
) -> None:
    """Apply the stored plan in one transaction, record the approval run and its summary."""
    with warehouse.connect(config.district_id) as con:
        started_at = con.execute("select now()::timestamp").fetchall()[0][0]
        try:
            plan, applied = approve_stored_plan(
                con, config.district_id, config.plan_id, context.run_id)
        except PlanRefused as exc:
            raise dg.Failure(description=f"approval refused: {exc}") from exc
        summary = RunSummary(
            run_id=context.run_id, district_id=config.district_id, status=APPROVED,
            dry_run=False, fetch_complete=None, fetch_mode="approval",
            reasons=[f"approved stored plan {plan.plan_id}"], started_at=started_at,
        )
        fill_plan_summary(con, summary, stage_stored_plan(con, plan.plan_id))
        record_run(con, summary)
    context.log.info(
        f"district {config.district_id}: stored plan {plan.plan_id} approved, "
        f"{applied} change(s) applied"
    )
    context.log_event(dg.AssetMaterialization(
        asset_key=SYNCED_ROSTER,
        partition=config.district_id,
        description=f"stored plan {plan.plan_id} approved and applied",
        metadata={
            "status": APPROVED,
            "plan_id": plan.plan_id,
            "changes_applied": applied,
            "summary": dg.MetadataValue.md(summary_markdown(summary)),
        },
    ))


@dg.job(
    name=APPROVE_JOB_NAME,
    description="Apply exactly one stored plan that waits in requires_review (config: "
    "district_id, plan_id); refused if the roster changed since the plan was made.",
)
def approve_plan_job() -> None:
    apply_stored_plan()
