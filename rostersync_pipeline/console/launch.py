"""Runs the console starts: the same Dagster jobs as the CLI, the UI and the schedules, each in a
worker process of its own, off the request thread.

A launch is a row in the console's ``launches`` table. :meth:`Launcher.start` writes it and
starts ``python -m rostersync_pipeline.console.launch DB LAUNCH_ID CONFIG_DIR WAREHOUSE``; the
worker (:func:`main`) runs the job through :mod:`rostersync_pipeline.runner` (``run_sync`` for a
test import or a sync, ``run_review_job`` for approve, discard and decide), for the district's
partition, recorded in the Dagster instance of ``DAGSTER_HOME`` when it is set. A worker
process, not a thread: the run opens the district's DuckDB file for writing, which DuckDB
allows one process at a time, while the console keeps reading it between the run's steps.

While it runs, the worker writes into its row the Dagster run id (as soon as the run holds the
district's lock, whose holder file names the run) and each finished stage of a sync; the
Dagster run is created with the tags ``rostersync/trigger: console``, ``rostersync/actor: <email>`` and
``rostersync/console_launch: <id>``. At the end it writes how the run ended. The console keeps
at most one launch per district in progress; a worker that dies is marked failed by the
thread that waits for it, and launches left unfinished by a stopped console are marked failed
when it starts again.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rostersync_pipeline.console import audit, store

log = logging.getLogger(__name__)

TEST_IMPORT = "test_import"
SYNC = "sync"
UPLOAD_TEST = "upload_test"
UPLOAD_SYNC = "upload_sync"
APPROVE = "approve"
DISCARD = "discard"
DECIDE = "decide"
SYNC_KINDS = {TEST_IMPORT: True, SYNC: False, UPLOAD_TEST: True, UPLOAD_SYNC: False}
"""Sync launches and whether each is a dry run (test import)."""
KIND_LABELS = {
    TEST_IMPORT: "test import", SYNC: "sync", UPLOAD_TEST: "test import of an uploaded bundle",
    UPLOAD_SYNC: "sync of an uploaded bundle", APPROVE: "approval", DISCARD: "discard",
    DECIDE: "alert decision",
}
UNFINISHED = ("queued", "running")
TRIGGER_TAGS = ("rostersync/trigger", "rostersync/actor", "rostersync/console_launch")


class LaunchRefused(RuntimeError):
    """A launch the console does not start now; the message says why."""


@dataclass(frozen=True)
class Launch:
    launch_id: int
    district_id: str
    kind: str
    actor: str
    params: dict[str, Any]
    state: str
    created_at: str
    finished_at: str | None
    dagster_run_id: str | None
    run_status: str | None
    stages: list[str]
    failure: str | None

    @property
    def finished(self) -> bool:
        return self.state not in UNFINISHED

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def dry_run(self) -> bool:
        return SYNC_KINDS.get(self.kind, False)


def _launch(row: Any) -> Launch:
    return Launch(row["launch_id"], row["district_id"], row["kind"], row["actor"],
                  json.loads(row["params"]), row["state"], row["created_at"], row["finished_at"],
                  row["dagster_run_id"], row["run_status"], json.loads(row["stages"] or "[]"),
                  row["failure"])


def read_launch(db: Path, launch_id: int) -> Launch | None:
    with store.connect(db) as con:
        row = con.execute("select * from launches where launch_id = ?", [launch_id]).fetchone()
    return _launch(row) if row else None


def district_launches(db: Path, district_id: str, limit: int = 20) -> list[Launch]:
    with store.connect(db) as con:
        rows = con.execute("select * from launches where district_id = ? "
                           "order by launch_id desc limit ?", [district_id, limit]).fetchall()
    return [_launch(row) for row in rows]


def _update(db: Path, launch_id: int, **values: Any) -> None:
    columns = ", ".join(f"{name} = ?" for name in values)
    with store.connect(db) as con:
        con.execute(f"update launches set {columns} where launch_id = ?",
                    [*values.values(), launch_id])


def _finish(db: Path, launch_id: int, state: str, **values: Any) -> None:
    """Mark a launch ended, once: a launch already ended keeps its outcome."""
    columns = "".join(f", {name} = ?" for name in values)
    with store.connect(db) as con:
        con.execute(f"update launches set state = ?, finished_at = strftime('%Y-%m-%d %H:%M:%S', "
                    f"'now'){columns} where launch_id = ? and state in ('queued', 'running')",
                    [state, *values.values(), launch_id])


class Launcher:
    """Starts worker processes for one console and waits for them on background threads."""

    def __init__(self, db: Path, config_dir: Path, warehouse_dir: Path) -> None:
        self.db = db
        self.config_dir = config_dir
        self.warehouse_dir = warehouse_dir
        self._processes: dict[int, subprocess.Popen] = {}
        self._lock = threading.Lock()

    def start(self, district_id: str, kind: str, actor: str, params: dict[str, Any],
              action: audit.Action) -> int:
        """Record the launch and its audit entry (one transaction), then start its worker;
        :class:`LaunchRefused` (nothing recorded) while another launch of the district is in
        progress."""
        if kind not in KIND_LABELS:
            raise ValueError(f"unknown launch kind {kind!r}")
        with store.connect(self.db) as con:
            busy = con.execute("select launch_id from launches where district_id = ? and state in "
                               "('queued', 'running')", [district_id]).fetchone()
            if busy:
                raise LaunchRefused(f"a run of this district started here is still in progress "
                                    f"(launch {busy[0]}); wait until it ends")
            launch_id = int(con.execute(
                "insert into launches (district_id, kind, actor, params, state) values "
                "(?, ?, ?, ?, 'queued')",
                [district_id, kind, actor, json.dumps(params)]).lastrowid)
            audit.insert(con, actor=actor, district_id=district_id, action=action,
                         launch_id=launch_id)
        command = [sys.executable, "-m", "rostersync_pipeline.console.launch", str(self.db),
                   str(launch_id), str(self.config_dir), str(self.warehouse_dir)]
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        with self._lock:
            self._processes[launch_id] = process
        threading.Thread(target=self._wait, args=(launch_id, process), daemon=True,
                         name=f"launch-{launch_id}").start()
        log.info("launch %s: %s of district %s started (pid %s)", launch_id, kind, district_id,
                 process.pid)
        return launch_id

    def _wait(self, launch_id: int, process: subprocess.Popen) -> None:
        code = process.wait()
        with self._lock:
            self._processes.pop(launch_id, None)
        _finish(self.db, launch_id, "failed",
                failure=f"the run's worker process ended unexpectedly (exit code {code})")
        log.info("launch %s: worker ended (exit code %s)", launch_id, code)

    def recover(self) -> int:
        """Mark launches a stopped console left unfinished as failed; returns how many."""
        with store.connect(self.db) as con:
            rows = con.execute("select launch_id, pid from launches where state in "
                               "('queued', 'running')").fetchall()
        stale = [row["launch_id"] for row in rows if not _alive(row["pid"])]
        for launch_id in stale:
            _finish(self.db, launch_id, "failed",
                    failure="interrupted: the console stopped while the run was in progress")
        return len(stale)

    def shutdown(self, wait_s: float = 30.0) -> None:
        """Give running workers ``wait_s`` seconds to end, then stop them."""
        deadline = time.monotonic() + wait_s
        with self._lock:
            processes = list(self._processes.items())
        for launch_id, process in processes:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                log.warning("launch %s: still running at shutdown; stopping it", launch_id)
                process.terminate()
                process.wait(timeout=10)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---- the worker process -------------------------------------------------------------------


def _instance():
    import dagster as dg

    return dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else None


class _RunIdWatcher(threading.Thread):
    """Finds this process's Dagster run as soon as it holds the district's lock (the holder
    file names the run and its pid) and records it in the launch."""

    def __init__(self, db: Path, launch: Launch, warehouse_dir: Path, instance: Any) -> None:
        super().__init__(daemon=True, name="run-id-watcher")
        self.db, self.launch, self.warehouse_dir, self.instance = db, launch, warehouse_dir, instance
        self.run_id: str | None = None
        self.done = threading.Event()

    def run(self) -> None:
        from rostersync_pipeline.lib.apply.run_lock import current_holder

        while not self.done.wait(0.2):
            holder = current_holder(self.warehouse_dir, self.launch.district_id)
            if holder is not None and holder.pid == os.getpid():
                self.run_id = holder.run_id
                _update(self.db, self.launch.launch_id, dagster_run_id=holder.run_id)
                return


def _tags(launch: Launch) -> dict[str, str]:
    """The run's tags: started from the console, by whom, for which launch."""
    return dict(zip(TRIGGER_TAGS, ("console", launch.actor, str(launch.launch_id)), strict=True))


