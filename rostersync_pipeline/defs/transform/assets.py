"""The SQL models of ``dbt_like_sql/`` as assets: one asset per model, edges from the SQL.

Two steps run them: ``normalize_roster`` (staging -> intermediate -> core) and
``match_and_plan`` (match keys -> matches -> checks -> plans -> errors). Each step also
evaluates the checks of the models it built: every model's ``model_keys`` (its ``_models.yml``
promises) and, on each ``core/*`` table, its expectation suite (``<table>_expectation_suite``).
"""

from collections.abc import Iterator

import dagster as dg
import duckdb

from rostersync_pipeline.defs.checks.expectation_checks import (
    evaluate_expectation_suites,
    expectation_check_specs,
)
from rostersync_pipeline.defs.checks.model_checks import (
    MODEL_KEYS_CHECK,
    evaluate_all_model_keys,
    model_keys_result,
    model_keys_spec,
    promises,
)
from rostersync_pipeline.defs.partitions import districts_partitions
from rostersync_pipeline.lib.apply.refresh import refresh_roster
from rostersync_pipeline.lib.ingest.landing import require_this_run
from rostersync_pipeline.lib.ingest.providers import RAW_TABLES
from rostersync_pipeline.lib.report.run_record import sync_run_summary
from rostersync_pipeline.lib.report.run_status import RunStatus
from rostersync_pipeline.lib.report.summary_text import summary_markdown
from rostersync_pipeline.lib.storage.destinations import DestinationRefused
from rostersync_pipeline.lib.transform.district_settings import write_settings
from rostersync_pipeline.lib.transform.incremental import (
    FULL_TAG,
    forget_builds,
    kept_builds,
    model_versions,
    record_builds,
    stamp_run,
)
from rostersync_pipeline.lib.transform.sql_runner import (
    SQL_ROOT,
    ModelRun,
    SqlModel,
    execution_order,
    load_models,
    run_models,
)
from rostersync_pipeline.lib.validate.expectations import prefetch_great_expectations
from rostersync_pipeline.lib.validate.model_promises import PromiseOutcome
from rostersync_pipeline.resources.warehouse import RosterWarehouse

MODELS = load_models()
MATCH_STAGE_INTERMEDIATE = ("int_match_keys_incoming", "int_match_keys_roster")
PLAN_MODEL = "sync.sync_plan"


def model_stage(model: SqlModel) -> str:
    if model.schema == "sync" or model.name in MATCH_STAGE_INTERMEDIATE:
        return "match_and_plan"
    return "normalize"


def model_asset_key(model_key: str) -> dg.AssetKey:
    return dg.AssetKey(model_key.split("."))


def _spec(model: SqlModel) -> dg.AssetSpec:
    deps = [model_asset_key(d) for d in model.depends_on]
    deps += [dg.AssetKey(["raw", ref.split(".")[1]]) for ref in model.external_sources
             if ref.startswith("raw.") and ref.split(".")[1] in RAW_TABLES]
    sql_file = model.path.relative_to(SQL_ROOT).as_posix()
    description = f"{model.grain or model.key}\n\nSQL: `dbt_like_sql/{sql_file}`"
    return dg.AssetSpec(
        key=model_asset_key(model.key),
        deps=deps,
        group_name=model.group,
        kinds={"duckdb", "sql"},
        description=description,
        metadata={"materialized": model.materialized},
    )


def _models_of(stage: str) -> dict[str, SqlModel]:
    return {k: m for k, m in MODELS.items() if model_stage(m) == stage}


def _check_specs(stage: str) -> list[dg.AssetCheckSpec]:
    specs = [model_keys_spec(m, model_asset_key(k)) for k, m in _models_of(stage).items()
             if promises(m)]
    if stage == "normalize":
        specs += expectation_check_specs()
    return specs


def _read_roster_from_destination(
    context: dg.AssetExecutionContext, warehouse: RosterWarehouse, con
) -> None:
    """Matching reads the roster from the district's destination: a PostgreSQL destination's
    roster is mirrored into ``roster.*`` here, before any model reads it (docs/destinations.md).
    """
    try:
        refresh_roster(con, warehouse.destination(context.partition_key), context.log)
    except DestinationRefused as exc:
        raise dg.Failure(description=f"roster destination: {exc}", allow_retries=False) from exc


def _full_run(context: dg.AssetExecutionContext, full_recompute_days: int) -> bool:
    """A run that rebuilds every model and validates every table: tagged ``rostersync/full``, or
    of a district whose ``full_recompute_days`` is 0."""
    return context.run.tags.get(FULL_TAG) == "true" or full_recompute_days <= 0


