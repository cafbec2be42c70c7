"""Reuse a stage's SQL models when nothing they read has changed since they were built.

A stage's models (``normalize``: staging -> core; ``match_and_plan``: matching -> plans ->
errors) are a function of four things only:

- the relations they read that the stage does not build (``raw.*`` as landed, ``config.*`` as
  this run wrote it, ``roster.*`` and, for ``match_and_plan``, what ``normalize`` built);
- their SQL and macros, and the DuckDB that runs them;
- the run's date (``config.run.started_at::date``), for a stage whose models read it (staging
  judges birth and term dates against it; matching and planning do not read it);
- the run's id, which three models only copy onto their rows (``run_id``).

So before building, the stage's *inputs digest* is taken: per input relation its row count
and an order-free sum of row hashes (one read of the relation; ``raw.*`` without the landing's
``_run_id``; ``config.run`` without its id and start time, plus its date if the stage reads
it), plus a digest of the code. If it equals
the digest recorded when the stage's tables were last built, those tables already hold what
building would make: the stage is *reused*, its ``run_id`` columns set to this run's. Otherwise
the stage builds and records its digest.

A stage always builds when the run is forced full (``rostersync sync --full``, tag
``rostersync/full``), when its last build is older than ``full_recompute_days``, or when a
model broke a ``_models.yml`` promise at that build. A config change, a source switch, a
restore, an applied plan or a decision changes an input, so the next run builds.
``sync.stage_builds`` keeps one row per stage: the last build's run, digest and row counts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib.metadata import version

import duckdb

from rostersync_pipeline.lib.transform.sql_runner import SqlModel, load_macros

FULL_TAG = "rostersync/full"
STAGE_BUILDS_DDL = """
create table if not exists sync.stage_builds (
    stage varchar primary key,
    run_id varchar not null,
    inputs_digest varchar not null,
    built_at timestamp not null,
    row_counts json not null
)
"""
# columns left out of a relation's digest: they differ between runs by design. config.run's id is
# only copied onto rows; its start time is read as the run's date, by the stages that read it.
_PER_RUN_COLUMNS = {"config.run": {"run_id", "started_at"}}
_LANDING_RUN_COLUMN = "_run_id"
_RUN_DATE = "started_at::date as run_date"
STAMP_COLUMN = "run_id"


@dataclass(frozen=True)
class Reuse:
    """A stage whose tables can be reused: the run that built them, and their row counts."""

    built_by: str
    row_counts: dict[str, int | None]
    checked_rows: dict[str, int]


def stage_inputs(models: dict[str, SqlModel], stage_models: set[str]) -> list[str]:
    """The relations the stage's models read and do not build, sorted."""
    read = {ref for key in stage_models for ref in
            (*models[key].depends_on, *models[key].external_sources)}
    return sorted(read - stage_models)


def _columns(con: duckdb.DuckDBPyConnection, relations: list[str]) -> dict[str, list[str]]:
    """Each relation's columns in order, from one catalog query (none for a missing relation)."""
    found: dict[str, list[str]] = {relation: [] for relation in relations}
    for relation, names in con.execute(
        "select schema_name || '.' || table_name, list(column_name order by column_index) "
        "from duckdb_columns() where list_contains(?::varchar[], schema_name || '.' || table_name) "
        "group by all", [relations]).fetchall():
        found[relation] = names
    return found


def reads_run_date(models: dict[str, SqlModel], stage_models: set[str]) -> bool:
    return any("started_at" in models[key].sql for key in stage_models)


def _digest_select(relation: str, columns: list[str], *, run_date: bool) -> str:
    """What of the relation the models may read, as one ``select``."""
    left_out = _PER_RUN_COLUMNS.get(relation, {_LANDING_RUN_COLUMN})
    fields = [f'"{c}"' for c in columns if c not in left_out]
    if relation == "config.run" and run_date:
        fields.append(_RUN_DATE)
    return f"select {', '.join(fields)} from {relation}"


