"""Runs the SQL models in ``dbt_like_sql/`` in dependency order.

A model is one ``select``; the runner wraps it in ``create or replace table|view
<schema>.<name>``. Models refer to each other by schema-qualified name; those references are
the dependency edges (the Dagster asset graph is built from the same edges).

Two small mechanisms keep repeated SQL in one place (both documented in
``dbt_like_sql/README.md``):

- ``{{ union_staging('<entity>') }}`` in a model expands, at load time, to one
  ``select '<provider>' as provider, * from staging.stg_<provider>__<entity>`` per provider
  folder under ``staging/`` that has that model, joined by ``union all by name``. Dependencies are
  derived from the expanded SQL. Any other ``{{ ... }}`` is a :class:`ModelError`.
- ``macros/*.sql`` hold one ``create or replace macro`` each (DuckDB SQL macros); the runner
  executes them before the models.
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
MACRO_FOLDER = "macros"
EXTERNAL_SCHEMAS = ("raw", "config", "roster")
MATERIALIZATIONS = ("table", "view")
_REFERENCE = re.compile(
    r"\b(raw|config|roster|staging|intermediate|core|sync)\.([a-z_][a-z0-9_]*)\b", re.IGNORECASE
)
_COMMENT = re.compile(r"--[^\n]*")
_TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_UNION_STAGING = re.compile(r"\s*union_staging\(\s*'([a-z][a-z0-9_]*)'\s*\)\s*")
_STAGING_NAME = re.compile(r"stg_([a-z][a-z0-9_]*?)__([a-z][a-z0-9_]*)")
_MACRO = re.compile(r"create\s+or\s+replace\s+macro\s+([a-z_][a-z0-9_]*)\s*\(", re.IGNORECASE)
# libyaml's safe loader when PyYAML has it: the same documents, a tenth of the time
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ModelError(RuntimeError):
    """A SQL model failed; the message names the model file."""


@dataclass(frozen=True)
class SqlModel:
    """One model: its SQL as run (templates expanded) and its ``_models.yml`` properties."""

    schema: str
    name: str
    path: Path
    root: Path
    sql: str
    materialized: str
    grain: str
    unique_key: tuple[str, ...]
    not_null: tuple[str, ...] = field(default=())
    depends_on: tuple[str, ...] = field(default=())
    external_sources: tuple[str, ...] = field(default=())

    @property
    def key(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def group(self) -> str:
        return {"staging": "staging", "intermediate": "intermediate"}.get(self.schema, self.schema)


@dataclass(frozen=True)
class SqlMacro:
    """One DuckDB SQL macro from ``macros/``: its name and its ``create or replace macro``."""

    name: str
    path: Path
    sql: str


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
    text = props_path.read_text(encoding="utf-8")
    models = (yaml.load(text, Loader=_YAML_LOADER) or {}).get("models") or {}
    if isinstance(models, list):  # dbt's own layout: a list of {name: ..., ...}
        return {spec["name"]: spec for spec in models}
    return {name: spec or {} for name, spec in models.items()}


def _read_sql(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip().rstrip(";")


def _staging_providers(root: Path) -> dict[str, list[str]]:
    """Entity -> providers whose folder ``staging/<provider>/`` has ``stg_<provider>__<entity>``."""
    providers: dict[str, list[str]] = {}
    for path in sorted((root / "staging").glob("*/stg_*.sql")):
        name = _STAGING_NAME.fullmatch(path.stem)
        if name and name.group(1) == path.parent.name:
            providers.setdefault(name.group(2), []).append(name.group(1))
    return providers


def _expand(path: Path, sql: str, providers: dict[str, list[str]]) -> str:
    def union_staging(template: re.Match) -> str:
        call = _UNION_STAGING.fullmatch(template.group(1))
        if call is None:
            raise ModelError(f"{path}: unknown template {template.group(0)!r}; the runner "
                             "knows only {{ union_staging('<entity>') }}")
        entity = call.group(1)
        if entity not in providers:
            raise ModelError(f"{path}: union_staging('{entity}'): no staging model "
                             f"staging/<provider>/stg_<provider>__{entity}.sql")
        return "\nunion all by name\n".join(
            f"select '{provider}' as provider, * from staging.stg_{provider}__{entity}"
            for provider in providers[entity]
        )

    return _TEMPLATE.sub(union_staging, sql)


@cache
def load_models(root: Path = SQL_ROOT) -> dict[str, SqlModel]:
    """Every model under ``root`` by ``schema.name``, templates expanded, dependencies resolved."""
    providers = _staging_providers(root)
    properties: dict[Path, dict[str, dict]] = {}
    found: dict[str, tuple[str, str, Path, str, dict]] = {}
    for path in sorted(root.rglob("*.sql")):
        if path.relative_to(root).parts[0] == MACRO_FOLDER:
            continue
        schema = _schema_for(path, root)
        if path.parent not in properties:
            properties[path.parent] = _load_properties(path.parent)
        props = properties[path.parent].get(path.stem, {})
        key = f"{schema}.{path.stem}"
        if key in found:
            raise ModelError(f"{path}: model {key} is defined twice")
        found[key] = (schema, path.stem, path, _expand(path, _read_sql(path), providers), props)
    models: dict[str, SqlModel] = {}
    for key, (schema, name, path, sql, props) in found.items():
        refs = {f"{s.lower()}.{n.lower()}" for s, n in _REFERENCE.findall(_COMMENT.sub("", sql))}
        refs.discard(key)
        deps = tuple(sorted(r for r in refs if r in found))
        external = tuple(sorted(r for r in refs if r.split(".")[0] in EXTERNAL_SCHEMAS))
        unknown = sorted(r for r in refs if r not in found and r not in external)
        if unknown:
            raise ModelError(f"{path}: refers to unknown model(s) {', '.join(unknown)}")
        materialized = props.get("materialized", "table")
        if materialized not in MATERIALIZATIONS:
            raise ModelError(f"{path.parent / '_models.yml'} ({key}): materialized is "
                             f"{materialized!r}, not one of {', '.join(MATERIALIZATIONS)}")
        models[key] = SqlModel(
            schema=schema,
            name=name,
            path=path,
            root=root,
            sql=sql,
            materialized=materialized,
            grain=props.get("grain", ""),
            unique_key=tuple(props.get("unique_key") or ()),
            not_null=tuple(props.get("not_null") or ()),
            depends_on=deps,
            external_sources=external,
        )
    return models


@cache
def load_macros(root: Path = SQL_ROOT) -> tuple[SqlMacro, ...]:
    """The macros of ``root/macros/``: one ``create or replace macro`` per file, naming no model."""
    macros = []
    for path in sorted((root / MACRO_FOLDER).glob("*.sql")):
        sql = _read_sql(path)
        statement = _MACRO.match(_COMMENT.sub("", sql).strip())
        if statement is None:
            raise ModelError(f"{path}: a macro file holds one `create or replace macro name(...)`")
        if _REFERENCE.search(_COMMENT.sub("", sql)):
            raise ModelError(f"{path}: a macro must not refer to tables (macros run before models)")
        macros.append(SqlMacro(statement.group(1).lower(), path, sql))
    return tuple(macros)


def execution_order(models: dict[str, SqlModel]) -> list[str]:
    sorter = TopologicalSorter({key: set(m.depends_on) for key, m in models.items()})
    return list(sorter.static_order())


@dataclass(frozen=True)
class ModelRun:
    key: str
    seconds: float
    row_count: int | None


def run_macros(con: duckdb.DuckDBPyConnection, macros: tuple[SqlMacro, ...]) -> None:
    """Create (or replace) the macros in ``con``'s database, where the models can call them."""
    for macro in macros:
        try:
            con.execute(macro.sql)
        except duckdb.Error as exc:
            raise ModelError(f"{macro.path.name} (macro {macro.name}): {exc}") from exc