def _build_or_reuse(
    context: dg.AssetExecutionContext, con: duckdb.DuckDBPyConnection, stage: str,
    models: dict[str, SqlModel], *, full: bool, full_recompute_days: int,
) -> tuple[list[ModelRun], dict[str, dg.AssetCheckResult], dict[str, str]]:
    """Build the stage's models whose inputs changed since their last build and check their
    promises; reuse the others' tables (:mod:`~rostersync_pipeline.lib.transform.incremental`),
    whose promise checks report what was measured at their build. Returns each model's run, its
    check result, and the reused models with the run that built them."""
    versions = model_versions(con, MODELS, set(models))
    kept = kept_builds(con, versions, full=full, full_recompute_days=full_recompute_days)
    to_build = set(models) - set(kept)
    if kept:
        context.log.info(f"district {context.partition_key}: {stage}: {len(kept)} of "
                         f"{len(models)} models reused (nothing they read changed)")
        stamp_run(con, MODELS, set(kept), context.run_id)
    built: list[ModelRun] = []
    checks: dict[str, dg.AssetCheckResult] = {}
    if to_build:
        if stage == "normalize":
            # the core tables may change, so GX may validate: import it while DuckDB builds
            prefetch_great_expectations()
        forget_builds(con, to_build)
        built = run_models(con, MODELS, only=to_build)
        built_rows = {result.key: result.row_count for result in built}
        checks = evaluate_all_model_keys(con, {k: models[k] for k in to_build}, built_rows,
                                         model_asset_key)
        record_builds(con, context.run_id, versions, built_rows, {
            key: (result.metadata["rows_checked"].value, result.passed)
            for key, result in checks.items()})
    for key, build in kept.items():
        if build.checked_rows is not None:
            checks[key] = model_keys_result(models[key], model_asset_key(key), PromiseOutcome(
                key, build.checked_rows, 0, dict.fromkeys(models[key].not_null, 0)))
    by_key = {result.key: result for result in built}
    results = [by_key.get(key) or ModelRun(key, 0.0, kept[key].row_count)
               for key in execution_order(models) if key in models]
    return results, checks, {key: build.built_by for key, build in kept.items()}


def _run_stage(
    context: dg.AssetExecutionContext, warehouse: RosterWarehouse, stage: str
) -> Iterator[dg.MaterializeResult]:
    district = warehouse.district(context.partition_key)
    models = _models_of(stage)
    with warehouse.connect(district.district_id) as con:
        require_this_run(con, context.run_id)
        if stage == "normalize":
            _read_roster_from_destination(context, warehouse, con)
            write_settings(con, district)
        full = _full_run(context, district.full_recompute_days)
        results, kept, reused = _build_or_reuse(context, con, stage, models, full=full,
                                                full_recompute_days=district.full_recompute_days)
        checks: dict[str, list[dg.AssetCheckResult]] = {
            key: [kept[key]] if key in kept else [] for key in models}
        if stage == "normalize":
            suites = evaluate_expectation_suites(
                con, context.run_id, dict(district.expectations), reuse=not full)
            for table, result in suites.items():
                checks[table].append(result)
        plan_summary = (sync_run_summary(con, district_id=district.district_id,
                                         run_id=context.run_id, status=RunStatus.PLANNED)
                        if stage == "match_and_plan" else None)
    broken = [r.asset_key.to_user_string() for found in checks.values() for r in found
              if r.check_name == MODEL_KEYS_CHECK and not r.passed]
    if broken:
        context.log.error(f"district {district.district_id}: {len(broken)} model(s) broke "
                          f"their _models.yml promises: {', '.join(broken)}")
    for result in results:
        metadata = {"seconds": round(result.seconds, 3)}
        if result.key in reused:
            metadata["reused_from_run"] = reused[result.key]
        if result.row_count is not None:
            metadata["dagster/row_count"] = result.row_count
        if plan_summary is not None and result.key == PLAN_MODEL:
            metadata["summary"] = dg.MetadataValue.md(summary_markdown(plan_summary))
        yield dg.MaterializeResult(asset_key=model_asset_key(result.key), metadata=metadata,
                                   check_results=checks[result.key])


@dg.multi_asset(
    specs=[_spec(m) for m in _models_of("normalize").values()],
    check_specs=_check_specs("normalize"),
    partitions_def=districts_partitions,
    can_subset=False,
    name="normalize_roster",
)
def normalize_roster(context: dg.AssetExecutionContext, warehouse: RosterWarehouse):
    """Staging, intermediate and core models: raw rows -> canonical provider-free tables.

    Checks, right after the models are built: ``model_keys`` on every model that promises a
    unique key or not-null columns, and an expectation suite on each ``core/*`` table, whose
    outcomes (``sync.expectation_results``) decide whether apply may run."""
    yield from _run_stage(context, warehouse, "normalize")


@dg.multi_asset(
    specs=[_spec(m) for m in _models_of("match_and_plan").values()],
    check_specs=_check_specs("match_and_plan"),
    partitions_def=districts_partitions,
    can_subset=False,
    name="match_and_plan",
)
def match_and_plan(context: dg.AssetExecutionContext, warehouse: RosterWarehouse):
    """Matching, record checks, per-entity plans, the sync plan and the run's errors.

    Checks: ``model_keys`` on every model that promises a unique key or not-null columns."""
    yield from _run_stage(context, warehouse, "match_and_plan")
