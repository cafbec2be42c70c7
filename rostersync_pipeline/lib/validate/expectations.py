"""Great Expectations (GX Core 1.x, pandas datasource) running the suites of ``suites.py``.

GX's SQL route does not work with DuckDB here (its column reflection ignores the schema and
query assets come back empty through duckdb_engine), so each suite's ``frame_sql`` is read from
DuckDB into a DataFrame of just the columns the suite checks, and validated in one ephemeral GX
context per run. GX is imported when a run validates, not when the code location loads (the
import alone takes seconds). An outcome names failed rows by their ID column only, never by the
offending values (they may be emails).
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rostersync_pipeline.lib.validate.suites import Expectation, TableSuite

if TYPE_CHECKING:
    import pandas as pd

SAMPLE_IDS = 5
_PREFETCH: list[threading.Thread] = []


def prefetch_great_expectations() -> None:
    """Start importing Great Expectations in a background thread (it takes seconds), so that
    by the time a run validates, the import is done: landing runs meanwhile (DuckDB releases
    the GIL). Importing it again later waits for this import; calling this twice is harmless."""
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


class SuiteValidator:
    """One ephemeral GX context for a run; :meth:`validate` runs one table's suite."""

    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        self._gx = gx
        self._context = gx.get_context(mode="ephemeral")
        self._context.variables.progress_bars = ProgressBarsConfig(globally=False)

    def validate(self, suite: TableSuite, frame: pd.DataFrame) -> list[ExpectationOutcome]:
        if frame.empty:
            # every expectation holds on no rows (GX says so too, at a third of a second each)
            return [ExpectationOutcome(e.name, e.column, True, e.hard, 0, [])
                    for e in suite.expectations]
        gx, name = self._gx, suite.table.replace(".", "_")
        source = self._context.data_sources.add_pandas(f"{name}_source")
        batch_definition = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(
            "whole_table")
        gx_suite = self._context.suites.add(gx.ExpectationSuite(name=f"{name}_suite"))
        by_id = {}
        for expectation in suite.expectations:
            by_id[gx_suite.add_expectation(_gx_expectation(gx, expectation)).id] = expectation
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(gx_suite, result_format={
            "result_format": "SUMMARY",
            "unexpected_index_column_names": [suite.id_column],
            "partial_unexpected_count": SAMPLE_IDS,
        })
        outcomes = []
        for item in result.results:
            expectation = by_id[item.expectation_config.id]
            details = item.result or {}
            outcomes.append(ExpectationOutcome(
                expectation=expectation.name,
                column=expectation.column,
                success=bool(item.success),
                hard=expectation.hard,
                unexpected_count=int(details.get("unexpected_count") or 0),
                unexpected_ids=_ids(details, suite.id_column),
            ))
        self._context.suites.delete(f"{name}_suite")
        self._context.data_sources.delete(f"{name}_source")
        return outcomes
