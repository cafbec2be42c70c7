"""Great Expectations (GX Core 1.x, pandas datasource) running the suites of ``suites.py``.

GX's SQL route does not work with DuckDB here (its column reflection ignores the schema and
query assets come back empty through duckdb_engine), so each suite's ``frame_sql`` is read from
DuckDB into a DataFrame of just the columns the suite checks, and validated in one ephemeral GX
context per process. GX is imported when a run validates, not when the code location loads (the
import alone takes seconds). An outcome names failed rows by their ID column only, never by the
offending values (they may be emails).

The process's context keeps each suite once (a district's severities are applied to the outcomes,
not given to GX); each run gets a pandas data source of its own, removed when the run is done:
a data source's execution engine keeps every metric it computed, keyed by data source and asset
name (not by the frame), so a source shared across runs would grow without end.
"""

from __future__ import annotations

import importlib
import itertools
import logging
import sys
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from rostersync_pipeline.lib.validate.suites import Expectation, TableSuite

if TYPE_CHECKING:
    import pandas as pd

SAMPLE_IDS = 5
_PREFETCH: list[threading.Thread] = []
# the process's GX context and what it holds; GX's context is not thread-safe
_GX_LOCK = threading.Lock()
_GX: dict[str, Any] = {}
_GX_SUITES: dict[TableSuite, tuple[Any, dict[str, int]]] = {}
_NAMES = itertools.count(1)


def prefetch_great_expectations() -> None:
    """Start importing Great Expectations in a background thread (it takes seconds), so that
    by the time a run validates, the import is done: the SQL models build meanwhile (DuckDB
    releases the GIL). A run whose models are all reused does not call it: its tables are
    unchanged, so GX does not run. Importing it again later waits for this import; calling this
    twice is harmless."""
    if _PREFETCH or "great_expectations" in sys.modules:
        return
    thread = threading.Thread(target=importlib.import_module, args=("great_expectations",),
                              name="prefetch-great-expectations", daemon=True)
    _PREFETCH.append(thread)
    thread.start()


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's verdict on a table: failed rows counted, up to 5 of their IDs."""

    expectation: str
    column: str
    success: bool
    hard: bool
    unexpected_count: int
    unexpected_ids: list[str]


def _gx_expectation(gx: Any, expectation: Expectation) -> Any:
    e = gx.expectations
    common: dict[str, Any] = {"column": expectation.column, "meta": {"name": expectation.name}}
    if expectation.mostly is not None:
        common["mostly"] = expectation.mostly
    if expectation.row_condition:
        common.update(row_condition=expectation.row_condition, condition_parser="pandas")
    if expectation.kind == "not_null":
        return e.ExpectColumnValuesToNotBeNull(**common)
    if expectation.kind == "unique":
        return e.ExpectColumnValuesToBeUnique(**common)
    if expectation.kind == "in_set":
        return e.ExpectColumnValuesToBeInSet(value_set=list(expectation.value_set), **common)
    if expectation.kind == "regex":
        return e.ExpectColumnValuesToMatchRegex(regex=expectation.regex, **common)
    if expectation.kind == "true":
        return e.ExpectColumnValuesToBeInSet(value_set=[True], **common)
    raise ValueError(f"unknown expectation kind {expectation.kind!r} ({expectation.name})")


def _ids(details: dict, id_column: str) -> list[str]:
    """The non-null IDs of the first failed rows GX reports."""
    import pandas as pd

    rows = details.get("partial_unexpected_index_list") or []
    ids = [str(row[id_column]) for row in rows if not pd.isna(row.get(id_column))]
    return list(dict.fromkeys(ids))[:SAMPLE_IDS]


def _gx_context() -> Any:
    """The process's ephemeral GX context (made on first use; call with ``_GX_LOCK`` held)."""
    if "context" not in _GX:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        _skip_frame_fingerprint()
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        _GX.update(gx=gx, context=context)
    return _GX["context"]


def _skip_frame_fingerprint() -> None:
    """GX's pandas engine hashes every row of a frame under 1 GB to mark the batch
    (``pandas_data_fingerprint``; nothing reads it back), twice per validation: three quarters of
    GX's time on a 7M-row enrollments frame. Frames of any size skip it. GX 1.x keeps the size
    limit in the module constant ``HASH_THRESHOLD``; a GX without it is left as it is."""
    from great_expectations.execution_engine import pandas_execution_engine as engine

    if hasattr(engine, "HASH_THRESHOLD"):
        engine.HASH_THRESHOLD = 0


def _gx_suite(suite: TableSuite) -> tuple[Any, dict[str, int]]:
    """The GX suite of ``suite`` and each GX expectation id's position in ``suite.expectations``:
    built once per process for what GX is told (severities are not; call with the lock held)."""
    key = replace(suite, expectations=tuple(replace(e, hard=False) for e in suite.expectations))
    if key not in _GX_SUITES:
        gx, context = _GX["gx"], _gx_context()
        name = f"{suite.table.replace('.', '_')}_suite_{next(_NAMES)}"
        gx_suite = context.suites.add(gx.ExpectationSuite(name=name))
        positions = {gx_suite.add_expectation(_gx_expectation(gx, expectation)).id: position
                     for position, expectation in enumerate(suite.expectations)}
        _GX_SUITES[key] = (gx_suite, positions)
    return _GX_SUITES[key]


class SuiteValidator:
    """A run's validations: :meth:`validate` runs one table's suite in the process's GX context,
    on a data source of this validator's own; :meth:`close` (or leaving ``with``) removes it."""

    def __init__(self) -> None:
        with _GX_LOCK:
            _gx_context()
        self._source: Any = None

    def __enter__(self) -> SuiteValidator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._source is not None:
            with _GX_LOCK:
                _gx_context().data_sources.delete(self._source.name)
            self._source = None

    def validate(self, suite: TableSuite, frame: pd.DataFrame) -> list[ExpectationOutcome]:
        if frame.empty:
            # every expectation holds on no rows (GX says so too, at a third of a second each)
            return [ExpectationOutcome(e.name, e.column, True, e.hard, 0, [])
                    for e in suite.expectations]
        with _GX_LOCK:
            gx_suite, positions = _gx_suite(suite)
            if self._source is None:
                self._source = _gx_context().data_sources.add_pandas(f"run_{next(_NAMES)}")
            # an asset per validation: the engine keys a batch's metrics by its asset's name
            asset = self._source.add_dataframe_asset(
                f"{suite.table.replace('.', '_')}_{next(_NAMES)}")
            batch = asset.add_batch_definition_whole_dataframe("whole_table").get_batch(
                batch_parameters={"dataframe": frame})
            result = batch.validate(gx_suite, result_format={
                "result_format": "SUMMARY",
                "unexpected_index_column_names": [suite.id_column],
                "partial_unexpected_count": SAMPLE_IDS,
            })
        outcomes = []
        for item in result.results:
            expectation = suite.expectations[positions[item.expectation_config.id]]
            details = item.result or {}
            outcomes.append(ExpectationOutcome(
                expectation=expectation.name,
                column=expectation.column,
                success=bool(item.success),
                hard=expectation.hard,
                unexpected_count=int(details.get("unexpected_count") or 0),
                unexpected_ids=_ids(details, suite.id_column),
            ))
        return outcomes
