"""Fetch a district's roster from its configured provider and land it raw in DuckDB."""


import os
from pathlib import Path

import dagster as dg
import duckdb

from rostersync_pipeline.defs.partitions import districts_partitions
from rostersync_pipeline.lib.ingest.bundles import BundleRefused, check_bundle_allowed, run_work_dir
from rostersync_pipeline.lib.ingest.drop_folder import bundles_in
from rostersync_pipeline.lib.ingest.http import RetryPolicy
from rostersync_pipeline.lib.ingest.landing import write_fetch_context
from rostersync_pipeline.lib.ingest.providers import RAW_TABLES, fetch_and_land, land_refused
from rostersync_pipeline.lib.ingest.raw_archive import archive_raw
from rostersync_pipeline.resources.warehouse import RosterWarehouse

RAW_SPECS = [
    dg.AssetSpec(
        key=dg.AssetKey(["raw", table]),
        group_name="raw",
        kinds={"duckdb"},
        skippable=True,
        description=f"Raw `{table}` records as landed, one row per source record (payload kept, "
        "run id, source file and row). Replaced by each landing.",
    )
    for table in sorted(RAW_TABLES)
]


def _secret_options(source) -> dict:
    """Read the secrets a source names (by env var) at run time; never stored or logged."""
    options = {}
    for option, env_name in (("token", source.token_env), ("client_id", source.client_id_env),
                             ("client_secret", source.client_secret_env)):
        if env_name:
            if env_name not in os.environ:
                raise dg.Failure(f"environment variable {env_name} (source.{option}) is not set")
            options[option] = os.environ[env_name]
    return options


class LandingConfig(dg.Config):
    bundle_path: str | None = None
    """A bundle to land instead of the configured ``source.path`` (set by the drop-folder sensor)."""


def last_good_run_start(con: duckdb.DuckDBPyConnection) -> str | None:
    """When the district's last applied, complete run started (UTC ISO), for REST deltas."""
    rows = con.execute(
        "select strftime(timezone('UTC', max(started_at)::timestamptz), '%Y-%m-%dT%H:%M:%SZ') "
        "from sync.runs where status = 'applied' and fetch_complete"
    ).fetchall()
    return rows[0][0] if rows else None


def bundle_to_land(source, override: str | None) -> Path | None:
    """The bundle a file source's run lands (None for the other sources).

    The run config's ``bundle_path`` (the drop-folder sensor's find) if set, refused with
    :class:`BundleRefused` unless it is ``source.path`` or directly inside
    ``source.drop_folder``; else ``source.path``; else the newest bundle in ``drop_folder``.
    """
    if source.type not in FILE_SOURCES:
        return None
    if override:
        check_bundle_allowed(Path(override), source)
        return Path(override)
    if source.path:
        return Path(source.path)
    if source.drop_folder:
        found = bundles_in(Path(source.drop_folder))
        return found[-1] if found else None
    return None


FILE_SOURCES = ("oneroster_csv", "clever_csv")


@dg.multi_asset(
    specs=RAW_SPECS,
    partitions_def=districts_partitions,
    can_subset=False,
    name="land_raw_roster",
)
def land_raw_roster(
    context: dg.AssetExecutionContext, config: LandingConfig, warehouse: RosterWarehouse
):
    """Fetch the district's roster and land it into ``raw.*`` (grain: one row per source record).

    A run that found its district busy (another run holds the district's lock) lands nothing,
    so every later step of the run is skipped and nothing is touched.
    """
    lock = warehouse.run_lock
    if lock.district_id is not None and not lock.held:
        context.log.warning(f"district {lock.district_id}: run skipped: {lock.reason}")
        return
    district = warehouse.district(context.partition_key)
    source = district.source
    with (warehouse.connect(district.district_id) as con,
          run_work_dir(warehouse.warehouse_dir, district.district_id, context.run_id) as work_dir):
        fetch_started = con.execute("select now()::timestamp").fetchall()[0][0]
        modified_since = (last_good_run_start(con)
                          if source.delta and source.type == "oneroster_rest" else None)
        try:
            bundle = bundle_to_land(source, config.bundle_path)
        except BundleRefused as refused:
            bundle, result = None, land_refused(con, source.type, refused)
        else:
            result = fetch_and_land(
                source.type,
                con,
                run_id=context.run_id,
                source_path=bundle,
                work_dir=work_dir,
                base_url=source.base_url,
                page_limit=source.page_limit,
                api_version=source.api_version,
                oneroster_version=source.oneroster_version,
                token_url=source.token_url,
                scope=source.scope,
                timeout_s=source.timeout_s,
                retry=RetryPolicy(max_attempts=source.retry_max_attempts,
                                  backoff_initial_s=source.retry_backoff_s),
                modified_since=modified_since,
                events=source.events,
                full_sync_every_days=source.full_sync_every_days,
                **_secret_options(source),
            )
        write_fetch_context(con, context.run_id, district.district_id, result)
        con.execute("update config.run set started_at = ?", [fetch_started])
        counts = {t: con.execute(f"select count(*) from raw.{t}").fetchall()[0][0]
                  for t in RAW_TABLES}
        archive = archive_raw(con, warehouse.warehouse_dir, district.district_id, context.run_id,
                              RAW_TABLES, keep=source.raw_retention_runs,
                              bundle=work_dir if bundle is not None else None)
    context.log.info(
        f"district {district.district_id}: landed {sum(counts.values())} raw rows; "
        f"fetch complete={result.complete} ({result.mode}), {len(result.problems)} problem(s), "
        f"provider state {result.provider_state}"
        + (f", since {modified_since}" if modified_since else "")
    )
    for problem in result.problems:
        context.log.warning(f"{problem.error_code}: {problem.describe()}")
    for table in sorted(RAW_TABLES):
        yield dg.MaterializeResult(
            asset_key=dg.AssetKey(["raw", table]),
            metadata={
                "dagster/row_count": counts[table],
                "fetch_complete": result.complete,
                "provider": result.provider,
                "fetch_problems": len(result.problems),
                "fetch_mode": result.mode,
                "provider_state": result.provider_state,
                "raw_archive": str(archive) if archive else "off",
            },
        )
