"""Where district configs live and where each district's DuckDB file lives."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from rostersync_pipeline.config import (
    DistrictConfig,
    load_district,
    load_valid_district_configs,
)
from rostersync_pipeline.lib.storage.warehouse import district_connection, district_db_path

log = logging.getLogger(__name__)


class RosterWarehouse(dg.ConfigurableResource):
    """The district config directory and the warehouse directory (one DuckDB file per district)."""

    config_dir: str = "config/districts"
    warehouse_dir: str = "warehouse"

    def district(self, district_id: str) -> DistrictConfig:
        return load_district(Path(self.config_dir), district_id)

    def valid_districts(self) -> dict[str, DistrictConfig]:
        """Every valid district config; invalid files are logged and skipped."""
        valid, invalid = load_valid_district_configs(Path(self.config_dir))
        for district_id, error in sorted(invalid.items()):
            log.error("district %s skipped: %s", district_id, error)
        return valid

    def db_path(self, district_id: str) -> Path:
        return district_db_path(self.warehouse_dir, district_id)

    @contextmanager
    def connect(self, district_id: str, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with district_connection(self.warehouse_dir, district_id, read_only=read_only) as con:
            yield con
