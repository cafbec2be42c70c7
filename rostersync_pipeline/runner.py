"""Runs a district's Dagster jobs in-process: the same jobs the Dagster UI and schedules launch.

Used by the ``rostersync`` CLI, the tests and the benchmarks. With ``DAGSTER_HOME`` set, runs are
recorded in that instance (so they appear in the UI); otherwise an ephemeral instance is used.
Every job runs for one district partition and holds that district's run lock for its whole
duration; a run that found the district busy reports status ``skipped`` with the reason.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from rostersync_pipeline.config import load_district, source_roots_from_env
from rostersync_pipeline.defs.ephemeral_instance import ephemeral_instance
from rostersync_pipeline.defs.jobs import SYNC_JOB_NAME
from rostersync_pipeline.defs.partitions import districts_partitions
from rostersync_pipeline.defs.progress import (
    add_step_listener,
    remove_step_listener,
    with_step_hooks,
)
from rostersync_pipeline.lib.report.run_record import RunSummary, read_run_summary
from rostersync_pipeline.lib.report.run_status import RunStatus
from rostersync_pipeline.lib.storage.warehouse import district_connection
from rostersync_pipeline.resources.run_lock import SKIPPED_TAG

STAGES = {
    "land_raw_roster": "land",
    "normalize_roster": "normalize",
    "match_and_plan": "match_and_plan",
    "roster__synced_roster": "guard_and_apply",
    "reports__error_export": "error_export",
    "reports__run_summary": "run_summary",
}
QUIET_LOGGERS = {"console": {"config": {"log_level": "CRITICAL"}}}


@dataclass
class SyncOutcome:
    run_id: str
    success: bool
    status: str
    stage_seconds: dict[str, float] = field(default_factory=dict)
    summary: RunSummary | None = None
    failure: str | None = None
    reason: str | None = None


@dataclass
class JobOutcome:
    """A review job's run: its id, whether it succeeded, and why not (one line)."""

    run_id: str
    success: bool
    failure: str | None = None
    skipped: bool = False


def _instance() -> dg.DagsterInstance:
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return ephemeral_instance()


def read_summary(
    warehouse_dir: Path, district_id: str, run_id: str, *, ensure: bool = True
) -> RunSummary | None:
    """The recorded summary of ``run_id`` (details included), or None if it was not recorded.
    ``ensure=False``: the caller knows the file's schemas are there (a run that succeeded)."""
    with district_connection(warehouse_dir, district_id, ensure=ensure) as con:
        return read_run_summary(con, run_id)


@contextmanager
def _progress_bar(enabled: bool, district_id: str) -> Iterator[None]:
    """A progress bar over the run's stages showing the one running now, fed by the job's
    step hooks (steps run in ``STAGES`` order in one process)."""
    if not enabled:
        yield
        return
    from tqdm import tqdm

    labels = list(STAGES.values())
    bar = tqdm(total=len(labels), desc=f"sync {district_id}", unit="stage", leave=False)
    bar.set_postfix_str(f"running: {labels[0]}")

    def on_step(step_key: str, succeeded: bool) -> None:
        label = STAGES.get(step_key)
        if label is None:
            return
        bar.update(1)
        following = labels.index(label) + 1
        if not succeeded:
            bar.set_postfix_str(f"{label} FAILED")
        elif following < len(labels):
            bar.set_postfix_str(f"running: {labels[following]}")

    add_step_listener(on_step)
    try:
        yield
    finally:
        remove_step_listener(on_step)
        bar.close()


def _innermost_message(event: dg.DagsterEvent) -> str:
    data = event.event_specific_data
    user = getattr(data, "user_failure_data", None)
    if user is not None and user.description:
        return user.description
    error = getattr(data, "error", None)
    while error is not None and error.cause is not None:
        error = error.cause
    return error.message.strip() if error is not None else (event.message or "")


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    """The failed steps of a run and the innermost error of each, on one line."""
    failures = [f"{STAGES.get(e.step_key, e.step_key)}: {_innermost_message(e)}"
                for e in result.all_events if e.is_step_failure]
    return "; ".join(failures) or "the run failed"


def _prepare(district_id: str, config_dir: Path, warehouse_dir: Path,
             instance: dg.DagsterInstance | None):
    """The definitions and the instance for one district's in-process run."""
    from rostersync_pipeline.definitions import build_definitions

    load_district(Path(config_dir), district_id, source_roots_from_env())
    defs = build_definitions(str(config_dir), str(warehouse_dir))
    instance = instance or _instance()
    if district_id not in instance.get_dynamic_partitions(districts_partitions.name):
        instance.add_dynamic_partitions(districts_partitions.name, [district_id])
    return defs, instance


