"""Where district configs live and where each district's DuckDB file lives."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import Field

from rostersync_pipeline.config import (
    DistrictConfig,
    load_district,
    load_valid_district_configs,
    source_roots_from_env,
)
from rostersync_pipeline.lib.storage.warehouse import district_connection, district_db_path

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

    def district(self, district_id: str) -> DistrictConfig:
        return load_district(Path(self.config_dir), district_id, self.source_roots)

    def valid_districts(self, logger: logging.Logger | None = None) -> dict[str, DistrictConfig]:
        """Every valid district config; each invalid file is skipped with one warning (file and
        reason) on ``logger``."""
        valid, invalid = load_valid_district_configs(Path(self.config_dir), self.source_roots)
        for stem in sorted(invalid):
            (logger or log).warning("district config skipped: %s", invalid[stem])
        return valid

    def db_path(self, district_id: str) -> Path:
        return district_db_path(self.warehouse_dir, district_id)

    @contextmanager
    def connect(self, district_id: str, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with district_connection(self.warehouse_dir, district_id, read_only=read_only) as con:
            yield con
