"""What a run tells people: the error export, the run summary, and the analytics publish."""

import dagster as dg

from rostersync_pipeline.defs.partitions import districts_partitions
from rostersync_pipeline.lib.ingest.landing import require_this_run
from rostersync_pipeline.lib.report.export import export_errors, export_path
from rostersync_pipeline.lib.report.run_record import (
    keep_run_errors,
    read_run_summary,
    record_run,
    sync_run_summary,
)
from rostersync_pipeline.lib.report.run_status import RunStatus
from rostersync_pipeline.lib.report.summary_text import summary_markdown
from rostersync_pipeline.lib.storage.analytics import publish_run
from rostersync_pipeline.resources.warehouse import RosterWarehouse


@dg.asset(
    key=["reports", "error_export"],
    deps=[dg.AssetKey(["sync", "run_errors"])],
    partitions_def=districts_partitions,
    group_name="reports",
    kinds={"csv"},
)
def error_export(context: dg.AssetExecutionContext, warehouse: RosterWarehouse) -> dg.MaterializeResult:
    """The run's errors kept in ``sync.sync_errors`` and exported as a .zip of CSV.

    Grain: one row per problem per run. Produced even when a blocking check stops apply.
    """
    district_id = context.partition_key
    path = export_path(warehouse.warehouse_dir, district_id, context.run_id)
    with warehouse.connect(district_id) as con:
        require_this_run(con, context.run_id)
        error_counts = keep_run_errors(con, context.run_id)
        rows = export_errors(con, district_id, context.run_id, path)
    metadata = {"dagster/row_count": rows, "path": dg.MetadataValue.path(str(path))}
    metadata.update({f"errors/{code}": n for code, n in error_counts.items()})
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=["reports", "run_summary"],
    deps=[dg.AssetKey(["roster", "synced_roster"]), dg.AssetKey(["reports", "error_export"])],
    partitions_def=districts_partitions,
    group_name="reports",
    kinds={"duckdb", "parquet"},
)
def run_summary(context: dg.AssetExecutionContext, warehouse: RosterWarehouse) -> dg.MaterializeResult:
    """One ``sync.runs`` row per run (status, counts per entity and action, errors per code) and
    one ``sync.run_details`` row (ID changes, match alerts, sample plan rows per action),
    published with the run's errors and counts to the cross-district analytics views."""
    district_id = context.partition_key
    with warehouse.connect(district_id) as con:
        require_this_run(con, context.run_id)
        summary = read_run_summary(con, context.run_id)
        if summary is None:
            summary = sync_run_summary(
                con, district_id=district_id, run_id=context.run_id,
                status=RunStatus.NOT_APPLIED,
                reasons=["apply did not run (a step before it failed)"],
                export_path=str(export_path(warehouse.warehouse_dir, district_id,
                                            context.run_id)),
            )
            record_run(con, summary)
        publish_run(con, warehouse.warehouse_dir, district_id, context.run_id)
    return dg.MaterializeResult(
        metadata={
            "status": summary.status.value,
            "summary": dg.MetadataValue.md(summary_markdown(summary)),
            **{f"errors/{code}": n for code, n in summary.error_counts.items()},
        }
    )
