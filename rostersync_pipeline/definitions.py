"""The Dagster code location: composes the assets, checks, jobs, schedules and sensors.

Nothing is built at import time: :func:`defs` builds the definitions when a tool loads them.
"""

from __future__ import annotations

import os

import dagster as dg

from rostersync_pipeline.defs.apply.assets import synced_roster
from rostersync_pipeline.defs.ingest.assets import land_raw_roster
from rostersync_pipeline.defs.jobs import sync_district_job
from rostersync_pipeline.defs.notifications import NOTIFICATION_SENSORS
from rostersync_pipeline.defs.reports.assets import error_export, run_summary
from rostersync_pipeline.defs.review.alerts import decide_match_alert_job
from rostersync_pipeline.defs.review.plans import approve_plan_job, discard_plan_job
from rostersync_pipeline.defs.review.queue import (
    plans_awaiting_review,
    review_queue_job,
    review_queue_refresh,
)
from rostersync_pipeline.defs.review.restore import restore_roster_job
from rostersync_pipeline.defs.schedules import nightly_schedules
from rostersync_pipeline.defs.sensors import district_configs_sensor, drop_folder_sensor
from rostersync_pipeline.defs.transform.assets import match_and_plan, normalize_roster
from rostersync_pipeline.resources.credentials import ProviderCredentials
from rostersync_pipeline.resources.smtp import SmtpResource
from rostersync_pipeline.resources.warehouse import RosterWarehouse

ASSETS = [land_raw_roster, normalize_roster, match_and_plan, synced_roster, error_export,
          run_summary]


def build_definitions(config_dir: str, warehouse_dir: str) -> dg.Definitions:
    warehouse = RosterWarehouse(config_dir=config_dir, warehouse_dir=warehouse_dir)
    return dg.Definitions(
        assets=[*ASSETS, plans_awaiting_review],
        jobs=[sync_district_job, approve_plan_job, discard_plan_job, restore_roster_job,
              review_queue_job,
              decide_match_alert_job],
        schedules=nightly_schedules(warehouse.valid_districts),
        sensors=[district_configs_sensor, drop_folder_sensor, review_queue_refresh,
                 *NOTIFICATION_SENSORS],
        resources={"warehouse": warehouse, "credentials": ProviderCredentials(),
                   "smtp": SmtpResource()},
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The code location ``dagster dev`` / ``dg`` / the daemon load: built when they ask for it.

    Paths, not secrets: where district configs and the warehouse live
    (``ROSTERSYNC_CONFIG_DIR``, ``ROSTERSYNC_WAREHOUSE``).
    """
    return build_definitions(
        config_dir=os.environ.get("ROSTERSYNC_CONFIG_DIR", "config/districts"),
        warehouse_dir=os.environ.get("ROSTERSYNC_WAREHOUSE", "warehouse"),
    )
