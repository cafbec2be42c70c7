"""Provider adapters: each fetches one district's roster and lands it into ``raw.*``.

Each provider module declares ``RAW_TABLES`` (raw table name -> its columns, all VARCHAR
unless typed in ``RAW_META_COLUMNS``) so that every raw table exists in every district file
and the staging models of every provider always compile.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb

from rostersync_pipeline.lib.landing import FetchResult
from rostersync_pipeline.lib.providers import clever_api, clever_csv, oneroster_csv

RAW_META_COLUMNS = {
    "_run_id": "varchar",
    "_source_file": "varchar",
    "_source_row": "bigint",
    "_ext": "json",
}

RAW_TABLES: dict[str, tuple[str, ...]] = {
    **oneroster_csv.RAW_TABLES,
    **clever_api.RAW_TABLES,
    **clever_csv.RAW_TABLES,
}
# Columns that are not VARCHAR, per raw table (e.g. the Clever API's ``data`` JSON).
RAW_COLUMN_TYPES: dict[str, dict[str, str]] = {**clever_api.RAW_COLUMN_TYPES}

Fetcher = Callable[..., FetchResult]


def raw_table_ddl(table: str, columns: tuple[str, ...]) -> str:
    types = RAW_COLUMN_TYPES.get(table, {})
    cols = [f'"{c}" {types.get(c, "varchar")}' for c in columns]
    cols += [f"{name} {sql_type}" for name, sql_type in RAW_META_COLUMNS.items()]
    return f"create table if not exists raw.{table} ({', '.join(cols)})"


def ensure_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    for table, columns in RAW_TABLES.items():
        con.execute(raw_table_ddl(table, columns))


def fetch_and_land(
    source_type: str,
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    source_path: Path | None,
    **options,
) -> FetchResult:
    """Fetch with the district's configured provider and land into ``raw.*``."""
    if source_type == "oneroster_csv":
        if source_path is None:
            raise ValueError("source.path is required for a oneroster_csv source")
        return oneroster_csv.land_bundle(con, Path(source_path), run_id=run_id)
    raise NotImplementedError(f"source type {source_type!r} is not available yet")