def _run(launch: Launch, db: Path, config_dir: Path, warehouse_dir: Path,
         instance: Any) -> tuple[str, bool, str | None, str | None]:
    """Run the launch's job: (Dagster run id, succeeded, sync.runs status, failure)."""
    from rostersync_pipeline.defs.progress import add_step_listener, remove_step_listener
    from rostersync_pipeline.runner import STAGES, read_summary, run_review_job, run_sync

    params = launch.params
    if launch.kind in SYNC_KINDS:
        stages: list[str] = []

        def on_step(step_key: str, succeeded: bool) -> None:
            label = STAGES.get(step_key)
            if label:
                stages.append(label if succeeded else f"{label} FAILED")
                _update(db, launch.launch_id, stages=json.dumps(stages))

        add_step_listener(on_step)
        try:
            bundle = params.get("bundle")
            outcome = run_sync(launch.district_id, config_dir=config_dir,
                               warehouse_dir=warehouse_dir, dry_run=SYNC_KINDS[launch.kind],
                               bundle_path=Path(bundle) if bundle else None, instance=instance,
                               tags=_tags(launch))
        finally:
            remove_step_listener(on_step)
        failure = outcome.failure or (outcome.reason if outcome.status == "skipped" else None)
        return outcome.run_id, outcome.success, str(outcome.status), failure
    job, op_name, config = _review_job(launch)
    result = run_review_job(job, launch.district_id, op_name, config, config_dir=config_dir,
                            warehouse_dir=warehouse_dir, instance=instance, tags=_tags(launch))
    recorded = read_summary(warehouse_dir, launch.district_id, result.run_id) \
        if result.success and launch.kind == APPROVE else None
    return (result.run_id, result.success, str(recorded.status) if recorded else None,
            result.failure)


