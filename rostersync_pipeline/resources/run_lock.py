"""The district run lock as Dagster runs hold it: for the whole run, from resource set-up to
teardown (every district job runs in one process, so its resources live as long as the run).

A run's district is its partition (``dagster/partition``). The run gets the ``rostersync/district``
tag if it was launched without one (from the UI, say), so queues and dashboards can key on it.
A run that finds its district busy after the bounded wait does nothing: it is tagged
``rostersync/skipped`` with the reason, its first step lands nothing and the rest are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import dagster as dg

from rostersync_pipeline.lib.apply.run_lock import DistrictBusy, district_lock

PARTITION_TAG = "dagster/partition"
DISTRICT_TAG = "rostersync/district"
SKIPPED_TAG = "rostersync/skipped"


@dataclass(frozen=True)
class RunLockState:
    """What the run holds: the district it may change, or why it may change none."""

    district_id: str | None
    held: bool
    reason: str | None = None


NO_RUN = RunLockState(district_id=None, held=False, reason="not a district run")


@contextmanager
def hold_run_lock(context: dg.InitResourceContext, warehouse_dir: str) -> Iterator[RunLockState]:
    """Hold the run's district lock while the block runs (sensors and schedules hold none)."""
    run = context.dagster_run
    district_id = run.tags.get(PARTITION_TAG) if run is not None else None
    if run is None or not district_id:
        yield NO_RUN
        return
    with ExitStack() as stack:
        try:
            stack.enter_context(district_lock(warehouse_dir, district_id, run_id=run.run_id,
                                              purpose=run.job_name))
            state = RunLockState(district_id, held=True)
            if DISTRICT_TAG not in run.tags and context.instance is not None:
                context.instance.add_run_tags(run.run_id, {DISTRICT_TAG: district_id})
        except DistrictBusy as busy:
            state = RunLockState(district_id, held=False, reason=str(busy))
            if context.instance is not None:
                context.instance.add_run_tags(run.run_id, {SKIPPED_TAG: str(busy)[:250]})
        yield state
