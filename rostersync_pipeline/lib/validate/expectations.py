"""Great Expectations suites for the canonical tables (GX Core 1.x, pandas datasource).

GX's SQL route does not work with DuckDB here, so a table's checked columns are read from
DuckDB into a pandas DataFrame and validated in an ephemeral GX context. Each expectation is
"hard" (a failure must stop apply) or "soft" (reported, does not block). An outcome names the
offending rows by their ID column only (never the offending values: they may be emails).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import great_expectations as gx
import pandas as pd
from great_expectations.data_context.types.base import ProgressBarsConfig

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
SAMPLE_IDS = 5


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's verdict on a table: failed rows counted, up to 5 of their IDs."""

    expectation: str
    column: str
    success: bool
    hard: bool
    unexpected_count: int
    unexpected_ids: list[str]


def users_suite() -> list[tuple[gx.expectations.Expectation, bool]]:
    """The ``core.users`` suite: (expectation, hard?) pairs."""
    e = gx.expectations
    return [
        (e.ExpectColumnValuesToNotBeNull(column="user_source_id"), True),
        (e.ExpectColumnValuesToBeUnique(column="user_source_id"), True),
        (e.ExpectColumnValuesToBeInSet(column="role", value_set=["student", "educator"]), True),
        (e.ExpectColumnValuesToMatchRegex(column="email", regex=EMAIL_PATTERN), False),
        (e.ExpectColumnValuesToNotBeNull(column="grade_code", mostly=0.95,
                                          row_condition='role=="student"',
                                          condition_parser="pandas"), False),
    ]


USERS_COLUMNS = ("user_source_id", "role", "email", "grade_code")
USERS_ID_COLUMN = "user_source_id"


def _ids(details: dict, id_column: str) -> list[str]:
    """The non-null IDs of the first failed rows GX reports."""
    rows = details.get("partial_unexpected_index_list") or []
    ids = [str(row[id_column]) for row in rows if not pd.isna(row.get(id_column))]
    return list(dict.fromkeys(ids))[:SAMPLE_IDS]


def validate_frame(
    name: str,
    frame: pd.DataFrame,
    suite: list[tuple[gx.expectations.Expectation, bool]],
    id_column: str,
) -> list[ExpectationOutcome]:
    """Run ``suite`` on ``frame``: one outcome per expectation, failed rows named by ``id_column``."""
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas(f"{name}_source")
    batch_definition = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(
        "whole_table"
    )
    gx_suite = context.suites.add(gx.ExpectationSuite(name=f"{name}_suite"))
    hard_by_id = {}
    for expectation, hard in suite:
        added = gx_suite.add_expectation(expectation)
        hard_by_id[added.id] = hard
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(gx_suite, result_format={
        "result_format": "SUMMARY",
        "unexpected_index_column_names": [id_column],
        "partial_unexpected_count": SAMPLE_IDS,
    })
    outcomes = []
    for item in result.results:
        config = item.expectation_config
        details = item.result or {}
        outcomes.append(ExpectationOutcome(
            expectation=config.type,
            column=config.kwargs.get("column", ""),
            success=bool(item.success),
            hard=hard_by_id.get(config.id, True),
            unexpected_count=int(details.get("unexpected_count") or 0),
            unexpected_ids=_ids(details, id_column),
        ))
    return outcomes
