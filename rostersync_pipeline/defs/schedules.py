"""Nightly schedules: one per district, at its configured cron in its own time zone."""


import logging

import dagster as dg

from rostersync_pipeline.config import ConfigError, DistrictConfig
from rostersync_pipeline.defs.jobs import sync_district_job

log = logging.getLogger(__name__)


def nightly_schedule(district: DistrictConfig) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=f"nightly_{district.district_id.replace('-', '_')}",
        cron_schedule=district.schedule,
        execution_timezone=district.timezone,
        job=sync_district_job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Nightly sync of {district.district_id} ({district.schedule}, "
        f"{district.timezone}).",
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        return dg.RunRequest(
            partition_key=district.district_id,
            run_key=f"{district.district_id}:{context.scheduled_execution_time.isoformat()}",
            tags={"rostersync/district": district.district_id, "rostersync/trigger": "schedule"},
        )

    return _schedule


def nightly_schedules(load_districts) -> list[dg.ScheduleDefinition]:
    try:
        districts = load_districts()
    except ConfigError as exc:
        log.error("district configs not loaded for schedules: %s", exc)
        return []
    return [nightly_schedule(d) for d in districts.values()]
