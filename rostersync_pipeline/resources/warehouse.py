"""Where district configs live, where each district's DuckDB file lives, and where its roster
is applied (its destination: the DuckDB file itself, or the app's PostgreSQL database).

Within a run the resource also holds the run's district lock from set-up to teardown (see
``resources/run_lock.py``), and opens only that district's file: a step cannot write another
district, or its own district while another run holds it.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import Field, PrivateAttr

from rostersync_pipeline.config import (
    DistrictConfig,
    load_district,
    load_valid_district_configs,
    source_roots_from_env,
)
from rostersync_pipeline.lib.ingest.bundles import district_work_dir
from rostersync_pipeline.lib.storage.destinations import RosterDestination, destination_for
from rostersync_pipeline.lib.storage.warehouse import district_connection, district_db_path
from rostersync_pipeline.resources.run_lock import NO_RUN, RunLockState, hold_run_lock

log = logging.getLogger(__name__)


class RosterWarehouse(dg.ConfigurableResource):
    """The district config directory and the warehouse directory (one DuckDB file per district)."""

    config_dir: str = "config/districts"
    warehouse_dir: str = "warehouse"
    source_roots: list[str] | None = Field(
        default_factory=source_roots_from_env,
        description="The only directories source.path / source.drop_folder may lie in; default "
        "ROSTERSYNC_SOURCE_ROOTS, None (unset) allows any path.",
    )
    _run_lock: RunLockState = PrivateAttr(default=NO_RUN)
    _district_config: DistrictConfig | None = PrivateAttr(default=None)
    _schemas_ensured: bool = PrivateAttr(default=False)

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Generator[RosterWarehouse]:
        with hold_run_lock(context, self.warehouse_dir) as state:
            self._run_lock = state
            try:
                yield self
            finally:
                self._run_lock = NO_RUN
                self._district_config = None
                self._schemas_ensured = False

    @property
    def run_lock(self) -> RunLockState:
        """The run's hold on its district (``held`` False outside a district run, or when busy)."""
        return self._run_lock

    def district(self, district_id: str) -> DistrictConfig:
        """The district's config: read once per run (every step of the run gets the same)."""
        cached = self._district_config
        if cached is not None and cached.district_id == district_id:
            return cached
        config = load_district(Path(self.config_dir), district_id, self.source_roots)
        if self._run_lock.district_id == district_id:
            self._district_config = config
        return config

    def valid_districts(self, logger: logging.Logger | None = None) -> dict[str, DistrictConfig]:
        """Every valid district config; each invalid file is skipped with one warning (file and
        reason) on ``logger``."""
        valid, invalid = load_valid_district_configs(Path(self.config_dir), self.source_roots)
        for stem in sorted(invalid):
            (logger or log).warning("district config skipped: %s", invalid[stem])
        return valid

    def destination(self, district_id: str) -> RosterDestination:
        """The district's roster destination (``destination`` in its config). Its secrets (the
        PostgreSQL DSN, the webhook secret) are read from the environment when it connects."""
        config = self.district(district_id)
        # scratch files of bulk copies: what a killed run leaves is removed with its work folder
        return destination_for(config.destination, district_id,
                               district_work_dir(self.warehouse_dir, district_id))

    def db_path(self, district_id: str) -> Path:
        return district_db_path(self.warehouse_dir, district_id)

    @contextmanager
    def connect(self, district_id: str, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the district's DuckDB file; in a run, only the run's held district.

        A run ensures the file's schemas and roster tables once, on its first writable
        connection: no other run may touch the file while this one holds its lock."""
        lock = self._run_lock
        if lock.district_id is not None and district_id != lock.district_id:
            raise dg.Failure(description=f"this run is for district {lock.district_id}; it may not "
                             f"open district {district_id}")
        if lock.district_id is not None and not lock.held:
            raise dg.Failure(description=f"not run: {lock.reason}")
        with district_connection(self.warehouse_dir, district_id, read_only=read_only,
                                 ensure=not self._schemas_ensured) as con:
            if lock.held and not read_only:
                self._schemas_ensured = True
            yield con
