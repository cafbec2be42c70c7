"""The code location: every SQL model is an asset, schedules and sensors behave, configs validate."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from pathlib import Path

import dagster as dg
import pytest
import yaml

from rostersync_pipeline.config import ConfigError, load_district_config
from rostersync_pipeline.definitions import build_definitions
from rostersync_pipeline.defs.partitions import districts_partitions
from rostersync_pipeline.lib.transform.sql_runner import ModelError, execution_order, load_models

MINIMAL = {"district_id": "north-isd", "name": "North ISD", "timezone": "America/Chicago",
           "schedule": "30 1 * * *", "source": {"type": "oneroster_csv", "path": "bundle.zip"}}


def write_config(config_dir: Path, document: dict) -> Path:
    config_dir.mkdir(parents=True, exist_ok=True)
    path = config_dir / f"{document['district_id']}.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


@pytest.fixture
def defs(tmp_path: Path) -> dg.Definitions:
    write_config(tmp_path / "config", MINIMAL)
    write_config(tmp_path / "config", {**MINIMAL, "district_id": "south-usd",
                                       "timezone": "America/Los_Angeles",
                                       "source": {"type": "oneroster_csv",
                                                  "drop_folder": "drop/south"}})
    return build_definitions(str(tmp_path / "config"), str(tmp_path / "warehouse"))


def test_every_sql_model_is_an_asset_with_group_and_description(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    models = load_models()
    assert {m.replace(".", "/") for m in models} <= keys
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.group_name, key
        assert node.description, key


def test_model_edges_come_from_the_sql(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    parents = {k.to_user_string() for k in graph.get(dg.AssetKey(["core", "users"])).parent_keys}
    assert parents == {"intermediate/int_users_unioned", "intermediate/int_schools_unioned"}
    raw_parents = graph.get(dg.AssetKey(["staging", "stg_oneroster__users"])).parent_keys
    assert dg.AssetKey(["raw", "oneroster_users"]) in raw_parents
    order = execution_order(load_models())
    assert order.index("core.users") < order.index("sync.matches") < order.index("sync.sync_plan")


def test_a_model_referring_to_an_unknown_model_fails_with_its_file(tmp_path: Path) -> None:
    folder = tmp_path / "marts" / "core"
    folder.mkdir(parents=True)
    (folder / "broken.sql").write_text("select * from core.nowhere", encoding="utf-8")
    with pytest.raises(ModelError, match=r"broken\.sql.*core\.nowhere"):
        load_models(tmp_path)


def test_users_check_sits_on_core_users_and_every_model_checks_its_promises() -> None:
    """Apply reads the suite's verdict itself, so the check is not a Dagster blocking check."""
    from rostersync_pipeline.definitions import ASSETS

    specs = [spec for asset in ASSETS for spec in asset.check_specs]
    assert [(s.asset_key, s.name, s.blocking) for s in specs
            if s.name == "users_expectation_suite"] == [
        (dg.AssetKey(["core", "users"]), "users_expectation_suite", False)
    ]
    promising = {key.replace(".", "/") for key, model in load_models().items()
                 if model.unique_key or model.not_null}
    assert {s.asset_key.to_user_string() for s in specs if s.name == "model_keys"} == promising
    assert dg.AssetKey(["checks", "users_validated"]) not in {
        key for asset in ASSETS for key in asset.keys}


def test_bad_config_names_file_key_and_reason(tmp_path: Path) -> None:
    path = write_config(tmp_path, {**MINIMAL, "guard": {"max_deactivate_pct": 140},
                                   "match_keys": {"students": ["sis_id", "shoe_size"]}})
    with pytest.raises(ConfigError) as caught:
        load_district_config(path)
    message = str(caught.value)
    assert str(path) in message
    assert "key guard.max_deactivate_pct" in message and "less than or equal to 100" in message
    assert "key match_keys.students.1" in message
    bad_yaml = tmp_path / "broken.yaml"
    bad_yaml.write_text("district_id: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="broken.yaml: not valid YAML"):
        load_district_config(bad_yaml)
    renamed = write_config(tmp_path, {**MINIMAL, "district_id": "other"})
    renamed.rename(tmp_path / "elsewhere.yaml")
    with pytest.raises(ConfigError, match="key district_id: 'other' must match the file name"):
        load_district_config(tmp_path / "elsewhere.yaml")


def test_nightly_schedule_per_district_in_its_time_zone(defs: dg.Definitions) -> None:
    schedules = {s.name: s for s in defs.schedules}
    assert set(schedules) == {"nightly_north_isd", "nightly_south_usd"}
    north = schedules["nightly_north_isd"]
    assert (north.cron_schedule, north.execution_timezone) == ("30 1 * * *", "America/Chicago")
    assert schedules["nightly_south_usd"].execution_timezone == "America/Los_Angeles"
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(districts_partitions.name, ["north-isd"])
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime(2026, 11, 24, 1, 30),
            repository_def=defs.get_repository_def(),
        ) as context:
            request = north.evaluate_tick(context).run_requests[0]
    assert request.partition_key == "north-isd"
    assert request.tags["rostersync/district"] == "north-isd"


