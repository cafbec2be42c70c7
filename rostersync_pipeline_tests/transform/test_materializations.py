"""A model is built as what its ``_models.yml`` says (``table``, the default, or ``view``), also
in a district file that holds it as the other kind; any other value is refused by name."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from rostersync_pipeline.lib.transform.sql_runner import (
    SQL_ROOT,
    ModelError,
    existing_relations,
    load_models,
    run_models,
)


def write_root(root: Path, materialized: str | None) -> Path:
    folder = root / "staging" / "alpha"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stg_alpha__users.sql").write_text("select 'a1' as user_source_id", encoding="utf-8")
    line = f"    materialized: {materialized}\n" if materialized else ""
    (folder / "_models.yml").write_text(
        f"models:\n  stg_alpha__users:\n    grain: one row per user\n{line}", encoding="utf-8")
    return root


@pytest.mark.parametrize(("before", "after", "kind"), [
    ("view", None, "BASE TABLE"),
    ("table", "view", "VIEW"),
])
def test_the_relation_takes_the_kind_the_yaml_names(
    tmp_path: Path, before: str, after: str | None, kind: str
) -> None:
    con = duckdb.connect()
    con.execute("create schema staging")
    run_models(con, load_models(write_root(tmp_path / "before", before)))
    run_models(con, load_models(write_root(tmp_path / "after", after)))
    assert existing_relations(con)["staging.stg_alpha__users"] == kind
    assert con.execute("select * from staging.stg_alpha__users").fetchall() == [("a1",)]


def test_an_unknown_materialization_is_refused_naming_the_yaml(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"_models\.yml \(staging\.stg_alpha__users\): "
                                         r"materialized is 'veiw'"):
        load_models(write_root(tmp_path, "veiw"))


def test_only_the_documented_models_are_views() -> None:
    """The views docs/tables.md and dbt_like_sql/README.md name, and no other model."""
    models = load_models(SQL_ROOT)
    views = {key for key, model in models.items() if model.materialized == "view"}
    staging_views = {key for key in models if key.startswith("staging.")
                     and not key.endswith(("__users", "__terms"))}
    assert views == staging_views | {
        "intermediate.int_org_types", "intermediate.int_people", "core.enrollments",
        "sync.explain_matches"}
    assert len(staging_views) == 12  # schools, sections, enrollments, courses of three providers
