"""Nightly schedules: one per district, at its configured cron in its own time zone."""

from collections.abc import Callable

import dagster as dg

from rostersync_pipeline.config import DistrictConfig, dagster_name
from rostersync_pipeline.defs.jobs import sync_district_job


def nightly_schedule(district: DistrictConfig) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=f"nightly_{dagster_name(district.district_id)}",
        cron_schedule=district.schedule,
        execution_timezone=district.timezone,
        job=sync_district_job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Nightly sync of {district.district_id} ({district.schedule}, {district.timezone}).",
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        return dg.RunRequest(
            partition_key=district.district_id,
            run_key=f"{district.district_id}:{context.scheduled_execution_time.isoformat()}",
            tags={"rostersync/district": district.district_id, "rostersync/trigger": "schedule"},
        )

    return _schedule


def nightly_schedules(
    load_districts: Callable[[], dict[str, DistrictConfig]],
) -> list[dg.ScheduleDefinition]:
    """One schedule per valid district config (invalid files are logged and skipped, so one bad
    file never keeps the other districts from their schedules)."""
    return [nightly_schedule(d) for d in load_districts().values()]
