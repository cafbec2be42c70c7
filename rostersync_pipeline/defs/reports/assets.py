"""What a run tells people: the error export, the run summary, and the analytics publish."""



import dagster as dg

from rostersync_pipeline.defs.partitions import districts_partitions
from rostersync_pipeline.lib.apply.guard import read_guard_decision
from rostersync_pipeline.lib.report.export import export_errors, export_path
from rostersync_pipeline.lib.report.run_record import (
    RunSummary,
    fill_plan_summary,
    keep_run_errors,
    record_run,
    run_status,
)
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
    path = export_path(warehouse.warehouse_dir, district_id, context.run_id)
    with warehouse.connect(district_id) as con:
        status, reasons = read_guard_decision(con, context.run_id)
        run = con.execute(
            "select fetch_complete from config.run"
        ).fetchall()[0]
        mode = con.execute(
            "select string_agg(distinct mode, '/') from config.fetch_entities where mode <> 'absent'"
        ).fetchall()[0][0]
        summary = RunSummary(
            run_id=context.run_id,
            district_id=district_id,
            status=run_status(status),
            dry_run=status == "dry_run",
            fetch_complete=bool(run[0]),
            fetch_mode=mode or "absent",
            error_counts=dict(con.execute(
                "select error_code, count(*) from sync.sync_errors where run_id = ? group by all",
                [context.run_id],
            ).fetchall()),
            reasons=reasons,
            export_path=str(path),
        )
        fill_plan_summary(con, summary)
        record_run(con, summary)
        publish_run(con, warehouse.warehouse_dir, district_id, context.run_id)
    return dg.MaterializeResult(
        metadata={
            "status": summary.status,
            "summary": dg.MetadataValue.md(summary_markdown(summary)),
            **{f"errors/{code}": n for code, n in summary.error_counts.items()},
        }
    )