def relation_digests(con: duckdb.DuckDBPyConnection, relations: list[str], *,
                     run_date: bool = True) -> dict[str, str]:
    """Per relation, ``rows:sum of row hashes`` over what of it the models may read ('-' when
    the relation does not exist): one query for all of them."""
    columns = _columns(con, relations)
    present = [relation for relation in relations if columns[relation]]
    digests = dict.fromkeys(relations, "-")
    if present:
        parts = [f"select {i} as i, count(*) as n, coalesce(sum(hash(t)), 0)::varchar as total "
                 f"from ({_digest_select(relation, columns[relation], run_date=run_date)}) as t"
                 for i, relation in enumerate(present)]
        for i, rows, total in con.execute("\nunion all\n".join(parts)).fetchall():
            digests[present[i]] = f"{rows}:{total}"
    return digests


def code_digest(models: dict[str, SqlModel], stage_models: set[str]) -> str:
    """The stage's SQL as run, the macros it may call, and the versions that run them."""
    text = [version("duckdb"), version("rostersync")]
    text += [f"{key}\n{models[key].materialized}\n{models[key].sql}" for key in sorted(stage_models)]
    for root in sorted({models[key].root for key in stage_models}):
        text += [macro.sql for macro in load_macros(root)]
    return hashlib.sha256("\n\0".join(text).encode()).hexdigest()


def inputs_digest(con: duckdb.DuckDBPyConnection, models: dict[str, SqlModel],
                  stage_models: set[str]) -> str:
    relations = stage_inputs(models, stage_models)
    digests = relation_digests(con, relations, run_date=reads_run_date(models, stage_models))
    parts = [code_digest(models, stage_models)]
    parts += [f"{relation}={digests[relation]}" for relation in relations]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def reusable(con: duckdb.DuckDBPyConnection, stage: str, digest: str, *, full: bool,
             full_recompute_days: int) -> Reuse | None:
    """The stage's last build, if its tables can stand for this run's build (never in a
    ``full`` run)."""
    if full:
        return None
    con.execute(STAGE_BUILDS_DDL)
    rows = con.execute(
        "select run_id, row_counts from sync.stage_builds where stage = ? and inputs_digest = ? "
        "and built_at >= now()::timestamp - to_days(?)",
        [stage, digest, full_recompute_days]).fetchall()
    if not rows:
        return None
    run_id, counts = rows[0]
    counts = json.loads(counts)
    return Reuse(run_id, counts["built"], counts["checked"])


def forget_build(con: duckdb.DuckDBPyConnection, stage: str) -> None:
    """Before a stage builds: its tables are about to change, so its last record no longer
    describes them (a build that fails halfway leaves no record to reuse)."""
    con.execute(STAGE_BUILDS_DDL)
    con.execute("delete from sync.stage_builds where stage = ?", [stage])


def record_build(con: duckdb.DuckDBPyConnection, stage: str, run_id: str, digest: str,
                 built: dict[str, int | None], checked: dict[str, int]) -> None:
    """After a stage built with every promise kept: what it read, for the next run to compare,
    and its tables' row counts (``built``: per table as built; ``checked``: per model that
    promises anything, the rows its promises were measured on)."""
    forget_build(con, stage)
    con.execute("insert into sync.stage_builds values (?, ?, ?, now()::timestamp, ?::json)",
                [stage, run_id, digest, json.dumps({"built": built, "checked": checked})])


def stamp_run(con: duckdb.DuckDBPyConnection, models: dict[str, SqlModel],
              stage_models: set[str], run_id: str) -> None:
    """Reused tables carry this run's id where the models copy it from ``config.run``."""
    tables = sorted(key for key in stage_models if models[key].materialized != "view")
    for key, columns in _columns(con, tables).items():
        if STAMP_COLUMN in columns:
            con.execute(f"update {key} set {STAMP_COLUMN} = ?", [run_id])
