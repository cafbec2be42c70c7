"""Config isolation: each bad district file is a ConfigError naming file, key and reason, and
one good district beside many bad ones keeps its schedule, partition, sensors, runs and CLI."""

from __future__ import annotations

import codecs
import logging
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import yaml

from rostersync_pipeline.cli.main import main as cli_main
from rostersync_pipeline.config import (
    MAX_NESTING,
    SOURCE_ROOTS_ENV,
    ConfigError,
    load_district_config,
    load_valid_district_configs,
    normalize_cron,
)
from rostersync_pipeline.definitions import build_definitions
from rostersync_pipeline.defs.partitions import districts_partitions
from rostersync_pipeline.resources.warehouse import RosterWarehouse
from rostersync_pipeline_tests.helpers import (
    District,
    enrollment,
    make_district,
    org,
    section,
    student,
    teacher,
    write_bundle,
)

GOOD = "good-district"

VALID_CRONS = [
    ("0 2 * * *", "0 2 * * *"),
    ("  30   1 * *  *\n", "30 1 * * *"),
    ("*/15 * * * *", "*/15 * * * *"),
    ("0 6-18/3 * * mon-fri", "0 6-18/3 * * mon-fri"),
    ("0 2 1,15 JAN,jul *", "0 2 1,15 JAN,jul *"),
    ("0 2 * * 7", "0 2 * * 7"),
    ("0 2 * * sun-sat", "0 2 * * sun-sat"),
    ("0 2 29 2 *", "0 2 29 2 *"),
    ("59 23 31 12 *", "59 23 31 12 *"),
]
INVALID_CRONS = [
    ("99 99 * * *", "minute: 99 is outside 0-59"),
    ("0 24 * * *", "hour: 24 is outside 0-23"),
    ("0 2 0 * *", "day of month: 0 is outside 1-31"),
    ("0 2 * 13 *", "month: 13 is outside 1-12"),
    ("0 2 * * 8", "day of week: 8 is outside 0-7"),
    ("0 2 * *", "has 4"),
    ("0 0 2 * * *", "has 6"),
    ("@daily", "has 1"),
    ("*/0 * * * *", "minute: step '0' must be a number from 1 to 59"),
    ("5/15 * * * *", "a step needs '*' or a range"),
    ("0 2 * * fri-mon", "range fri-mon runs backwards"),
    ("0 2 ? * *", "day of month: '?' is not a number"),
    ("0 0 L * *", "day of month: 'L' is not a number"),
    ("0 2 * * 1#2", "day of week: '1#2' is not a number or a name"),
    ("0 2 1,,2 * *", "day of month: '' is not a number"),
    ("0 2 * foo *", "month: 'foo' is not a number or a name (jan, feb"),
    ("0 2 30 2 *", "day of month 30 never occurs in month 2"),
    ("0 2 31 4,6,9,11 *", "never occurs"),
    ("0 ² * * *", "hour: '²' is not a number"),
]


@pytest.mark.parametrize(("cron", "normalized"), VALID_CRONS)
def test_a_valid_cron_is_normalized_and_dagster_accepts_it(cron: str, normalized: str) -> None:
    assert normalize_cron(cron) == normalized

    @dg.job
    def noop() -> None: ...

    assert dg.ScheduleDefinition(name="s", cron_schedule=normalized, job=noop).cron_schedule == (
        normalized)


@pytest.mark.parametrize(("cron", "reason"), INVALID_CRONS)
def test_an_invalid_cron_names_the_field_and_the_reason(cron: str, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        normalize_cron(cron)
    assert reason in str(caught.value)


def _config_text(district_id: str, **extra: object) -> str:
    return yaml.safe_dump({"district_id": district_id, "name": f"District {district_id}",
                           "source": {"type": "oneroster_csv", "path": "bundle.zip"}, **extra},
                          sort_keys=False)


def _alias_bomb(district_id: str) -> str:
    levels = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    levels += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 9)]
    return f"district_id: {district_id}\nname: Bomb\ngrade_codes:\n" + "".join(
        f"  {level}\n" for level in levels)


def _nested(district_id: str) -> str:
    depth = MAX_NESTING + 3
    return f"district_id: {district_id}\nname: Deep\ngrade_codes: {'{a: ' * depth}1{'}' * depth}\n"


@dataclass(frozen=True)
class BadFile:
    """A district file with one fault and the fragments its ConfigError must contain."""

    content: bytes
    expected: tuple[str, ...]


