"""What a model's ``_models.yml`` promises, checked on the relation the model built.

A model promises that its ``unique_key`` identifies one row and that its ``not_null`` columns
are never NULL. :func:`check_promises` reads the relation once (one ``group by`` on the key, or
one aggregate when there is no key), so a view is executed once; the offending keys are the
smallest few (``min(key, n)``), kept while aggregating. A broken promise is a
model bug; the offending keys (at most :data:`SAMPLE_KEYS`) name the rows to look at.

:func:`check_all_promises` measures a stage's small tables in one query (a query on a few
thousand rows costs its planning, not its rows), and looks at each broken one, each large table
and each view on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from rostersync_pipeline.lib.transform.sql_runner import ModelError, SqlModel

SAMPLE_KEYS = 5
# tables built with at most this many rows have their promises measured in one query together
BATCH_ROWS = 100_000


@dataclass(frozen=True)
class PromiseOutcome:
    """One model's promises as found: rows, duplicated keys, NULLs per ``not_null`` column."""

    model: str
    rows: int
    duplicate_keys: int
    null_counts: dict[str, int]
    duplicate_sample: list[dict] = field(default_factory=list)
    null_sample: list[dict] = field(default_factory=list)

    @property
    def kept(self) -> bool:
        return self.duplicate_keys == 0 and not any(self.null_counts.values())


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def promises_sql(model: SqlModel) -> str:
    """The one query that measures ``model``'s promises (identifiers from its YAML, no values)."""
    relation = f"{_ident(model.schema)}.{_ident(model.name)}"
    nulls = ", ".join(f"count(*) filter (where {_ident(c)} is null)" for c in model.not_null)
    null_list = f"[{nulls}]" if nulls else "[]::bigint[]"
    if not model.unique_key:
        return f"select count(*), 0, {null_list}, [], [] from {relation}"
    keys = ", ".join(_ident(c) for c in model.unique_key)
    key_struct = "{" + ", ".join(f"{_ident(c)}: {_ident(c)}" for c in model.unique_key) + "}"
    any_null = " or ".join(f"{_ident(c)} is null" for c in model.not_null) or "false"
    group_nulls = ", ".join(
        f"count(*) filter (where {_ident(c)} is null) as {_ident('null_' + c)}"
        for c in model.not_null)
    summed = ", ".join(f"coalesce(sum({_ident('null_' + c)}), 0)::bigint" for c in model.not_null)
    return f"""
with grouped as (
    select {key_struct} as key, count(*) as copies, bool_or({any_null}) as has_null
        {', ' + group_nulls if group_nulls else ''}
    from {relation}
    group by {keys}
)
select
    coalesce(sum(copies), 0)::bigint,
    count(*) filter (where copies > 1),
    [{summed}]::bigint[],
    coalesce(min(key, $sample) filter (where copies > 1), []),
    coalesce(min(key, $sample) filter (where has_null), [])
from grouped
"""


def check_promises(
    con: duckdb.DuckDBPyConnection, model: SqlModel, rows: int | None = None
) -> PromiseOutcome:
    """Measure ``model``'s ``unique_key`` and ``not_null`` promises on the relation it built.

    ``rows``: the row count the build reported (a table's); an empty table keeps every promise,
    so only its promised columns are looked up (``limit 0``: a missing one is still an error)."""
    params = {"sample": SAMPLE_KEYS} if model.unique_key else {}
    try:
        if rows == 0:
            columns = ", ".join(_ident(c) for c in (*model.unique_key, *model.not_null)) or "1"
            con.execute(f"select {columns} from {_ident(model.schema)}.{_ident(model.name)} "
                        "limit 0").fetchall()
            return PromiseOutcome(model=model.key, rows=0, duplicate_keys=0,
                                  null_counts=dict.fromkeys(model.not_null, 0))
        rows, duplicates, nulls, duplicate_sample, null_sample = con.execute(
            promises_sql(model), params).fetchall()[0]
    except duckdb.Error as exc:
        raise ModelError(f"{model.path.parent / '_models.yml'} ({model.key}): its unique_key / "
                         f"not_null cannot be checked: {exc}") from exc
    return PromiseOutcome(
        model=model.key,
        rows=rows,
        duplicate_keys=duplicates,
        null_counts=dict(zip(model.not_null, nulls, strict=True)),
        duplicate_sample=list(duplicate_sample),
        null_sample=list(null_sample),
    )


def _counts_sql(model: SqlModel) -> str:
    """One row for ``model``: its key, rows, duplicated keys and NULLs per ``not_null`` column."""
    relation = f"{_ident(model.schema)}.{_ident(model.name)}"
    nulls = [f"count(*) filter (where {_ident(c)} is null)" for c in model.not_null]
    if not model.unique_key:
        return (f"select ?::varchar, count(*)::bigint, 0::bigint, [{', '.join(nulls)}]::bigint[] "
                f"from {relation}")
    grouped_nulls = "".join(f", {n} as {_ident('null_' + c)}"
                            for n, c in zip(nulls, model.not_null, strict=True))
    summed = ", ".join(f"coalesce(sum({_ident('null_' + c)}), 0)" for c in model.not_null)
    keys = ", ".join(_ident(c) for c in model.unique_key)
    return (f"select ?::varchar, coalesce(sum(copies), 0)::bigint, "
            f"count(*) filter (where copies > 1)::bigint, [{summed}]::bigint[] "
            f"from (select count(*) as copies{grouped_nulls} from {relation} group by {keys})")


def check_all_promises(
    con: duckdb.DuckDBPyConnection, models: list[SqlModel], rows: dict[str, int | None]
) -> dict[str, PromiseOutcome]:
    """Each model's :func:`check_promises` outcome (``rows``: the row counts the builds reported).

    Tables of at most :data:`BATCH_ROWS` rows are measured in one ``union all``; a table whose
    promise that finds broken, and every other model, is checked on its own (which samples the
    offending keys, and names the model whose YAML cannot be checked)."""
    batched = [m for m in models if rows.get(m.key) is not None and rows[m.key] <= BATCH_ROWS]
    outcomes: dict[str, PromiseOutcome] = {}
    if batched:
        try:
            found = con.execute("\nunion all\n".join(_counts_sql(m) for m in batched),
                                [m.key for m in batched]).fetchall()
        except duckdb.Error:
            found = []
        by_key = {m.key: m for m in batched}
        for key, count, duplicates, nulls in found:
            if not duplicates and not any(nulls):
                outcomes[key] = PromiseOutcome(
                    model=key, rows=count, duplicate_keys=0,
                    null_counts=dict(zip(by_key[key].not_null, nulls, strict=True)))
    for model in models:
        if model.key not in outcomes:
            outcomes[model.key] = check_promises(con, model, rows.get(model.key))
    return outcomes
