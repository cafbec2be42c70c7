"""The guard's thresholds, case by case: no entity size is a blind spot for mass deactivation."""

from __future__ import annotations

import pytest

from rostersync_pipeline.config import GuardConfig
from rostersync_pipeline.lib.apply.guard import threshold_reasons

GUARD = GuardConfig(max_deactivate_pct=10, max_update_pct=75, min_entity_size=20)


@pytest.mark.parametrize(
    ("description", "actions", "size", "held"),
    [
        ("tiny entity, every record deactivated", {"deactivate": 3}, 3, True),
        ("one record, deactivated", {"deactivate": 1}, 1, True),
        ("tiny entity, more than half deactivated", {"deactivate": 3}, 5, True),
        ("tiny entity, exactly half deactivated", {"deactivate": 5}, 10, False),
        ("tiny entity, 40% deactivated (below min_entity_size)", {"deactivate": 4}, 10, False),
        ("tiny entity, every record updated", {"update": 10}, 10, False),
        ("large entity, 10% deactivated", {"deactivate": 100}, 1000, False),
        ("large entity, 10.1% deactivated", {"deactivate": 101}, 1000, True),
        ("large entity, 60% deactivated", {"deactivate": 600}, 1000, True),
        ("large entity, 80% updated", {"update": 800}, 1000, True),
        ("no active records yet", {"create": 50}, 0, False),
    ],
)
def test_threshold_reasons(description: str, actions: dict[str, int], size: int,
                           held: bool) -> None:
    reasons = threshold_reasons("students", actions, size, GUARD)
    assert bool(reasons) is held, description
    if held:
        assert reasons[0].startswith("students: would ")


def test_a_small_district_whose_users_file_comes_empty_is_held(tmp_path) -> None:
    from rostersync_pipeline_tests.helpers import make_district, org, student, write_bundle

    students = [student(f"s{i}", "sch1") for i in range(5)]
    first = write_bundle(tmp_path / "n0", orgs=[org("sch1", "North High")], users=students)
    district = make_district(tmp_path, first, schools={"create_unmatched": True})
    assert district.sync().status == "applied"
    before = district.roster_snapshot()

    emptied = write_bundle(tmp_path / "n1", orgs=[org("sch1", "North High")], users=[])
    held = district.sync(emptied)

    assert held.status == "requires_review"
    assert held.summary.counts["students"] == {"deactivate": 5}
    assert any("would deactivate 5 of 5" in reason for reason in held.summary.reasons)
    assert district.roster_snapshot() == before
