"""Each SQL model's ``_models.yml`` promises (``unique_key``, ``not_null``) as an asset check.

One check per model that promises anything, named ``model_keys``, on the model's asset. The
multi-asset that builds the model declares it and evaluates it right after the model is built
(one query per model, or one for a stage's small tables, see
:mod:`rostersync_pipeline.lib.validate.model_promises`). A broken promise is a
model bug: severity ERROR, the offending keys (at most 5) in metadata, and the run goes on (no
data is refused by it).
"""

from collections.abc import Callable

import dagster as dg
import duckdb

from rostersync_pipeline.defs.partitions import district_check_spec
from rostersync_pipeline.lib.transform.sql_runner import SqlModel
from rostersync_pipeline.lib.validate.model_promises import (
    PromiseOutcome,
    check_all_promises,
    check_promises,
)

MODEL_KEYS_CHECK = "model_keys"


def promises(model: SqlModel) -> bool:
    return bool(model.unique_key or model.not_null)


def _promise_text(model: SqlModel) -> str:
    parts = []
    if model.unique_key:
        parts.append(f"`{', '.join(model.unique_key)}` is unique")
    if model.not_null:
        parts.append(f"`{', '.join(model.not_null)}` never NULL")
    return " and ".join(parts)


def model_keys_spec(model: SqlModel, asset_key: dg.AssetKey) -> dg.AssetCheckSpec:
    """The check's declaration on the model's asset."""
    return district_check_spec(
        name=MODEL_KEYS_CHECK,
        asset=asset_key,
        description=f"What `_models.yml` promises for {model.key}: {_promise_text(model)}.",
    )


def evaluate_model_keys(
    con: duckdb.DuckDBPyConnection, model: SqlModel, asset_key: dg.AssetKey,
    rows: int | None = None,
) -> dg.AssetCheckResult:
    """Measure the model's promises on what it just built (``rows``: its row count, if the
    build reported one)."""
    return model_keys_result(model, asset_key, check_promises(con, model, rows))


def evaluate_all_model_keys(
    con: duckdb.DuckDBPyConnection, models: dict[str, SqlModel], rows: dict[str, int | None],
    asset_key: Callable[[str], dg.AssetKey],
) -> dict[str, dg.AssetCheckResult]:
    """:func:`evaluate_model_keys` for every model that promises anything, small tables measured
    together (see :func:`~rostersync_pipeline.lib.validate.model_promises.check_all_promises`)."""
    promising = [model for model in models.values() if promises(model)]
    outcomes = check_all_promises(con, promising, rows)
    return {m.key: model_keys_result(m, asset_key(m.key), outcomes[m.key]) for m in promising}


def model_keys_result(
    model: SqlModel, asset_key: dg.AssetKey, outcome: PromiseOutcome
) -> dg.AssetCheckResult:
    """The ``model_keys`` check result of a measured promise: rows checked, duplicated keys,
    NULLs per column, and samples of the offending keys."""
    metadata = {"rows_checked": outcome.rows}
    if model.unique_key:
        metadata["duplicate_keys"] = outcome.duplicate_keys
    if outcome.duplicate_sample:
        metadata["duplicate_key_sample"] = dg.MetadataValue.json(outcome.duplicate_sample)
    metadata.update({f"nulls/{column}": n for column, n in outcome.null_counts.items()})
    if outcome.null_sample:
        metadata["null_key_sample"] = dg.MetadataValue.json(outcome.null_sample)
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=MODEL_KEYS_CHECK,
        passed=outcome.kept,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
    )