def existing_relations(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """``schema.name`` -> ``VIEW`` / ``BASE TABLE`` of every relation in the file (one query)."""
    return {f"{schema}.{name}": kind for schema, name, kind in con.execute(
        "select table_schema, table_name, table_type from information_schema.tables"
    ).fetchall()}


def run_model(
    con: duckdb.DuckDBPyConnection, model: SqlModel, existing: dict[str, str] | None = None
) -> ModelRun:
    """Create or replace the model's table or view; a table's row count comes back with it."""
    started = time.perf_counter()
    kind = "view" if model.materialized == "view" else "table"
    current = (existing_relations(con) if existing is None else existing).get(model.key)
    try:
        if current and (current == "VIEW") != (kind == "view"):
            con.execute(f"drop {'view' if current == 'VIEW' else 'table'} {model.key}")
        created = con.execute(f"create or replace {kind} {model.key} as\n{model.sql}").fetchall()
    except duckdb.Error as exc:
        raise ModelError(f"{model.path.name} ({model.key}): {exc}") from exc
    rows = created[0][0] if kind == "table" and created else None
    return ModelRun(model.key, time.perf_counter() - started, rows)


def run_models(
    con: duckdb.DuckDBPyConnection,
    models: dict[str, SqlModel] | None = None,
    only: set[str] | None = None,
) -> list[ModelRun]:
    """Run the macros of the models' root, then the models in dependency order (all of them,
    or those in ``only``)."""
    models = models or load_models()
    for root in sorted({model.root for model in models.values()}):
        run_macros(con, load_macros(root))
    existing = existing_relations(con)
    return [run_model(con, models[key], existing) for key in execution_order(models)
            if only is None or key in only]
