"""Review in the Dagster UI: a held run says so (tag, check), the review queue lists every
district's waiting plans, and approve_plan works from the Launchpad without pasting an id."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from rostersync_pipeline.defs.review.queue import plans_awaiting_review
from rostersync_pipeline.resources.warehouse import RosterWarehouse
from rostersync_pipeline.runner import SyncOutcome, run_approval, run_sync
from rostersync_pipeline_tests.helpers import (
    District,
    enrollment,
    make_district,
    org,
    section,
    student,
    write_bundle,
)


def bundle(directory: Path, *students: str) -> Path:
    return write_bundle(
        directory, orgs=[org("sch1", "North High")],
        users=[student(s, "sch1") for s in students], classes=[section("sec1", "sch1")],
        enrollments=[enrollment(f"e{s}", "sec1", s, "sch1") for s in students])


def held_district(tmp_path: Path, district_id: str) -> District:
    return make_district(tmp_path, bundle(tmp_path / f"{district_id}-n0", "s1", "s2"),
                         district_id, schools={"create_unmatched": True}, require_approval=True)


def sync(district: District, instance: dg.DagsterInstance, night: Path | None = None):
    with district.delivered(night):
        return run_sync(district.district_id, config_dir=district.config_dir,
                        warehouse_dir=district.warehouse_dir, instance=instance)


def queue(config_dir: Path, warehouse_dir: Path) -> dict:
    resource = RosterWarehouse(config_dir=str(config_dir), warehouse_dir=str(warehouse_dir))
    result = dg.materialize([plans_awaiting_review], resources={"warehouse": resource})
    [event] = result.asset_materializations_for_node("reports__plans_awaiting_review")
    return {k: v.value for k, v in event.metadata.items()}


@pytest.fixture(scope="module")
def instance():
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture(scope="module")
def held_north(tmp_path_factory: pytest.TempPathFactory, instance) -> tuple[District, SyncOutcome]:
    """District north after its first sync, held for review (every plan needs approval);
    synced once per module, each test goes on from its own copy."""
    district = held_district(tmp_path_factory.mktemp("held"), "north")
    held = sync(district, instance)
    assert held.status == "requires_review"
    return district, held


def test_a_held_run_is_tagged_and_its_check_warns_with_the_plan_id(held_north, instance) -> None:
    _, held = held_north

    run = instance.get_run_by_id(held.run_id)
    assert run.tags["rostersync/status"] == "requires_review"
    [evaluation] = [
        r.event_log_entry.dagster_event.event_specific_data
        for r in instance.get_records_for_run(
            held.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
        if r.event_log_entry.dagster_event.event_specific_data.check_name == "plan_applied"]
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.partition == "north"
    assert evaluation.metadata["plan_id"].value == held.run_id
    assert "requires approval" in evaluation.metadata["reasons"].value


def test_the_queue_lists_every_districts_waiting_plans_and_approve_needs_no_id(
    tmp_path: Path, held_north, instance
) -> None:
    north, held = held_north[0].copy_to(tmp_path / "a"), held_north[1]
    south = make_district(tmp_path / "a", bundle(tmp_path / "south-n0", "t1"), "south",
                          schools={"create_unmatched": True}, require_approval=True)
    held_south = sync(south, instance)

    listed = queue(north.config_dir, north.warehouse_dir)
    assert (listed["waiting"], listed["districts"]) == (2, 2)
    assert f"`{held.run_id}`" in listed["queue"] and f"`{held_south.run_id}`" in listed["queue"]
    assert "the district requires approval of every plan" in listed["queue"]

    approved = run_review_without_id(north, instance)
    assert approved.success, approved.failure
    assert north.scalar("select count(*) from roster.users where status = 'active'") == 2
    listed = queue(north.config_dir, north.warehouse_dir)
    assert listed["waiting"] == 1 and held.run_id not in listed["queue"]


def test_approve_without_an_id_is_refused_when_several_plans_wait(tmp_path: Path, held_north,
                                                                  instance) -> None:
    district, first = held_north[0].copy_to(tmp_path), held_north[1]
    second = sync(district, instance, bundle(tmp_path / "n1", "s1", "s2", "s3"))
    refused = run_review_without_id(district, instance)
    assert not refused.success
    assert "2 plans of district 'north' wait for review" in refused.failure
    assert first.run_id in refused.failure and second.run_id in refused.failure
    assert district.scalar("select count(*) from roster.users") == 0


def run_review_without_id(district: District, instance: dg.DagsterInstance):
    from rostersync_pipeline.runner import run_review_job

    return run_review_job("approve_plan", district.district_id, "apply_stored_plan", {},
                          config_dir=district.config_dir, warehouse_dir=district.warehouse_dir,
                          instance=instance)


def test_run_approval_still_takes_an_explicit_plan_id(tmp_path: Path, held_north,
                                                      instance) -> None:
    district, held = held_north[0].copy_to(tmp_path), held_north[1]
    assert run_approval("north", held.run_id, config_dir=district.config_dir,
                        warehouse_dir=district.warehouse_dir, instance=instance).success
