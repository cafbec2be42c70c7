"""A model that breaks its ``_models.yml`` promise fails its ``model_keys`` check, naming the keys.

Fixture SQL roots (``load_models(root)``) run on a real in-memory DuckDB; the check is the one
the multi-assets emit.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from rostersync_pipeline.defs.checks.model_checks import MODEL_KEYS_CHECK, evaluate_model_keys
from rostersync_pipeline.lib.transform.sql_runner import ModelError, load_models, run_models
from rostersync_pipeline.lib.validate.model_promises import (
    SAMPLE_KEYS,
    check_all_promises,
    check_promises,
)

PEOPLE = """
select * from (values
    ('p1', 'student'), ('p2', 'student'), ('p2', 'educator'), ('p3', null), ('p4', 'student')
) as people(person_id, role)
"""
PROMISES = """
models:
  people:
    grain: one row per person
    unique_key: [person_id]
    not_null: [person_id, role]
    materialized: {materialized}
  roles:
    grain: one row per role
    unique_key: [role]
    not_null: [role]
"""


def built(root: Path, materialized: str = "table") -> duckdb.DuckDBPyConnection:
    folder = root / "marts" / "core"
    folder.mkdir(parents=True)
    (folder / "people.sql").write_text(PEOPLE, encoding="utf-8")
    (folder / "roles.sql").write_text(
        "select distinct role from core.people where role is not null", encoding="utf-8")
    (folder / "_models.yml").write_text(PROMISES.format(materialized=materialized),
                                        encoding="utf-8")
    con = duckdb.connect()
    con.execute("create schema core")
    run_models(con, load_models(root))
    return con


def check(con: duckdb.DuckDBPyConnection, root: Path, key: str) -> dg.AssetCheckResult:
    return evaluate_model_keys(con, load_models(root)[key], dg.AssetKey(key.split(".")))


@pytest.mark.parametrize("materialized", ["table", "view"])
def test_a_duplicate_key_and_a_null_fail_the_check_with_the_offending_keys(
    tmp_path: Path, materialized: str
) -> None:
    con = built(tmp_path, materialized)
    result = check(con, tmp_path, "core.people")
    assert (result.check_name, result.passed) == (MODEL_KEYS_CHECK, False)
    assert result.severity == dg.AssetCheckSeverity.ERROR
    metadata = {key: value.value for key, value in result.metadata.items()}
    assert metadata["rows_checked"] == 5
    assert metadata["duplicate_keys"] == 1
    assert metadata["duplicate_key_sample"] == [{"person_id": "p2"}]
    assert (metadata["nulls/person_id"], metadata["nulls/role"]) == (0, 1)
    assert metadata["null_key_sample"] == [{"person_id": "p3"}]


def test_a_kept_promise_passes(tmp_path: Path) -> None:
    con = built(tmp_path)
    result = check(con, tmp_path, "core.roles")
    assert result.passed
    assert {key: value.value for key, value in result.metadata.items()} == {
        "rows_checked": 2, "duplicate_keys": 0, "nulls/role": 0}


def test_the_sample_of_offending_keys_is_capped(tmp_path: Path) -> None:
    con = built(tmp_path)
    con.execute("insert into core.people select 'p' || i, 'student' from range(100, 120) t(i) "
                "cross join range(2)")
    metadata = check(con, tmp_path, "core.people").metadata
    assert metadata["duplicate_keys"].value == 21
    assert len(metadata["duplicate_key_sample"].value) == SAMPLE_KEYS


def test_a_promise_on_a_missing_column_names_the_yaml(tmp_path: Path) -> None:
    con = built(tmp_path)
    (tmp_path / "marts" / "core" / "_models.yml").write_text(
        PROMISES.format(materialized="table").replace("not_null: [role]", "not_null: [rol]"),
        encoding="utf-8")
    load_models.cache_clear()
    with pytest.raises(ModelError, match=r"_models\.yml \(core\.roles\).*rol"):
        check(con, tmp_path, "core.roles")


def test_an_empty_table_keeps_its_promises_but_a_missing_column_is_still_named(
        tmp_path: Path) -> None:
    """A build that reported 0 rows is not aggregated again; its promised columns are still
    looked up, so a YAML naming a column the model lacks fails on an empty table too."""
    con = built(tmp_path)
    con.execute("delete from core.roles")
    model = load_models(tmp_path)["core.roles"]
    result = evaluate_model_keys(con, model, dg.AssetKey(["core", "roles"]), rows=0)
    assert result.passed and result.metadata["rows_checked"].value == 0
    (tmp_path / "marts" / "core" / "_models.yml").write_text(
        PROMISES.format(materialized="table").replace("not_null: [role]\n", "not_null: [rol]\n"),
        encoding="utf-8")
    load_models.cache_clear()
    with pytest.raises(ModelError, match=r"_models\.yml \(core\.roles\).*rol"):
        evaluate_model_keys(con, load_models(tmp_path)["core.roles"],
                            dg.AssetKey(["core", "roles"]), rows=0)


@pytest.mark.parametrize("materialized", ["table", "view"])
def test_measured_together_each_model_gets_the_outcome_it_gets_alone(
    tmp_path: Path, materialized: str
) -> None:
    """Small tables are measured in one query; a broken one (samples and all), a view and an
    empty table end up exactly as when each is checked on its own."""
    con = built(tmp_path, materialized)
    models = list(load_models(tmp_path).values())
    rows = {"core.people": None if materialized == "view" else 5, "core.roles": 2}
    alone = {m.key: check_promises(con, m, rows[m.key]) for m in models}
    assert check_all_promises(con, models, rows) == alone
    assert not alone["core.people"].kept and alone["core.roles"].kept
    con.execute("delete from core.roles")
    assert check_all_promises(con, models, {**rows, "core.roles": 0})["core.roles"] == (
        check_promises(con, load_models(tmp_path)["core.roles"], 0))


def test_measured_together_a_promise_on_a_missing_column_still_names_the_yaml(
        tmp_path: Path) -> None:
    con = built(tmp_path)
    (tmp_path / "marts" / "core" / "_models.yml").write_text(
        PROMISES.format(materialized="table").replace("not_null: [role]\n", "not_null: [rol]\n"),
        encoding="utf-8")
    load_models.cache_clear()
    with pytest.raises(ModelError, match=r"_models\.yml \(core\.roles\).*rol"):
        check_all_promises(con, list(load_models(tmp_path).values()),
                           {"core.people": 5, "core.roles": 2})
