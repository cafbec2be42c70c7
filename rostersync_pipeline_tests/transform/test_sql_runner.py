"""The runner's two documented mechanisms, on fixture SQL roots and a real in-memory DuckDB:
``{{ union_staging('<entity>') }}`` and the DuckDB macros of ``macros/``."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from rostersync_pipeline.lib.transform.sql_runner import (
    SQL_ROOT,
    ModelError,
    load_macros,
    load_models,
    run_macros,
    run_models,
)

UNIONED = """
with unioned as (
    {{ union_staging('users') }}
)
select * from unioned
"""


def write_models(root: Path, files: dict[str, str]) -> Path:
    for name, sql in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql, encoding="utf-8")
    return root


def test_union_staging_takes_every_provider_folder_that_has_the_model(tmp_path: Path) -> None:
    root = write_models(tmp_path, {
        "staging/alpha/stg_alpha__users.sql": "select 'a1' as user_source_id",
        "staging/beta/stg_beta__users.sql": "select 'b1' as user_source_id, 'x' as extra",
        "staging/gamma/stg_gamma__schools.sql": "select 'g1' as school_source_id",
        "intermediate/int_users_unioned.sql": UNIONED,
    })
    model = load_models(root)["intermediate.int_users_unioned"]
    assert model.depends_on == ("staging.stg_alpha__users", "staging.stg_beta__users")
    assert "{{" not in model.sql
    con = duckdb.connect()
    for schema in ("staging", "intermediate"):
        con.execute(f"create schema {schema}")
    run_models(con, load_models(root))
    assert con.execute("select provider, user_source_id, extra from intermediate.int_users_unioned "
                       "order by all").fetchall() == [("alpha", "a1", None), ("beta", "b1", "x")]


@pytest.mark.parametrize(("template", "message"), [
    ("{{ ref('stg_alpha__users') }}", r"broken\.sql: unknown template .*ref"),
    ("{{ union_staging('pets') }}", r"broken\.sql: union_staging\('pets'\): no staging model"),
])
def test_an_unknown_template_fails_with_its_file(
    tmp_path: Path, template: str, message: str
) -> None:
    root = write_models(tmp_path, {
        "staging/alpha/stg_alpha__users.sql": "select 1 as user_source_id",
        "intermediate/broken.sql": f"select * from ({template})",
    })
    with pytest.raises(ModelError, match=message):
        load_models(root)


def test_the_intermediate_unions_name_no_provider() -> None:
    """Adding a provider touches its adapter and its staging models, not intermediate/."""
    providers = sorted(p.name for p in (SQL_ROOT / "staging").iterdir() if p.is_dir())
    models = load_models()
    unions = {key: m for key, m in models.items() if m.name.endswith("_unioned")}
    assert len(unions) == 6
    for key, model in unions.items():
        text = model.path.read_text(encoding="utf-8").lower()
        assert not [p for p in providers if p in text], key
        entity = model.name.removeprefix("int_").removesuffix("_unioned")
        assert set(model.depends_on) == {f"staging.stg_{p}__{entity}" for p in providers}, key


def test_macros_run_before_the_models(tmp_path: Path) -> None:
    root = write_models(tmp_path, {
        "macros/doubled.sql": "-- twice x\ncreate or replace macro doubled(x) as x * 2;",
        "marts/core/answer.sql": "select doubled(21) as answer",
    })
    assert [m.name for m in load_macros(root)] == ["doubled"]
    con = duckdb.connect()
    con.execute("create schema core")
    run_models(con, load_models(root))
    assert con.execute("select answer from core.answer").fetchall() == [(42,)]


@pytest.mark.parametrize(("sql", "message"), [
    ("select 1", "holds one `create or replace macro"),
    ("create or replace macro users_of(r) as table select * from core.users",
     "must not refer to tables"),
])
def test_a_macro_file_holds_one_macro_that_names_no_table(
    tmp_path: Path, sql: str, message: str
) -> None:
    root = write_models(tmp_path, {"macros/bad.sql": sql})
    with pytest.raises(ModelError, match=rf"bad\.sql: .*{message}"):
        load_macros(root)


PLAN_ACTION_CASES = [
    # description, (is_new, is_deleted, import_rule, may_deactivate, roster_status, origin,
    #               changed_fields), expected
    ("new record", (True, False, "create_update", False, None, None, []), "create"),
    ("new but deleted at the source", (True, True, "create_update", True, None, None, []), "skip"),
    ("new under update_only", (True, False, "update_only", False, None, None, []), "skip"),
    ("deleted, sync-made, may deactivate",
     (False, True, "create_update_deactivate", True, "active", "sync", []), "deactivate"),
    ("deleted, but deactivations not allowed",
     (False, True, "create_update", False, "active", "sync", []), "unchanged"),
    ("deleted, made by hand in the app",
     (False, True, "create_update_deactivate", True, "active", "manual", []), "unchanged"),
    ("deleted and already inactive",
     (False, True, "create_update_deactivate", True, "inactive", "sync", []), "unchanged"),
    ("back after a deactivation",
     (False, False, "create_update", False, "inactive", "sync", ["email"]), "reactivate"),
    ("a synced field differs", (False, False, "create_update", False, "active", "sync",
                                ["email"]), "update"),
    ("nothing differs", (False, False, "create_update", False, "active", "sync", []),
     "unchanged"),
]


@pytest.mark.parametrize(("description", "inputs", "expected"), PLAN_ACTION_CASES,
                         ids=[case[0] for case in PLAN_ACTION_CASES])
def test_plan_action(description: str, inputs: tuple, expected: str) -> None:
    con = duckdb.connect()
    run_macros(con, load_macros())
    action = con.execute("select plan_action(?, ?, ?, ?, ?, ?, ?::varchar[])",
                         list(inputs)).fetchall()[0][0]
    assert action == expected, description
