"""What a model's reuse rests on (``lib/transform/incremental.py``), and ``sync --full``.

The equality of reused and rebuilt models over many nights is proven in
``test_incremental_equality.py``; these tests pin the assumptions that make it hold: the models
read nothing that changes by itself (a clock, randomness), the run id is only copied onto rows,
a model's version sees every input it reads, directly or through the models beneath it, and
nothing that differs between runs by design.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from rostersync_pipeline.cli.main import main as cli_main
from rostersync_pipeline.defs.transform.assets import MODELS, model_stage
from rostersync_pipeline.lib.transform.incremental import model_versions, stage_inputs
from rostersync_pipeline_tests.helpers import make_synthetic_district

STAGES = {stage: {k for k, m in MODELS.items() if model_stage(m) == stage}
          for stage in ("normalize", "match_and_plan")}
_COMMENT = re.compile(r"--[^\n]*")
VOLATILE = re.compile(r"\b(?:(?:now|today|get_current_time|random|uuid|gen_random_uuid|setseed)"
                      r"\s*\(|current_(?:date|time|timestamp)\b)", re.IGNORECASE)
# the models that copy config.run's id onto their rows; a reused stage sets it to the new run's
RUN_ID_COPIED_BY = {"sync.run_errors", "sync.id_changes", "sync.sync_plan"}


def test_no_model_reads_a_clock_or_randomness() -> None:
    found = {key: VOLATILE.findall(_COMMENT.sub("", m.sql)) for key, m in MODELS.items()}
    assert {k: v for k, v in found.items() if v} == {}


def test_only_the_known_models_take_the_run_id_and_they_copy_it_as_is() -> None:
    takers = {key for key, m in MODELS.items()
              if re.search(r"(?<![a-z_])run_id\b", _COMMENT.sub("", m.sql))}
    assert takers == RUN_ID_COPIED_BY
    for key in takers:
        sql = _COMMENT.sub("", MODELS[key].sql)
        uses = re.findall(r"[a-z_.]*(?<![a-z_])run_id\b[^,\n]*", sql)
        assert set(uses) <= {"run_id from config.run", "run.run_id"}, (key, uses)


def test_a_model_reads_the_run_date_only_if_it_or_a_model_beneath_it_does() -> None:
    con = duckdb.connect()
    con.execute("create schema config")
    versions = {}
    for day in ("2026-09-01", "2026-09-02"):
        con.execute("create or replace table config.run as select 'r' as run_id, "
                    "'oneroster_csv' as provider, true as fetch_complete, 'healthy' as "
                    f"provider_state, timestamp '{day} 02:00' as started_at")
        versions[day] = {key: version for keys in STAGES.values()
                         for key, version in model_versions(con, MODELS, keys).items()}
    changed = {key for key in versions["2026-09-01"]
               if versions["2026-09-01"][key] != versions["2026-09-02"][key]}
    assert {"staging.stg_oneroster__users", "staging.stg_oneroster__terms",
            "intermediate.int_users_unioned", "core.users"} <= changed
    assert not {key for key in changed if key.startswith("sync.")}  # matching reads no date
    assert "staging.stg_oneroster__schools" not in changed
    con.execute("update config.run set run_id = 'another run', "
                "started_at = timestamp '2026-09-02 23:59'")
    assert model_versions(con, MODELS, STAGES["normalize"]) == {
        key: versions["2026-09-02"][key] for key in STAGES["normalize"]}


def test_the_digest_covers_what_the_stages_read() -> None:
    normalize, match = (set(stage_inputs(MODELS, STAGES[s])) for s in STAGES)
    assert {"raw.oneroster_users", "raw.clever_users", "config.run"} <= normalize
    assert {"core.users", "core.enrollments", "roster.users", "roster.match_decisions",
            "config.match_keys", "config.fetch_entities"} <= match
    assert not match & STAGES["match_and_plan"]


def test_a_landed_row_counts_without_its_run_id_and_changes_only_what_reads_it() -> None:
    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute("create table raw.oneroster_users as select 'run-1' as _run_id, 'u1' as sourcedId")
    before = model_versions(con, MODELS, STAGES["normalize"])
    con.execute("update raw.oneroster_users set _run_id = 'run-2'")
    assert model_versions(con, MODELS, STAGES["normalize"]) == before
    con.execute("update raw.oneroster_users set sourcedId = 'u2'")
    after = model_versions(con, MODELS, STAGES["normalize"])
    changed = {key for key in before if before[key] != after[key]}
    assert {"staging.stg_oneroster__users", "intermediate.int_users_unioned", "core.users",
            "core.guardians"} <= changed
    assert not changed & {"staging.stg_oneroster__enrollments", "core.schools", "core.terms",
                          "staging.stg_clever__users"}


def _built_by(district) -> dict[str, str]:
    return dict(district.query("select model, run_id from sync.model_builds"))


def test_sync_full_rebuilds_what_would_be_reused(tmp_path: Path, capsys) -> None:
    district, _ = make_synthetic_district(tmp_path, 40)
    for _ in range(3):
        assert district.sync().success
    last = district.scalar("select run_id from sync.runs order by started_at desc limit 1")
    builds = _built_by(district)
    assert builds["sync.sync_plan"] != last, "the third identical sync reused the plan"
    code = cli_main(["sync", district.district_id, "--full", "--config-dir",
                     str(district.config_dir), "--warehouse", str(district.warehouse_dir)])
    assert code == 0, capsys.readouterr()
    full = district.scalar("select run_id from sync.runs order by started_at desc limit 1")
    assert set(_built_by(district).values()) == {full}
    assert len(_built_by(district)) == len(MODELS)
    assert district.scalar("select count(*) from sync.sync_errors where run_id = ?", [full]) \
        == district.scalar("select count(*) from sync.sync_errors where run_id = ?", [last])


def _reads(key: str) -> set[str]:
    """Every relation ``key`` reads, directly or through the models beneath it."""
    seen: set[str] = set()
    todo = [key]
    while todo:
        model = MODELS[todo.pop()]
        for ref in {*model.depends_on, *model.external_sources} - seen:
            seen.add(ref)
            if ref in MODELS:
                todo.append(ref)
    return seen


def test_a_night_that_changed_only_the_roster_rebuilds_only_what_reads_it(tmp_path: Path) -> None:
    district, _ = make_synthetic_district(tmp_path, 40)
    first = district.sync()
    assert first.success and first.status == "applied"
    second = district.sync()  # the same export; the first sync's apply changed the roster
    assert second.success
    builds = _built_by(district)
    assert set(builds) == set(MODELS)
    rebuilt = {key for key, run_id in builds.items() if run_id == second.run_id}
    reads_roster = {key for key in MODELS if any(r.startswith("roster.") for r in _reads(key))}
    assert rebuilt <= reads_roster
    assert {"intermediate.int_match_keys_roster", "sync.matches", "sync.sync_plan"} <= rebuilt
    reused = set(MODELS) - rebuilt
    assert {key for key in MODELS if key not in reads_roster} <= reused
    assert {"core.users", "intermediate.int_match_keys_incoming"} <= reused
    assert {key for key in reused if builds[key] != first.run_id} == set()


def test_a_kept_build_whose_table_is_gone_or_broke_a_promise_is_built_again(
    tmp_path: Path,
) -> None:
    district, _ = make_synthetic_district(tmp_path, 40)
    first = district.sync()
    assert district.sync().success  # reuses normalize: only the roster changed
    before = district.roster_snapshot()
    users = district.query("select * from core.users order by user_source_id")
    district.query("drop table core.schools")
    district.query("update sync.model_builds set kept_promises = false "
                   "where model = 'core.terms'")
    third = district.sync()
    assert third.success and third.status == "applied", third.failure
    builds = _built_by(district)
    assert builds["core.schools"] == builds["core.terms"] == third.run_id
    assert builds["core.users"] == first.run_id
    assert district.query("select * from core.users order by user_source_id") == users
    assert district.roster_snapshot() == before