BAD_FILES = {
    "bad-cron": BadFile(_config_text("bad-cron", schedule="99 99 * * *").encode(),
                        ("key schedule", "minute: 99 is outside 0-59")),
    "latin-1": BadFile(_config_text("latin-1").encode().replace(b"District latin-1",
                                                                 "Caf\u00e9 district".encode("cp1252")),
                       ("not UTF-8", "byte 0xe9", "line 2", "save it as UTF-8")),
    "dup-keys": BadFile(
        b"district_id: dup-keys\nname: Dup\nguard:\n  max_deactivate_pct: 5\n"
        b"  max_update_pct: 50\n  max_deactivate_pct: 90\n",
        ("key guard.max_deactivate_pct (line 6)", "duplicate key (first at line 4)")),
    "deep-nesting": BadFile(_nested("deep-nesting").encode(),
                            ("key grade_codes.a.a", f"nested deeper than {MAX_NESTING} levels")),
    "alias-bomb": BadFile(_alias_bomb("alias-bomb").encode(),
                          ("key grade_codes.a0 (line 4)", "anchors and aliases")),
    "newline-id": BadFile(_config_text("newline-id\n").encode(),
                          ("key district_id", "'newline-id\\n'", "no spaces or line breaks")),
    "a-b": BadFile(_config_text("a-b").encode(),
                   ("key district_id", "a_b.yaml", "same Dagster name 'a_b'")),
    "a_b": BadFile(_config_text("a_b").encode(),
                   ("key district_id", "a-b.yaml", "same Dagster name 'a_b'")),
    "outside-roots": BadFile(_config_text("outside-roots",
                                          source={"path": "/srv/elsewhere/bundle"}).encode(),
                             ("key source.path", "/srv/elsewhere/bundle",
                              "outside the allowed source roots", SOURCE_ROOTS_ENV)),
    "no-guardian-keys": BadFile(_config_text("no-guardian-keys",
                                             match_keys={"guardians": []}).encode(),
                                ("key match_keys.guardians", "at least one match key")),
    "repeated-keys": BadFile(_config_text("repeated-keys",
                                          match_keys={"schools": ["name", "name"]}).encode(),
                             ("key match_keys.schools", "must not repeat")),
    "negative-recompute": BadFile(_config_text("negative-recompute",
                                               full_recompute_days=-1).encode(),
                                  ("key full_recompute_days", "greater than or equal to 0")),
    "recompute-word": BadFile(_config_text("recompute-word",
                                           full_recompute_days="weekly").encode(),
                              ("key full_recompute_days", "valid integer")),
    "too-big": BadFile(_config_text("too-big").encode() + b"#" * 300_000,
                       ("larger than 256 KiB",)),
    "Not An Id": BadFile(_config_text("not-an-id").encode(),
                         ("key district_id", "must match the file name ('Not An Id')")),
}


@dataclass(frozen=True)
class ConfigDir:
    """One good district (its file written with a BOM) beside every file of BAD_FILES."""

    good: District
    roots: list[str]
    drop_folder: Path

    @property
    def config_dir(self) -> Path:
        return self.good.config_dir

    def path(self, stem: str) -> Path:
        return self.config_dir / f"{stem}.yaml"


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ConfigDir:
    sources = tmp_path / "sources"
    users = [teacher("t1", "sch1"), student("s1", "sch1"), student("s2", "sch1")]
    bundle = write_bundle(
        sources / "bundle",
        orgs=[org("sch1", "North High")],
        users=users,
        classes=[section("sec1", "sch1")],
        enrollments=[enrollment(f"e-{u['sourcedId']}", "sec1", u["sourcedId"], "sch1",
                                role=u["role"]) for u in users],
    )
    drop_folder = sources / "drop"
    drop_folder.mkdir()
    good = make_district(tmp_path, bundle, GOOD, schools={"create_unmatched": True},
                         source={"drop_folder": str(drop_folder)})
    good_file = good.config_dir / f"{GOOD}.yaml"
    good_file.write_bytes(codecs.BOM_UTF8 + good_file.read_bytes())
    for stem, bad in BAD_FILES.items():
        (good.config_dir / f"{stem}.yaml").write_bytes(bad.content)
    roots = [str(sources)]
    monkeypatch.setenv(SOURCE_ROOTS_ENV, str(sources))
    return ConfigDir(good, roots, drop_folder)


