"""Runs a district's sync job in-process: the same job the Dagster UI and schedules launch.

Used by the ``rostersync`` CLI and the benchmark. With ``DAGSTER_HOME`` set, runs are recorded in
that instance (so they appear in the UI); otherwise an ephemeral instance is used.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from rostersync_pipeline.config import load_district, source_roots_from_env
from rostersync_pipeline.defs.jobs import SYNC_JOB_NAME
from rostersync_pipeline.defs.partitions import districts_partitions
from rostersync_pipeline.defs.progress import add_step_listener, remove_step_listener
from rostersync_pipeline.lib.report.run_record import RunSummary, read_run_summary
from rostersync_pipeline.lib.storage.warehouse import district_connection

STAGES = {
    "land_raw_roster": "land",
    "normalize_roster": "normalize",
    "checks__users_validated": "validate_users",
    "checks__users_validated_users_expectation_suite": "expectation_check",
    "match_and_plan": "match_and_plan",
    "roster__synced_roster": "guard_and_apply",
    "reports__error_export": "error_export",
    "reports__run_summary": "run_summary",
}


@dataclass
class SyncOutcome:
    run_id: str
    success: bool
    status: str
    stage_seconds: dict[str, float] = field(default_factory=dict)
    summary: RunSummary | None = None
    failure: str | None = None


def _instance() -> dg.DagsterInstance:
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def read_summary(warehouse_dir: Path, district_id: str, run_id: str) -> RunSummary | None:
    """The recorded summary of ``run_id`` (details included), or None if it was not recorded."""
    with district_connection(warehouse_dir, district_id) as con:
        return read_run_summary(con, run_id)


@contextmanager
def _progress_bar(enabled: bool, district_id: str) -> Iterator[None]:
    """A progress bar over the run's stages, fed by the job's step hooks."""
    if not enabled:
        yield
        return
    from tqdm import tqdm

    bar = tqdm(total=len(STAGES), desc=f"sync {district_id}", unit="stage", leave=False)

    def on_step(step_key: str, succeeded: bool) -> None:
        bar.set_postfix_str(STAGES.get(step_key, step_key) + ("" if succeeded else " FAILED"))
        bar.update(1)

    add_step_listener(on_step)
    try:
        yield
    finally:
        remove_step_listener(on_step)
        bar.close()


def _failure_text(event) -> str:
    error = getattr(event.event_specific_data, "error", None)
    while error is not None and error.cause is not None:
        error = error.cause
    message = error.message.strip() if error is not None else (event.message or "")
    return f"{STAGES.get(event.step_key, event.step_key)}: {message}"


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
) -> SyncOutcome:
    """Sync one district now; the config is validated first (a bad file raises ConfigError)."""
    from rostersync_pipeline.definitions import build_definitions

    load_district(Path(config_dir), district_id, source_roots_from_env())
    defs = build_definitions(str(config_dir), str(warehouse_dir))
    job = defs.resolve_job_def(SYNC_JOB_NAME)
    instance = instance or _instance()
    if district_id not in instance.get_dynamic_partitions(districts_partitions.name):
        instance.add_dynamic_partitions(districts_partitions.name, [district_id])
    run_config = {"ops": {"roster__synced_roster": {"config": {"dry_run": dry_run}}}}
    if bundle_path:
        run_config["ops"]["land_raw_roster"] = {"config": {"bundle_path": str(bundle_path)}}
    if quiet:
        run_config["loggers"] = {"console": {"config": {"log_level": "WARNING"}}}
    logging.getLogger("dagster").setLevel(logging.WARNING if quiet else logging.INFO)
    with _progress_bar(progress, district_id):
        result = job.execute_in_process(
            partition_key=district_id,
            run_config=run_config,
            instance=instance,
            raise_on_error=False,
            tags={"rostersync/district": district_id, "rostersync/trigger": "cli"},
        )
    stage_seconds = {}
    for step in instance.get_run_step_stats(result.run_id):
        if step.start_time and step.end_time:
            stage_seconds[STAGES.get(step.step_key, step.step_key)] = round(
                step.end_time - step.start_time, 3)
    failure = None
    if not result.success:
        failures = [e for e in result.all_events if e.is_step_failure or e.is_failure]
        failure = "; ".join(_failure_text(e) for e in failures if e.is_step_failure) or (
            "the run failed")
        check_failures = [e for e in result.all_events
                          if e.event_type_value == "ASSET_CHECK_EVALUATION"
                          and not e.event_specific_data.passed]
        if check_failures:
            failure = "a blocking expectation check failed; apply did not run. " + failure
    summary = read_summary(Path(warehouse_dir), district_id, result.run_id)
    status = summary.status if summary else "failed"
    return SyncOutcome(result.run_id, result.success, status, stage_seconds, summary, failure)