def test_district_partitions_follow_the_config_dir(defs: dg.Definitions, tmp_path: Path) -> None:
    sensor = defs.resolve_sensor_def("district_configs")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(districts_partitions.name, ["retired-district"])
        with dg.build_sensor_context(instance=instance, resources=defs.resources) as context:
            result = sensor.evaluate_tick(context)
        for request in result.dynamic_partitions_requests:
            if isinstance(request, dg.AddDynamicPartitionsRequest):
                instance.add_dynamic_partitions(request.partitions_def_name,
                                                list(request.partition_keys))
            else:
                for key in request.partition_keys:
                    instance.delete_dynamic_partition(request.partitions_def_name, key)
        assert sorted(instance.get_dynamic_partitions("districts")) == ["north-isd", "south-usd"]


def test_drop_folder_sensor_runs_each_new_bundle_once(defs: dg.Definitions, tmp_path: Path) -> None:
    drop = tmp_path / "config" / "drop" / "south"
    drop.mkdir(parents=True)
    sensor = defs.resolve_sensor_def("drop_folder")

    def tick(instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
        # called directly: returns the sensor's own result (cursor and run requests)
        with dg.build_sensor_context(instance=instance, cursor=cursor,
                                     resources=defs.resources) as context:
            return sensor(context)

    def bundles(result: dg.SensorResult) -> list[str]:
        return [Path(r.run_config["ops"]["land_raw_roster"]["config"]["bundle_path"]).name
                for r in result.run_requests]

    with dg.instance_for_test() as instance:
        first = tick(instance, None)
        assert first.run_requests == []
        (drop / "roster-monday.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
        second = tick(instance, first.cursor)
        assert [r.partition_key for r in second.run_requests] == ["south-usd"]
        assert bundles(second) == ["roster-monday.zip"]
        third = tick(instance, second.cursor)
        assert third.run_requests == []
        later = drop / "roster-tuesday.zip"
        later.write_bytes(b"PK\x05\x06" + b"\0" * 18)
        os.utime(later, (time.time() + 5, time.time() + 5))
        fourth = tick(instance, third.cursor)
        assert bundles(fourth) == ["roster-tuesday.zip"]
        assert len(json.loads(fourth.cursor)["south-usd"]) == 2


def test_one_bad_district_config_does_not_stop_the_others(tmp_path: Path) -> None:
    write_config(tmp_path / "config", MINIMAL)
    write_config(tmp_path / "config", {**MINIMAL, "district_id": "broken-district",
                                       "timezone": "Mars/Olympus_Mons"})
    defs = build_definitions(str(tmp_path / "config"), str(tmp_path / "warehouse"))
    assert [s.name for s in defs.schedules] == ["nightly_north_isd"]


def test_unquoted_on_key_in_notifications_is_read_as_on(tmp_path: Path) -> None:
    path = tmp_path / "north-isd.yaml"
    path.write_text(yaml.safe_dump(MINIMAL) + "notifications:\n  emails: [ops@example.org]\n"
                    "  on: [failed]\n", encoding="utf-8")
    assert load_district_config(path).notifications.on == ["failed"]


def test_required_field_names_are_checked(tmp_path: Path) -> None:
    path = write_config(tmp_path, {**MINIMAL, "required_fields": {"students": ["frist_name"]}})
    with pytest.raises(ConfigError, match="key required_fields.students.0"):
        load_district_config(path)


def test_step_hooks_report_to_listeners_and_are_left_out_when_nobody_listens(
        defs: dg.Definitions) -> None:
    """The progress hooks only serve in-process listeners (the CLI's bar, the console's worker):
    the sync job carries none, so UI and scheduled runs log no hook events."""
    from rostersync_pipeline.defs.jobs import SYNC_JOB_NAME
    from rostersync_pipeline.defs.progress import (
        add_step_listener,
        remove_step_listener,
        with_step_hooks,
    )

    assert not defs.resolve_job_def(SYNC_JOB_NAME).hook_defs

    @dg.op
    def first() -> int:
        return 1

    @dg.op
    def second(value: int) -> int:
        return value + 1

    @dg.job
    def two_steps() -> None:
        second(first())

    def hook_events(result: dg.ExecuteInProcessResult) -> list[str]:
        return [e.event_type_value for e in result.all_events if "HOOK" in e.event_type_value]

    assert with_step_hooks(two_steps) is two_steps
    assert hook_events(two_steps.execute_in_process()) == []
    heard: list[tuple[str, bool]] = []

    def listener(step_key: str, succeeded: bool) -> None:
        heard.append((step_key, succeeded))

    add_step_listener(listener)
    try:
        result = with_step_hooks(two_steps).execute_in_process()
    finally:
        remove_step_listener(listener)
    assert heard == [("first", True), ("second", True)]
    assert "HOOK_COMPLETED" in hook_events(result)
