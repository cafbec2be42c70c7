"""The CLI speaks to people: one or two lines naming what is wrong and what to do, no Dagster
stack trace, no files created by a command that only reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from rostersync_pipeline.cli.main import main
from rostersync_pipeline_tests.helpers import District, make_district, org, student, write_bundle


def cli(district: District, *args: str) -> int:
    return main([*args, "--config-dir", str(district.config_dir),
                 "--warehouse", str(district.warehouse_dir)])


@pytest.fixture
def district(tmp_path: Path) -> District:
    bundle = write_bundle(tmp_path / "n0", orgs=[org("sch1", "North High")],
                          users=[student("s1", "sch1"), student("s2", "sch1")])
    return make_district(tmp_path, bundle, require_approval=True,
                         schools={"create_unmatched": True})


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*")) if path.exists() else []


@pytest.mark.parametrize("command", [
    ["sync", "D"], ["plan", "D"], ["errors", "D", "--out", "x.zip"], ["alerts", "list", "D"],
    ["explain", "D", "s1"], ["approve", "D", "p1"], ["restore", "D", "--to-run", "r1"],
])
def test_an_unknown_district_lists_the_configured_ones_and_creates_nothing(
    district: District, command: list[str], capsys
) -> None:
    args = ["no-such-district" if word == "D" else word for word in command]
    assert cli(district, *args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) <= 2 and "Traceback" not in "\n".join(err)
    assert "unknown district 'no-such-district'" in err[0]
    assert "configured: district-a" in err[0]
    assert files_under(district.warehouse_dir) == []


@pytest.mark.parametrize("command", [["plan"], ["errors", "--out", "x.zip"], ["alerts", "list"],
                                     ["explain", "s1"]])
def test_a_read_of_a_district_never_synced_says_so_and_creates_nothing(
    district: District, command: list[str], capsys
) -> None:
    head, *rest = command
    args = [head, "list", "district-a"] if head == "alerts" else [head, "district-a", *rest]
    assert cli(district, *args) == 1
    err = capsys.readouterr().err
    assert "has no warehouse yet" in err and "rostersync sync district-a" in err
    assert files_under(district.warehouse_dir) == []


def test_approving_an_approved_plan_is_two_lines_at_most(district: District, capsys) -> None:
    held = district.sync()
    assert held.status == "requires_review"
    assert cli(district, "approve", "district-a", held.run_id) == 0
    capsys.readouterr()
    assert cli(district, "approve", "district-a", held.run_id) == 1
    err = capsys.readouterr().err.strip()
    assert "already approved" in err and "Traceback" not in err
    assert len(err.splitlines()) <= 2


def test_a_bundle_outside_the_configured_places_is_one_error_row_not_a_trace(
    district: District, tmp_path: Path, capsys
) -> None:
    elsewhere = write_bundle(tmp_path / "elsewhere", orgs=[org("sch1", "North High")])
    assert cli(district, "sync", "district-a", "--bundle", str(elsewhere)) == 0
    out = capsys.readouterr()
    assert "BUNDLE_REFUSED" in out.out and "Traceback" not in out.out + out.err


def test_a_first_sync_that_matched_no_school_ends_with_the_next_step(tmp_path: Path,
                                                                     capsys) -> None:
    bundle = write_bundle(tmp_path / "n0", orgs=[org("sch1", "North High")],
                          users=[student("s1", "sch1")])
    district = make_district(tmp_path, bundle)
    assert cli(district, "sync", "district-a") == 0
    out = capsys.readouterr().out
    assert "next step: no school matched an app school, so nothing was imported" in out
    assert "schools.create_unmatched: true" in out and "schools.custom_names" in out
