"""Provider adapters: each fetches one district's roster and lands it into ``raw.*``.

Each provider module declares ``RAW_TABLES`` (raw table name -> its columns, all VARCHAR
unless typed in ``RAW_META_COLUMNS``) so that every raw table exists in every district file
and the staging models of every provider always compile.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb

from rostersync_pipeline.lib.ingest.bundles import BundleRefused
from rostersync_pipeline.lib.ingest.landing import FetchResult, missing_id_problems
from rostersync_pipeline.lib.ingest.providers import (
    clever_api,
    clever_csv,
    oneroster_csv,
    oneroster_rest,
)

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


# The columns that identify a record, per raw table a source type lands.
SOURCE_ID_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "oneroster_csv": oneroster_csv.ID_COLUMNS,
    "oneroster_rest": oneroster_csv.ID_COLUMNS,
    "clever_api": clever_api.ID_COLUMNS,
    "clever_csv": clever_csv.ID_COLUMNS,
}

SOURCE_RAW_TABLES: dict[str, tuple[str, ...]] = {
    "oneroster_csv": tuple(oneroster_csv.RAW_TABLES),
    "oneroster_rest": tuple(oneroster_csv.RAW_TABLES),
    "clever_api": tuple(clever_api.RAW_TABLES),
    "clever_csv": tuple(clever_csv.RAW_TABLES),
}


def clear_other_sources(con: duckdb.DuckDBPyConnection, source_type: str) -> list[str]:
    """Empty the raw tables that the district's current source type does not land, so that a
    district that moved to another source never sees its previous source's records again.
    (The current source's own tables are left to its adapter: Clever events build on them.)"""
    own = set(SOURCE_RAW_TABLES.get(source_type, ()))
    cleared = []
    for table in sorted(RAW_TABLES):
        if table not in own and con.execute(f"select count(*) from raw.{table}").fetchall()[0][0]:
            con.execute(f"delete from raw.{table}")
            cleared.append(table)
    return cleared


def fetch_and_land(
    source_type: str,
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    source_path: Path | None,
    work_dir: Path | None = None,
    **options,
) -> FetchResult:
    """Fetch with the district's configured provider and land into ``raw.*``.

    Options by source type (secrets are read from the environment by the caller, never from
    config):

    - ``oneroster_csv``, ``clever_csv``: ``source_path`` (a .zip or a directory) and
      ``work_dir``, the run's working folder its CSV files are copied into
      (:func:`bundles.run_work_dir`); the caller removes it.
    - ``clever_api``: ``token`` (required), ``base_url`` (default https://api.clever.com; may
      end in /v3.0 or /v3.1), ``api_version`` ("v3.0" | "v3.1"), ``page_limit`` (1..10000),
      ``timeout_s``, ``retry`` (an ``http.RetryPolicy``), ``events`` (incremental runs from
      Clever events between full syncs), ``full_sync_every_days``.
    - ``oneroster_rest``: ``base_url`` (the service root, before ``/ims/oneroster``),
      ``oneroster_version`` ("1.1" with OAuth 1.0a | "1.2" with OAuth 2 client credentials),
      ``client_id``, ``client_secret``, ``token_url`` (1.2; default ``<base_url>/token``),
      ``scope`` (1.2), ``page_limit``, ``modified_since`` (ISO timestamp: a delta fetch with
      ``filter=dateLastModified>'…'``), ``timeout_s``, ``retry``.
    """
    result = _fetch_and_land(source_type, con, run_id=run_id, source_path=source_path,
                             work_dir=work_dir, **options)
    result.problems += missing_id_problems(con, SOURCE_ID_COLUMNS.get(source_type, {}), run_id)
    return result


def _fetch_and_land(
    source_type: str,
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    source_path: Path | None,
    work_dir: Path | None,
    **options,
) -> FetchResult:
    clear_other_sources(con, source_type)
    if source_type in ("oneroster_csv", "clever_csv"):
        if source_path is None:
            raise ValueError(f"source.path is required for a {source_type} source")
        if work_dir is None:
            raise ValueError(f"a {source_type} landing needs the run's work_dir")
        lander = clever_csv.land_directory if source_type == "clever_csv" else (
            oneroster_csv.land_bundle)
        return lander(con, Path(source_path), run_id=run_id, work_dir=work_dir)
    if source_type == "clever_api":
        return clever_api.fetch_and_land(con, run_id=run_id, **_pick(options, CLEVER_OPTIONS))
    if source_type == "oneroster_rest":
        return oneroster_rest.fetch_and_land(
            con, run_id=run_id, **_pick(options, ONEROSTER_REST_OPTIONS)
        )
    raise NotImplementedError(f"source type {source_type!r} is not available yet")


def land_refused(
    con: duckdb.DuckDBPyConnection, source_type: str, refused: BundleRefused
) -> FetchResult:
    """The landing of a bundle refused before it was opened: every raw table emptied (so no
    step reads an earlier landing), nothing landed, one blocking ``BUNDLE_REFUSED`` problem."""
    for table in sorted(RAW_TABLES):
        con.execute(f"delete from raw.{table}")
    return refused.fetch_result(source_type)


CLEVER_OPTIONS = ("token", "base_url", "api_version", "page_limit", "timeout_s", "retry",
                  "events", "full_sync_every_days")
ONEROSTER_REST_OPTIONS = (
    "base_url", "oneroster_version", "client_id", "client_secret", "token_url", "scope",
    "page_limit", "modified_since", "timeout_s", "retry",
)


def _pick(options: dict, allowed: tuple[str, ...]) -> dict:
    """The options this provider takes; unset (None) values fall back to its defaults."""
    return {k: v for k, v in options.items() if k in allowed and v is not None}
