"""Where district configs live and where each district's DuckDB file lives."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from rostersync_pipeline.config import DistrictConfig, load_all_district_configs, load_district
from rostersync_pipeline.lib.warehouse import district_connection, district_db_path


class RosterWarehouse(dg.ConfigurableResource):
    """The district config directory and the warehouse directory (one DuckDB file per district)."""

    config_dir: str = "config/districts"
    warehouse_dir: str = "warehouse"

    def district(self, district_id: str) -> DistrictConfig:
        return load_district(Path(self.config_dir), district_id)

    def all_districts(self) -> dict[str, DistrictConfig]:
        return load_all_district_configs(Path(self.config_dir))

    def db_path(self, district_id: str) -> Path:
        return district_db_path(self.warehouse_dir, district_id)

    @contextmanager
    def connect(self, district_id: str, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with district_connection(self.warehouse_dir, district_id, read_only=read_only) as con:
            yield con
