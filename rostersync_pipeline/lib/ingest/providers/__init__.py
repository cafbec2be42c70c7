"""Provider adapters: each fetches one district's roster and lands it into ``raw.*``.

Every module of this package is imported here, and each adapter registers itself
(:mod:`~rostersync_pipeline.lib.ingest.providers.base`): the district config's ``source:`` block
is the union of their config models, the raw tables are the union of theirs (so every raw table
exists in every district file and the staging models of every provider always compile), and
:func:`fetch_and_land` dispatches on ``source.type``.
"""

from __future__ import annotations

import importlib
import pkgutil

import duckdb

from rostersync_pipeline.lib.ingest.bundles import BundleRefused
from rostersync_pipeline.lib.ingest.landing import FetchResult, missing_id_problems
from rostersync_pipeline.lib.ingest.providers.base import (
    ADAPTERS,
    LandingContext,
    ProviderAdapter,
    SourceSettings,
)

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

RAW_META_COLUMNS = {
    "_run_id": "varchar",
    "_source_file": "varchar",
    "_source_row": "bigint",
    "_ext": "json",
}
RAW_TABLES: dict[str, tuple[str, ...]] = {
    table: columns for adapter in ADAPTERS.values() for table, columns in adapter.raw_tables.items()
}
RAW_COLUMN_TYPES: dict[str, dict[str, str]] = {
    table: types for adapter in ADAPTERS.values()
    for table, types in adapter.raw_column_types.items()
}


def adapter_for(source_type: str) -> ProviderAdapter:
    return ADAPTERS[source_type]


def source_config_models() -> list[type[SourceSettings]]:
    """The ``source:`` models of every registered adapter (the config's union on ``type``)."""
    return [adapter.config_model for _, adapter in sorted(ADAPTERS.items())]


def raw_table_ddl(table: str, columns: tuple[str, ...]) -> str:
    types = RAW_COLUMN_TYPES.get(table, {})
    cols = [f'"{c}" {types.get(c, "varchar")}' for c in columns]
    cols += [f"{name} {sql_type}" for name, sql_type in RAW_META_COLUMNS.items()]
    return f"create table if not exists raw.{table} ({', '.join(cols)})"


def ensure_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw tables, and add to a table made by an earlier version the columns its
    adapter has gained since (NULL in the rows landed before)."""
    for table, columns in RAW_TABLES.items():
        con.execute(raw_table_ddl(table, columns))
    existing: dict[str, set[str]] = {}
    for table, column in con.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'raw'"
    ).fetchall():
        existing.setdefault(table, set()).add(column)
    for table, columns in RAW_TABLES.items():
        types = RAW_COLUMN_TYPES.get(table, {})
        for column in columns:
            if column not in existing.get(table, set()):
                con.execute(f'alter table raw.{table} add column "{column}" '
                            f'{types.get(column, "varchar")}')


def clear_other_sources(con: duckdb.DuckDBPyConnection, source_type: str) -> list[str]:
    """Empty the raw tables that the district's current source type does not land, so that a
    district that moved to another source never sees its previous source's records again.
    (The current source's own tables are left to its adapter: Clever events build on them.)"""
    own = set(ADAPTERS[source_type].raw_tables)
    cleared = []
    for table in sorted(RAW_TABLES):
        if table not in own and con.execute(f"select count(*) from raw.{table}").fetchall()[0][0]:
            con.execute(f"delete from raw.{table}")
            cleared.append(table)
    return cleared


def fetch_and_land(
    con: duckdb.DuckDBPyConnection, source: SourceSettings, context: LandingContext
) -> FetchResult:
    """Fetch with the district's configured provider and land into ``raw.*``; every landed row
    without its ID is a MISSING_SOURCE_ID problem (the fetch is then incomplete)."""
    adapter = ADAPTERS[source.type]
    clear_other_sources(con, source.type)
    result = adapter.land(con, source, context)
    result.problems += missing_id_problems(con, adapter.id_columns, context.run_id)
    return result


def land_refused(
    con: duckdb.DuckDBPyConnection, source_type: str, refused: BundleRefused
) -> FetchResult:
    """The landing of a bundle refused before it was opened: every raw table emptied (so no
    step reads an earlier landing), nothing landed, one blocking ``BUNDLE_REFUSED`` problem."""
    for table in sorted(RAW_TABLES):
        con.execute(f"delete from raw.{table}")
    return refused.fetch_result(source_type)
