"""The one job that syncs a district: every asset and check, in one process per run."""

from __future__ import annotations

import dagster as dg

from rostersync_pipeline.defs.partitions import districts_partitions

SYNC_JOB_NAME = "sync_district"
# the cross-district review queue (defs/review/queue.py) is not part of a district's run
QUEUE_ASSET = dg.AssetKey(["reports", "plans_awaiting_review"])

sync_district_job = dg.define_asset_job(
    SYNC_JOB_NAME,
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(QUEUE_ASSET),
    partitions_def=districts_partitions,
    executor_def=dg.in_process_executor,
    description="Fetch, land, normalize, check, match, plan, guard, apply and report for one "
    "district (a partition).",
)
