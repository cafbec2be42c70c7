"""Fetch a district's roster from its configured provider and land it raw in DuckDB."""


from pathlib import Path

import dagster as dg

from rostersync_pipeline.defs.partitions import districts_partitions
from rostersync_pipeline.lib.ingest.bundles import (
    BundleRefused,
    check_bundle_allowed,
    district_upload_dir,
    run_work_dir,
)
from rostersync_pipeline.lib.ingest.drop_folder import bundles_in
from rostersync_pipeline.lib.ingest.landing import write_fetch_context
from rostersync_pipeline.lib.ingest.providers import RAW_TABLES, fetch_and_land, land_refused
from rostersync_pipeline.lib.ingest.providers.base import (
    FileSourceSettings,
    LandingContext,
    SourceSettings,
)
from rostersync_pipeline.lib.ingest.raw_archive import archive_raw
from rostersync_pipeline.resources.credentials import ProviderCredentials
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


class LandingConfig(dg.Config):
    bundle_path: str | None = None
    """A bundle to land instead of the configured ``source.path`` (set by the drop-folder sensor
    and by the console for an uploaded bundle)."""


def bundle_to_land(source: SourceSettings, override: str | None,
                   upload_dir: Path | None = None) -> Path | None:
    """The bundle a file source's run lands (None for the other sources).

    The run config's ``bundle_path`` (the drop-folder sensor's find, or a console upload) if
    set, refused with :class:`BundleRefused` unless it is ``source.path`` or directly inside
    ``source.drop_folder`` or ``upload_dir`` (the district's console uploads); else
    ``source.path``; else the newest bundle in ``drop_folder``.
    """
    if not isinstance(source, FileSourceSettings):
        return None
    if override:
        check_bundle_allowed(Path(override), source, upload_dir)
        return Path(override)
    if source.path:
        return Path(source.path)
    if source.drop_folder:
        found = bundles_in(Path(source.drop_folder))
        return found[-1] if found else None
    return None


@dg.multi_asset(
    specs=RAW_SPECS,
    partitions_def=districts_partitions,
    can_subset=False,
    name="land_raw_roster",
)
def land_raw_roster(
    context: dg.AssetExecutionContext, config: LandingConfig, warehouse: RosterWarehouse,
    credentials: ProviderCredentials,
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
        try:
            bundle = bundle_to_land(source, config.bundle_path, district_upload_dir(
                warehouse.warehouse_dir, district.district_id))
        except BundleRefused as refused:
            bundle, result = None, land_refused(con, source.type, refused)
        else:
            landing = LandingContext(run_id=context.run_id, work_dir=work_dir, bundle=bundle,
                                     secrets=credentials.secrets_for(source))
            result = fetch_and_land(con, source, landing)
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
