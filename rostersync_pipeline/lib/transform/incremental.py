"""Reuse a SQL model's table when nothing it reads has changed since it was built.

A model's table is a function of four things only:

- the relations it reads: ``raw.*`` as landed, ``config.*`` as this run wrote it, ``roster.*``,
  the tables of the stage before, and the models of its own stage that it reads;
- its SQL and macros, and the DuckDB that runs them;
- the run's date (``config.run.started_at::date``), if its SQL reads it (staging judges birth
  and term dates against it; matching and planning do not read it);
- the run's id, which three models only copy onto their rows (``run_id``).

So before a stage builds, each of its models gets a *version*: SHA-256 over its code, the run's
date if it reads it, and per relation it reads either that relation's version (a model of the
same stage) or, for a relation the stage does not build, its row count and an order-free sum of
row hashes (one read of it; ``raw.*`` without the landing's ``_run_id``; ``config.run`` without
its id and start time). A model whose version equals the one recorded in ``sync.model_builds``
when its table was built, with every promise kept, is *reused*: its table already holds what
building would make, and its ``run_id`` column is set to this run's. The others are built, in
dependency order, reading the reused tables beside them. Versions chain: a model is rebuilt
exactly when something it reads, directly or through the models beneath it, changed.

Nothing is reused when the run is forced full (``rostersync sync --full``, tag
``rostersync/full``); a build older than ``full_recompute_days`` is not reused; a model that
broke a ``_models.yml`` promise at its build is rebuilt. A config change, a source switch, a
restore, an applied plan or a decision changes an input, so the models reading it are rebuilt.
``sync.model_builds`` keeps one row per model: its last build's run, version and row counts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.metadata import version

import duckdb

from rostersync_pipeline.lib.storage.warehouse import content_digests, relation_exists
from rostersync_pipeline.lib.transform.sql_runner import (
    SqlModel,
    execution_order,
    existing_relations,
    load_macros,
)

FULL_TAG = "rostersync/full"
MODEL_BUILDS_DDL = """
drop table if exists sync.stage_builds;  -- before model_builds, one row per stage
create table if not exists sync.model_builds (
    model varchar primary key,
    version varchar not null,
    run_id varchar not null,
    built_at timestamp not null,
    row_count bigint,
    checked_rows bigint,
    kept_promises boolean not null
)
"""
# columns left out of a relation's digest: they differ between runs by design. config.run's id is
# only copied onto rows; its start time is read as the run's date, by the models that read it.
_PER_RUN_COLUMNS = {"config.run": {"run_id", "started_at"}}
_LANDING_RUN_COLUMN = "_run_id"
STAMP_COLUMN = "run_id"


@dataclass(frozen=True)
class KeptBuild:
    """A model's table that can stand for this run's build: the run that built it, its rows as
    built (None for a view) and the rows its promises were measured on (None: it promises
    nothing)."""

    built_by: str
    row_count: int | None
    checked_rows: int | None


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


def _digest_select(relation: str, columns: list[str]) -> str:
    """What of the relation the models may read, as one ``select``."""
    left_out = _PER_RUN_COLUMNS.get(relation, {_LANDING_RUN_COLUMN})
    fields = ['"' + c.replace('"', '""') + '"' for c in columns if c not in left_out] or ["1"]
    return f"select {', '.join(fields)} from {relation}"


def relation_digests(con: duckdb.DuckDBPyConnection, relations: list[str]) -> dict[str, str]:
    """Per relation, ``rows:sum of row hashes`` over what of it the models may read ('-' when
    the relation does not exist): one query for all of them."""
    columns = _columns(con, relations)
    present = [relation for relation in relations if columns[relation]]
    found = content_digests(con, [_digest_select(r, columns[r]) for r in present])
    digests = dict.fromkeys(relations, "-")
    digests.update({r: f"{rows}:{total}" for r, (rows, total) in zip(present, found, strict=True)})
    return digests


def _code_of(models: dict[str, SqlModel], stage_models: set[str]) -> dict[str, str]:
    """Per model, its SQL as run, its materialization, the macros it may call, and the versions
    that run them."""
    versions = [version("duckdb"), version("rostersync")]
    macros = {root: [macro.sql for macro in load_macros(root)]
              for root in {models[key].root for key in stage_models}}
    return {key: "\n\0".join([*versions, key, models[key].materialized, models[key].sql,
                               *macros[models[key].root]])
            for key in stage_models}


def _run_date(con: duckdb.DuckDBPyConnection) -> str:
    if not relation_exists(con, "config.run"):
        return "-"
    rows = con.execute("select started_at::date::varchar from config.run").fetchall()
    return rows[0][0] if rows else "-"


def model_versions(con: duckdb.DuckDBPyConnection, models: dict[str, SqlModel],
                   stage_models: set[str]) -> dict[str, str]:
    """Each of the stage's models' version (module docstring); one read of the relations the
    stage does not build."""
    digests = relation_digests(con, stage_inputs(models, stage_models))
    run_date = _run_date(con)
    code = _code_of(models, stage_models)
    versions: dict[str, str] = {}
    for key in execution_order({k: models[k] for k in stage_models}):
        if key not in stage_models:
            continue
        model = models[key]
        parts = [code[key]]
        parts += [f"{ref}={versions.get(ref) or digests[ref]}"
                  for ref in sorted({*model.depends_on, *model.external_sources})]
        if "started_at" in model.sql:
            parts.append(f"run_date={run_date}")
        versions[key] = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return versions


def kept_builds(con: duckdb.DuckDBPyConnection, versions: dict[str, str], *, full: bool,
                full_recompute_days: int) -> dict[str, KeptBuild]:
    """The models whose last build is of this version, kept every promise, is not older than
    ``full_recompute_days`` and whose relation exists: their tables stand for this run's build
    (none in a ``full`` run)."""
    con.execute(MODEL_BUILDS_DDL)
    if full or not versions:
        return {}
    existing = existing_relations(con)
    rows = con.execute(
        "select model, run_id, row_count, checked_rows from sync.model_builds "
        "join (select unnest($models::varchar[]) as model, unnest($versions::varchar[]) as version) "
        "using (model, version) "
        "where kept_promises and built_at >= now()::timestamp - to_days($days)",
        {"models": list(versions), "versions": list(versions.values()),
         "days": full_recompute_days}).fetchall()
    return {model: KeptBuild(run_id, row_count, checked_rows)
            for model, run_id, row_count, checked_rows in rows if model in existing}


def forget_builds(con: duckdb.DuckDBPyConnection, keys: set[str]) -> None:
    """Before models build (after :func:`kept_builds`, which makes the table): their tables are
    about to change, so their last records no longer describe them (a build that fails halfway
    leaves no record to reuse)."""
    con.execute("delete from sync.model_builds where list_contains($keys::varchar[], model)",
                {"keys": sorted(keys)})


def record_builds(con: duckdb.DuckDBPyConnection, run_id: str, versions: dict[str, str],
                  built: dict[str, int | None], checked: dict[str, tuple[int, bool]]) -> None:
    """After models built (their records forgotten before) and their promises were measured:
    each one's version, for the next run to compare, its rows as built (``built``), and
    (``checked``, per model that promises anything) the rows its promises were measured on and
    whether it kept them all."""
    keys = sorted(built)
    con.execute(
        "insert into sync.model_builds select unnest($keys::varchar[]), "
        "unnest($versions::varchar[]), $run_id, now()::timestamp, unnest($rows::bigint[]), "
        "unnest($checked::bigint[]), unnest($kept::boolean[])",
        {"keys": keys, "versions": [versions[k] for k in keys], "run_id": run_id,
         "rows": [built[k] for k in keys],
         "checked": [checked[k][0] if k in checked else None for k in keys],
         "kept": [checked[k][1] if k in checked else True for k in keys]})


def stamp_run(con: duckdb.DuckDBPyConnection, models: dict[str, SqlModel],
              reused: set[str], run_id: str) -> None:
    """Reused tables carry this run's id where the models copy it from ``config.run``."""
    tables = sorted(key for key in reused if models[key].materialized != "view")
    for key, columns in _columns(con, tables).items():
        if STAMP_COLUMN in columns:
            con.execute(f"update {key} set {STAMP_COLUMN} = ?", [run_id])
