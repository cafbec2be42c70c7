"""Runs the SQL models in ``dbt_like_sql/`` in dependency order.

A model is one ``select``; the runner wraps it in ``create or replace table|view
<schema>.<name>``. Models refer to each other by schema-qualified name; those references are
the dependency edges (the Dagster asset graph is built from the same edges).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from functools import cache
from graphlib import TopologicalSorter
from pathlib import Path

import duckdb
import yaml

SQL_ROOT = Path(__file__).resolve().parents[3] / "dbt_like_sql"
FOLDER_SCHEMAS = {
    "staging": "staging",
    "intermediate": "intermediate",
    "marts/core": "core",
    "marts/sync": "sync",
}
EXTERNAL_SCHEMAS = ("raw", "config", "roster")
_REFERENCE = re.compile(
    r"\b(raw|config|roster|staging|intermediate|core|sync)\.([a-z_][a-z0-9_]*)\b", re.IGNORECASE
)
_COMMENT = re.compile(r"--[^\n]*")


class ModelError(RuntimeError):
    """A SQL model failed; the message names the model file."""


@dataclass(frozen=True)
class SqlModel:
    schema: str
    name: str
    path: Path
    sql: str
    materialized: str
    grain: str
    unique_key: tuple[str, ...]
    depends_on: tuple[str, ...] = field(default=())
    external_sources: tuple[str, ...] = field(default=())

    @property
    def key(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def group(self) -> str:
        return {"staging": "staging", "intermediate": "intermediate"}.get(self.schema, self.schema)


def _schema_for(path: Path, root: Path) -> str:
    rel = path.relative_to(root).parent.as_posix()
    for folder, schema in sorted(FOLDER_SCHEMAS.items(), key=lambda kv: -len(kv[0])):
        if rel == folder or rel.startswith(folder + "/"):
            return schema
    raise ModelError(f"{path}: not under a known model folder ({', '.join(FOLDER_SCHEMAS)})")


def _load_properties(folder: Path) -> dict[str, dict]:
    props_path = folder / "_models.yml"
    if not props_path.exists():
        return {}
    models = (yaml.safe_load(props_path.read_text(encoding="utf-8")) or {}).get("models") or {}
    if isinstance(models, list):  # dbt's own layout: a list of {name: ..., ...}
        return {spec["name"]: spec for spec in models}
    return {name: spec or {} for name, spec in models.items()}


@cache
def load_models(root: Path = SQL_ROOT) -> dict[str, SqlModel]:
    """Every model under ``root`` by ``schema.name``, with its dependencies resolved."""
    found: dict[str, tuple[str, str, Path, str, dict]] = {}
    for path in sorted(root.rglob("*.sql")):
        schema = _schema_for(path, root)
        props = _load_properties(path.parent).get(path.stem, {})
        sql = path.read_text(encoding="utf-8").strip().rstrip(";")
        key = f"{schema}.{path.stem}"
        if key in found:
            raise ModelError(f"{path}: model {key} is defined twice")
        found[key] = (schema, path.stem, path, sql, props)
    models: dict[str, SqlModel] = {}
    for key, (schema, name, path, sql, props) in found.items():
        refs = {f"{s.lower()}.{n.lower()}" for s, n in _REFERENCE.findall(_COMMENT.sub("", sql))}
        refs.discard(key)
        deps = tuple(sorted(r for r in refs if r in found))
        external = tuple(sorted(r for r in refs if r.split(".")[0] in EXTERNAL_SCHEMAS))
        unknown = sorted(r for r in refs if r not in found and r not in external)
        if unknown:
            raise ModelError(f"{path}: refers to unknown model(s) {', '.join(unknown)}")
        models[key] = SqlModel(
            schema=schema,
            name=name,
            path=path,
            sql=sql,
            materialized=props.get("materialized", "table"),
            grain=props.get("grain", ""),
            unique_key=tuple(props.get("unique_key") or ()),
            depends_on=deps,
            external_sources=external,
        )
    return models


def execution_order(models: dict[str, SqlModel]) -> list[str]:
    sorter = TopologicalSorter({key: set(m.depends_on) for key, m in models.items()})
    return list(sorter.static_order())


@dataclass(frozen=True)
class ModelRun:
    key: str
    seconds: float
    row_count: int | None


def run_model(con: duckdb.DuckDBPyConnection, model: SqlModel) -> ModelRun:
    started = time.perf_counter()
    kind = "view" if model.materialized == "view" else "table"
    existing = con.execute(
        "select table_type from information_schema.tables "
        "where table_schema = ? and table_name = ?",
        [model.schema, model.name],
    ).fetchall()
    try:
        if existing and (existing[0][0] == "VIEW") != (kind == "view"):
            con.execute(f"drop {'view' if existing[0][0] == 'VIEW' else 'table'} {model.key}")
        con.execute(f"create or replace {kind} {model.key} as\n{model.sql}")
    except duckdb.Error as exc:
        raise ModelError(f"{model.path.name} ({model.key}): {exc}") from exc
    rows = None
    if kind == "table":
        rows = con.execute(f"select count(*) from {model.key}").fetchall()[0][0]
    return ModelRun(model.key, time.perf_counter() - started, rows)


def run_models(
    con: duckdb.DuckDBPyConnection,
    models: dict[str, SqlModel] | None = None,
    only: set[str] | None = None,
) -> list[ModelRun]:
    """Run models in dependency order (all of them, or those in ``only``)."""
    models = models or load_models()
    return [run_model(con, models[key]) for key in execution_order(models)
            if only is None or key in only]