def _skip_reason(instance: dg.DagsterInstance, run_id: str) -> str | None:
    run = instance.get_run_by_id(run_id)
    return run.tags.get(SKIPPED_TAG) if run is not None else None


def run_sync(
    district_id: str,
    *,
    config_dir: Path,
    warehouse_dir: Path,
    dry_run: bool = False,
    bundle_path: Path | None = None,
    instance: dg.DagsterInstance | None = None,
    quiet: bool = True,
    progress: bool = False,
    tags: dict[str, str] | None = None,
) -> SyncOutcome:
    """Sync one district now; the config is validated first (a bad file raises ConfigError).
    ``tags`` are added to the run's (the console names its trigger and actor there)."""
    defs, instance = _prepare(district_id, config_dir, warehouse_dir, instance)
    job = defs.resolve_job_def(SYNC_JOB_NAME)
    run_config: dict[str, Any] = {"ops": {"roster__synced_roster": {"config": {"dry_run": dry_run}}}}
    if bundle_path:
        run_config["ops"]["land_raw_roster"] = {"config": {"bundle_path": str(bundle_path)}}
    if quiet:
        run_config["loggers"] = QUIET_LOGGERS
    logging.getLogger("dagster").setLevel(logging.WARNING if quiet else logging.INFO)
    with _progress_bar(progress, district_id):
        result = with_step_hooks(job).execute_in_process(
            partition_key=district_id,
            run_config=run_config,
            instance=instance,
            raise_on_error=False,
            tags={"rostersync/district": district_id, "rostersync/trigger": "cli", **(tags or {})},
        )
    stage_seconds = {}
    for step in instance.get_run_step_stats(result.run_id):
        if step.start_time and step.end_time:
            stage_seconds[STAGES.get(step.step_key, step.step_key)] = round(
                step.end_time - step.start_time, 3)
    skipped = _skip_reason(instance, result.run_id)
    if skipped:
        return SyncOutcome(result.run_id, result.success, RunStatus.SKIPPED, stage_seconds,
                           reason=skipped, failure=None if result.success else failure_text(result))
    failure = None
    if not result.success:
        failure = failure_text(result)
        check_failures = [e for e in result.all_events
                          if e.event_type_value == "ASSET_CHECK_EVALUATION"
                          and e.event_specific_data.check_name.endswith("_expectation_suite")
                          and not e.event_specific_data.passed
                          and e.event_specific_data.severity == dg.AssetCheckSeverity.ERROR]
        if check_failures:
            failure = "a blocking expectation check failed; apply did not run. " + failure
    summary = read_summary(Path(warehouse_dir), district_id, result.run_id,
                           ensure=not result.success)
    status = summary.status if summary else "failed"
    return SyncOutcome(result.run_id, result.success, status, stage_seconds, summary, failure)


def run_review_job(
    job_name: str,
    district_id: str,
    op_name: str,
    op_config: dict[str, Any],
    *,
    config_dir: Path,
    warehouse_dir: Path,
    instance: dg.DagsterInstance | None = None,
    tags: dict[str, str] | None = None,
) -> JobOutcome:
    """Run one of the district's review jobs in-process (approve, discard, restore, decide)."""
    defs, instance = _prepare(district_id, config_dir, warehouse_dir, instance)
    job = defs.resolve_job_def(job_name)
    logging.getLogger("dagster").setLevel(logging.WARNING)
    result = job.execute_in_process(
        partition_key=district_id,
        run_config={"ops": {op_name: {"config": op_config}}, "loggers": QUIET_LOGGERS},
        instance=instance,
        raise_on_error=False,
        tags={"rostersync/district": district_id, "rostersync/trigger": "cli", **(tags or {})},
    )
    skipped = _skip_reason(instance, result.run_id)
    if skipped:
        return JobOutcome(result.run_id, False, skipped, skipped=True)
    return JobOutcome(result.run_id, result.success,
                      None if result.success else failure_text(result))


def run_approval(
    district_id: str,
    plan_id: str,
    *,
    config_dir: Path,
    warehouse_dir: Path,
    instance: dg.DagsterInstance | None = None,
) -> JobOutcome:
    """Run the ``approve_plan`` job in-process for one stored plan of the district."""
    from rostersync_pipeline.defs.review.plans import APPROVE_JOB_NAME

    return run_review_job(APPROVE_JOB_NAME, district_id, "apply_stored_plan",
                          {"plan_id": plan_id}, config_dir=config_dir,
                          warehouse_dir=warehouse_dir, instance=instance)
