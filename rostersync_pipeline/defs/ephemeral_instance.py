"""The ephemeral Dagster instance of in-process runs, its event log on one SQLite connection.

``DagsterInstance.ephemeral()`` keeps events in an in-memory SQLite database and opens a new
connection to it (and sets two pragmas) for every read and write: a sync stores ~500 events and
opens ~3,500 connections, a fifth of a warm 500-student sync. :func:`ephemeral_instance` is the
same instance, except that its event log reuses the connection Dagster's storage already holds
open for its lifetime, one caller at a time (Dagster's own lock); other threads than the one that
made the instance still get connections of their own.

Dagster has no public hook for this, so this module (and only this one) uses Dagster internals:
``dagster._core`` storage and launcher classes. If they are not as expected, it falls back to
``DagsterInstance.ephemeral()``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

log = logging.getLogger(__name__)


def _held_connection_instance() -> dg.DagsterInstance:
    from dagster._core.instance.types import InstanceType
    from dagster._core.launcher.sync_in_memory_run_launcher import SyncInMemoryRunLauncher
    from dagster._core.run_coordinator import DefaultRunCoordinator
    from dagster._core.storage.event_log import InMemoryEventLogStorage
    from dagster._core.storage.noop_compute_log_manager import NoOpComputeLogManager
    from dagster._core.storage.root import TemporaryLocalArtifactStorage
    from dagster._core.storage.runs import InMemoryRunStorage
    from sqlalchemy import inspect

    class HeldConnectionEventLogStorage(InMemoryEventLogStorage):
        """Dagster's in-memory event log, served from its held connection."""

        def __init__(self) -> None:
            super().__init__()
            self._held_conn.exec_driver_sql("PRAGMA foreign_keys=ON").close()
            self._tables = set(inspect(self._held_conn).get_table_names())
            self._held_conn.commit()
            self._owner = threading.get_ident()

        @contextmanager
        def _connect(self) -> Iterator:
            if threading.get_ident() != self._owner:  # SQLite connections stay in their thread
                with super()._connect() as conn:
                    yield conn
                return
            with self._db_lock, self._held_conn.begin():
                yield self._held_conn

        def has_table(self, table_name: str) -> bool:
            return table_name in self._tables  # all made with the storage, none dropped

    return dg.DagsterInstance(
        instance_type=InstanceType.EPHEMERAL,
        local_artifact_storage=TemporaryLocalArtifactStorage(),
        run_storage=InMemoryRunStorage(),
        event_storage=HeldConnectionEventLogStorage(),
        compute_log_manager=NoOpComputeLogManager(),
        run_coordinator=DefaultRunCoordinator(),
        run_launcher=SyncInMemoryRunLauncher(),
    )


def ephemeral_instance() -> dg.DagsterInstance:
    """An in-memory instance for one in-process run (``DagsterInstance.ephemeral()`` if this
    Dagster's internals differ from what :mod:`ephemeral_instance` expects)."""
    try:
        return _held_connection_instance()
    except (ImportError, AttributeError, TypeError) as exc:
        log.debug("ephemeral instance: Dagster's own (%s)", exc)
        return dg.DagsterInstance.ephemeral()
