"""Run-status e-mail: a district's recipients hear when its sync failed, was held, or had errors.

Two run-status sensors watch the ``sync_district`` job. The district is the run's partition
(tag ``dagster/partition``); what happened comes from the run's recorded summary (its
``sync.runs`` row, read through ``lib/report/run_record.py``: held for review / applied / dry
run, counts, errors per code, export path), so a message states what the warehouse recorded.
Messages carry counts, codes, IDs and paths only (FERPA).

Without an SMTP host in the environment a sensor skips with a logged reason; a delivery that
fails is logged and the tick is skipped with the reason (visible in the sensor's tick history).
Log lines carry district and run ids, never recipient addresses.
"""

from pathlib import Path

import dagster as dg

from rostersync_pipeline.config import ConfigError, DistrictConfig
from rostersync_pipeline.defs.jobs import sync_district_job
from rostersync_pipeline.lib.report.notifications import (
    NotificationError,
    NotificationMessage,
    compose_held_for_review,
    compose_run_failed,
    compose_succeeded_with_errors,
)
from rostersync_pipeline.lib.report.run_record import RunSummary, read_run_summary
from rostersync_pipeline.lib.report.run_status import RunStatus
from rostersync_pipeline.resources.smtp import SmtpNotConfiguredError, SmtpResource
from rostersync_pipeline.resources.warehouse import RosterWarehouse

PARTITION_TAG = "dagster/partition"
RUN_FAILED_SENSOR = "notify_run_failed"
RUN_OUTCOME_SENSOR = "notify_run_outcome"


def read_recorded_run(warehouse: RosterWarehouse, district_id: str, run_id: str) -> RunSummary | None:
    """The run's recorded summary from the district's DuckDB file, or None when there is none."""
    if not Path(warehouse.db_path(district_id)).exists():
        return None
    with warehouse.connect(district_id, read_only=True) as con:
        return read_run_summary(con, run_id)


def outcome_message(
    district: DistrictConfig, run_id: str, recorded: RunSummary | None
) -> NotificationMessage | str:
    """The message a successful run's recipients get, or why they get none."""
    if recorded is None:
        return f"run {run_id} has no sync.runs row in {district.district_id}'s warehouse"
    wanted = set(district.notifications.on)
    if recorded.status is RunStatus.REQUIRES_REVIEW:
        if "held" not in wanted:
            return "held runs are not notified (notifications.on)"
        return compose_held_for_review(
            district_id=district.district_id,
            district_name=district.name,
            run_id=run_id,
            plan_id=run_id,
            reason="; ".join(recorded.reasons) or "held by the guard",
            counts=recorded.counts,
        )
    if recorded.status is not RunStatus.APPLIED:
        return f"run status {recorded.status}: nothing to notify"
    if not recorded.error_counts:
        return "applied without record errors: nothing to notify"
    if "errors" not in wanted:
        return "runs with errors are not notified (notifications.on)"
    return compose_succeeded_with_errors(
        district_id=district.district_id,
        district_name=district.name,
        run_id=run_id,
        counts=recorded.counts,
        error_counts=recorded.error_counts,
        export_path=recorded.export_path or "(no export)",
    )


def failure_reason(step_failures: list[dg.DagsterEvent], run_failure: dg.DagsterEvent) -> str:
    """Which steps failed and the innermost error of each, on one line (redacted when composed)."""
    parts = []
    for event in step_failures:
        error = getattr(event.event_specific_data, "error", None)
        while error is not None and error.cause is not None:
            error = error.cause
        text = error.message.strip() if error is not None else (event.message or "failed")
        parts.append(f"{event.step_key}: {text}")
    return "; ".join(parts) or (run_failure.message or "the run failed")


def _district_for_run(
    context: dg.RunStatusSensorContext, warehouse: RosterWarehouse
) -> DistrictConfig | str:
    district_id = context.dagster_run.tags.get(PARTITION_TAG)
    if not district_id:
        return f"run {context.dagster_run.run_id} has no {PARTITION_TAG} tag"
    try:
        return warehouse.district(district_id)
    except (ConfigError, FileNotFoundError) as exc:
        return f"district {district_id}: config not loaded ({exc})"


def _deliver(
    context: dg.RunStatusSensorContext,
    smtp: SmtpResource,
    district: DistrictConfig,
    message: NotificationMessage,
) -> dg.SkipReason | None:
    where = f"district {district.district_id} run {message.run_id} ({message.event})"
    if message.event not in district.notifications.on:
        return dg.SkipReason(f"{where}: {message.event} is not in notifications.on")
    if not district.notifications.emails:
        return dg.SkipReason(f"{where}: no notifications.emails configured")
    try:
        refused = smtp.send(district.notifications.emails, message)
    except SmtpNotConfiguredError as exc:
        context.log.warning(f"{where}: not sent: {exc}")
        return dg.SkipReason(f"{where}: not sent: {exc}")
    except NotificationError as exc:
        context.log.error(f"{where}: delivery failed: {exc}")
        return dg.SkipReason(f"{where}: delivery failed: {exc}")
    sent = len(district.notifications.emails) - len(refused)
    context.log.info(f"{where}: sent to {sent} recipient(s), {len(refused)} refused")
    return None


@dg.run_failure_sensor(
    name=RUN_FAILED_SENSOR,
    monitored_jobs=[sync_district_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="E-mails a district's recipients when its sync run failed (nothing applied).",
)
def run_failed_notification(
    context: dg.RunFailureSensorContext, warehouse: RosterWarehouse, smtp: SmtpResource
) -> dg.SkipReason | None:
    district = _district_for_run(context, warehouse)
    if isinstance(district, str):
        return dg.SkipReason(district)
    message = compose_run_failed(
        district_id=district.district_id,
        district_name=district.name,
        run_id=context.dagster_run.run_id,
        reason=failure_reason(list(context.get_step_failure_events()), context.failure_event),
    )
    return _deliver(context, smtp, district, message)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name=RUN_OUTCOME_SENSOR,
    monitored_jobs=[sync_district_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="E-mails a district's recipients when a successful sync run held its plan for "
    "review or reported record errors (an errors digest with the export path).",
)
def run_outcome_notification(
    context: dg.RunStatusSensorContext, warehouse: RosterWarehouse, smtp: SmtpResource
) -> dg.SkipReason | None:
    district = _district_for_run(context, warehouse)
    if isinstance(district, str):
        return dg.SkipReason(district)
    run_id = context.dagster_run.run_id
    message = outcome_message(district, run_id, read_recorded_run(warehouse, district.district_id, run_id))
    if isinstance(message, str):
        return dg.SkipReason(f"district {district.district_id} run {run_id}: {message}")
    return _deliver(context, smtp, district, message)


NOTIFICATION_SENSORS = [run_failed_notification, run_outcome_notification]
