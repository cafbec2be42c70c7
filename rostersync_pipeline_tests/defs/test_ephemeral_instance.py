"""The in-process runs' ephemeral instance: a job's events are kept and read back, from any
thread, and Dagster's own ephemeral instance stands in when its internals differ."""

from __future__ import annotations

import threading

import dagster as dg
import pytest

from rostersync_pipeline.defs import ephemeral_instance as module


@dg.asset
def one_number() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"n": 1})


def _materializations(instance: dg.DagsterInstance) -> int:
    return len(instance.fetch_materializations(one_number.key, limit=10).records)


def test_a_run_is_recorded_and_read_back_from_another_thread() -> None:
    instance = module.ephemeral_instance()
    assert dg.materialize([one_number], instance=instance).success
    seen: list[int] = []
    reader = threading.Thread(target=lambda: seen.append(_materializations(instance)))
    reader.start()
    reader.join()
    assert seen == [1]
    assert dg.materialize([one_number], instance=instance).success
    assert _materializations(instance) == 2


def test_dagster_own_ephemeral_instance_when_the_internals_differ(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def changed() -> dg.DagsterInstance:
        raise ImportError("dagster._core moved")

    monkeypatch.setattr(module, "_held_connection_instance", changed)
    instance = module.ephemeral_instance()
    assert dg.materialize([one_number], instance=instance).success
    assert _materializations(instance) == 1