def _review_job(launch: Launch) -> tuple[str, str, dict[str, Any]]:
    from rostersync_pipeline.defs.review.alerts import DECIDE_JOB_NAME
    from rostersync_pipeline.defs.review.plans import APPROVE_JOB_NAME, DISCARD_JOB_NAME

    params = launch.params
    if launch.kind == APPROVE:
        return APPROVE_JOB_NAME, "apply_stored_plan", {"plan_id": params["plan_id"]}
    if launch.kind == DISCARD:
        return DISCARD_JOB_NAME, "drop_stored_plan", {"plan_id": params["plan_id"],
                                                       "note": params.get("note")}
    if launch.kind == DECIDE:
        return DECIDE_JOB_NAME, "record_match_decision", {
            "source_id": params["source_id"], "match_app_id": params.get("match_app_id"),
            "create": bool(params.get("create")), "decided_by": launch.actor,
            "note": params.get("note")}
    raise ValueError(f"unknown launch kind {launch.kind!r}")


def main(argv: list[str]) -> int:
    db, launch_id = Path(argv[0]), int(argv[1])
    config_dir, warehouse_dir = Path(argv[2]), Path(argv[3])
    launch = read_launch(db, launch_id)
    if launch is None or launch.state != "queued":
        return 2
    _update(db, launch_id, state="running", pid=os.getpid())
    instance = _instance()
    watcher = _RunIdWatcher(db, launch, warehouse_dir, instance)
    watcher.start()
    try:
        run_id, success, status, failure = _run(launch, db, config_dir, warehouse_dir, instance)
    except Exception as exc:  # any failure ends the launch, with one line
        watcher.done.set()
        _finish(db, launch_id, "failed", failure=f"{type(exc).__name__}: "
                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}")
        return 1
    watcher.done.set()
    watcher.join(timeout=2)
    _finish(db, launch_id, "succeeded" if success else "failed", dagster_run_id=run_id,
            run_status=status, failure=None if success else (failure or "the run failed"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
