"""``restore_roster``: return a district's roster to its state after an earlier run.

Partitioned by district; config ``to_run_id`` (a run of that district, ``sync.runs``). The
restore is a run of its own (status ``restored``), in one transaction; see docs/operations.md.
"""

import dagster as dg

from rostersync_pipeline.defs.partitions import districts_partitions
from rostersync_pipeline.lib.apply.refresh import deliver_pending_webhooks, refresh_roster
from rostersync_pipeline.lib.apply.restore import RestoreRefused, restore_to_run
from rostersync_pipeline.lib.report.run_status import RunStatus
from rostersync_pipeline.lib.storage.analytics import publish_run
from rostersync_pipeline.lib.storage.destinations import DestinationRefused
from rostersync_pipeline.resources.warehouse import RosterWarehouse

RESTORE_JOB_NAME = "restore_roster"
SYNCED_ROSTER = dg.AssetKey(["roster", "synced_roster"])


class RestoreConfig(dg.Config):
    to_run_id: str
    """The run whose resulting roster to return to."""


@dg.op
def restore_roster_to_run(
    context: dg.OpExecutionContext, config: RestoreConfig, warehouse: RosterWarehouse
) -> None:
    """Set every record back to its version valid when ``to_run_id`` finished."""
    district_id = context.partition_key
    destination = warehouse.destination(district_id)
    with warehouse.connect(district_id) as con:
        try:
            refresh_roster(con, destination, context.log)
            result = restore_to_run(con, district_id, config.to_run_id, run_id=context.run_id,
                                    destination=destination)
        except (RestoreRefused, DestinationRefused) as exc:
            raise dg.Failure(description=f"restore refused: {exc}") from exc
        deliver_pending_webhooks(con, destination, context.log)
        publish_run(con, warehouse.warehouse_dir, district_id, context.run_id,
                    tables=("runs", "roster_counts"))
    context.log.info(f"district {district_id}: restored to run {config.to_run_id}, "
                     f"{result.changes} change(s)")
    context.log_event(dg.AssetMaterialization(
        asset_key=SYNCED_ROSTER,
        partition=district_id,
        description=f"roster restored to its state after run {config.to_run_id}",
        metadata={"status": RunStatus.RESTORED.value, "to_run_id": config.to_run_id,
                  "changes_applied": result.changes},
    ))


@dg.job(
    name=RESTORE_JOB_NAME,
    partitions_def=districts_partitions,
    description="Return the district's roster to its state after an earlier run (config: "
    "to_run_id), as a new run.",
)
def restore_roster_job() -> None:
    restore_roster_to_run()