@pytest.mark.parametrize("stem", sorted(BAD_FILES))
def test_each_bad_file_is_a_config_error_naming_file_key_and_reason(
    config_dir: ConfigDir, stem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_district_config(config_dir.path(stem), config_dir.roots)
    message = str(caught.value)
    assert message.startswith(f"{config_dir.path(stem)}: ")
    for fragment in BAD_FILES[stem].expected:
        assert fragment in message


def test_only_the_good_file_loads(config_dir: ConfigDir) -> None:
    valid, invalid = load_valid_district_configs(config_dir.config_dir, config_dir.roots)
    assert list(valid) == [GOOD]
    assert sorted(invalid) == sorted(BAD_FILES)
    assert load_district_config(config_dir.path("outside-roots")).source.path == (
        "/srv/elsewhere/bundle")
    with pytest.raises(ConfigError, match=f"key source.path: .* \\(none, from {SOURCE_ROOTS_ENV}"):
        load_district_config(config_dir.path(GOOD), [])


def test_source_roots_default_from_the_environment(config_dir: ConfigDir,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    assert RosterWarehouse(config_dir=str(config_dir.config_dir)).source_roots == config_dir.roots
    monkeypatch.delenv(SOURCE_ROOTS_ENV)
    unrestricted = RosterWarehouse(config_dir=str(config_dir.config_dir))
    assert unrestricted.source_roots is None
    assert "outside-roots" in unrestricted.valid_districts()
    explicit = RosterWarehouse(config_dir=str(config_dir.config_dir), source_roots=config_dir.roots)
    assert list(explicit.valid_districts()) == [GOOD]


def test_definitions_have_the_good_districts_schedule_only(
    config_dir: ConfigDir, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="rostersync_pipeline.resources.warehouse"):
        defs = build_definitions(str(config_dir.config_dir), str(config_dir.good.warehouse_dir))
    assert [s.name for s in defs.schedules] == ["nightly_good_district"]
    schedule = defs.resolve_schedule_def("nightly_good_district")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 2 * * *",
                                                                     "America/New_York")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == len(BAD_FILES)
    for stem in BAD_FILES:
        assert sum(f"{config_dir.path(stem)}: " in w for w in warnings) == 1, stem


def _apply(instance: dg.DagsterInstance, result: dg.SensorResult) -> None:
    for request in result.dynamic_partitions_requests:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name,
                                            list(request.partition_keys))
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)


def test_sensors_handle_the_good_district_only(
    config_dir: ConfigDir, capsys: pytest.CaptureFixture[str]
) -> None:
    defs = build_definitions(str(config_dir.config_dir), str(config_dir.good.warehouse_dir))
    bad_drop = config_dir.drop_folder.parent / "bad-drop"
    bad_drop.mkdir()
    config_dir.path("bad-cron").write_text(
        _config_text("bad-cron", schedule="99 99 * * *", source={"drop_folder": str(bad_drop)}),
        encoding="utf-8")
    for folder in (config_dir.drop_folder, bad_drop):
        (folder / "roster.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(districts_partitions.name, ["bad-cron", "retired"])
        with dg.build_sensor_context(instance=instance, resources=defs.resources) as context:
            partitions = defs.resolve_sensor_def("district_configs")(context)
        _apply(instance, partitions)
        # a new good district is added; an invalid file keeps its partition; a gone file loses it
        assert sorted(instance.get_dynamic_partitions("districts")) == ["bad-cron", GOOD]

        capsys.readouterr()
        with dg.build_sensor_context(instance=instance, resources=defs.resources) as context:
            drops = defs.resolve_sensor_def("drop_folder")(context)
    tick_log = capsys.readouterr().err
    for stem in BAD_FILES:
        assert tick_log.count(f"district config skipped: {config_dir.path(stem)}: ") == 1, stem
    assert [(r.partition_key, Path(r.run_config["ops"]["land_raw_roster"]["config"][
        "bundle_path"]).parent) for r in drops.run_requests] == [(GOOD, config_dir.drop_folder)]


def test_the_good_district_syncs_beside_bad_neighbours(config_dir: ConfigDir) -> None:
    outcome = config_dir.good.sync()
    assert outcome.success, outcome.failure
    assert outcome.status == "applied"
    assert config_dir.good.scalar("select count(*) from roster.users") == 3


@pytest.mark.parametrize("stem", ["bad-cron", "latin-1", "alias-bomb", "a-b", "outside-roots"])
def test_cli_sync_of_a_bad_district_prints_the_config_error(
    config_dir: ConfigDir, stem: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ROSTERSYNC_PROGRESS", "0")
    code = cli_main(["sync", stem, "--config-dir", str(config_dir.config_dir),
                     "--warehouse", str(config_dir.good.warehouse_dir)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"config error: {config_dir.path(stem)}: ")
    assert BAD_FILES[stem].expected[-1] in err
    assert "Traceback" not in err
    assert not config_dir.good.warehouse_dir.exists()
