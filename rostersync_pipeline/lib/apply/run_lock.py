"""One run per district at a time: a file lock beside the district's DuckDB file.

Every entry point that changes a district (a sync run however launched, an approval, a discard,
a restore, an alert decision, a manual record) holds ``<warehouse>/districts/<id>.lock`` for its
whole duration, across processes: the CLI, ``dagster dev``, the daemon's run workers and the
console alike. The lock is an OS file lock (``filelock``), so a killed process releases it. Who
holds it (run id, pid, since when, what for) is kept in ``<id>.lock.json`` so that a waiting run
can say why it did not start.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from rostersync_pipeline.lib.ingest.bundles import remove_stale_work

DEFAULT_WAIT_S = 60.0
WAIT_ENV = "ROSTERSYNC_RUN_LOCK_WAIT_S"


@dataclass(frozen=True)
class LockHolder:
    """Who holds a district's lock (as far as it recorded itself)."""

    run_id: str
    purpose: str
    pid: int
    since: str

    def describe(self) -> str:
        return f"{self.purpose} run {self.run_id} (pid {self.pid}, since {self.since} UTC)"


class DistrictBusy(RuntimeError):
    """Another run holds the district's lock; nothing was done."""

    def __init__(self, district_id: str, holder: LockHolder | None, waited_s: float) -> None:
        who = holder.describe() if holder else "another run"
        super().__init__(f"district {district_id} is busy: {who} holds it; waited {waited_s:g} s, "
                         "did nothing")
        self.district_id = district_id
        self.holder = holder


def lock_wait_s() -> float:
    """How long a run waits for a busy district (``ROSTERSYNC_RUN_LOCK_WAIT_S``, default 60)."""
    value = os.environ.get(WAIT_ENV, "").strip()
    try:
        return max(float(value), 0.0) if value else DEFAULT_WAIT_S
    except ValueError:
        return DEFAULT_WAIT_S


def lock_path(warehouse_dir: Path | str, district_id: str) -> Path:
    return Path(warehouse_dir) / "districts" / f"{district_id}.lock"


def _holder_path(warehouse_dir: Path | str, district_id: str) -> Path:
    return lock_path(warehouse_dir, district_id).with_suffix(".lock.json")


def current_holder(warehouse_dir: Path | str, district_id: str) -> LockHolder | None:
    """The recorded holder of the district's lock, if one is recorded."""
    try:
        return LockHolder(**json.loads(_holder_path(warehouse_dir, district_id).read_text()))
    except (OSError, ValueError, TypeError):
        return None


@contextmanager
def district_lock(
    warehouse_dir: Path | str,
    district_id: str,
    *,
    run_id: str,
    purpose: str,
    wait_s: float | None = None,
) -> Iterator[LockHolder]:
    """Hold the district's lock for the block; :class:`DistrictBusy` after ``wait_s``."""
    wait = lock_wait_s() if wait_s is None else wait_s
    path = lock_path(warehouse_dir, district_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, timeout=wait, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        raise DistrictBusy(district_id, current_holder(warehouse_dir, district_id), wait) from None
    holder = LockHolder(run_id=run_id, purpose=purpose, pid=os.getpid(),
                        since=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"))
    info = _holder_path(warehouse_dir, district_id)
    try:
        partial = info.with_suffix(".partial")
        partial.write_text(json.dumps(asdict(holder)))
        partial.replace(info)
        _clear_stale_work(warehouse_dir, district_id)
        yield holder
    finally:
        info.unlink(missing_ok=True)
        lock.release()


def _clear_stale_work(warehouse_dir: Path | str, district_id: str) -> None:
    """What a killed run of this district left in its working folder goes before a new run."""
    remove_stale_work(warehouse_dir, district_id)
