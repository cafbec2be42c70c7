"""The production instance (``deploy/dagster.yaml`` on dagster-postgres) with a real district sync.

A throwaway PostgreSQL server, ``deploy/dagster.yaml`` in a temp ``DAGSTER_HOME`` with the
server's ``DAGSTER_PG_*`` variables, a tiny synthetic district synced with ``run_sync`` on
``DagsterInstance.get()``; then a NEW instance object finds the run, its materializations, its
expectation-check evaluation and the district partition in PostgreSQL. A nightly schedule tick
recorded by a real ``dagster-daemon`` on the same instance, found the same way, is part of
``test_many_districts.py`` (one wait for a tick instead of two).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg2
import pytest

from rostersync_pipeline.definitions import ASSETS
from rostersync_pipeline.defs.partitions import districts_partitions
from rostersync_pipeline.runner import run_sync
from rostersync_pipeline_tests.helpers import District, make_synthetic_district
from rostersync_pipeline_tests.pg_server import PostgresServer

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DAGSTER_YAML = REPO_ROOT / "deploy" / "dagster.yaml"
USERS_CHECK = next(spec.key for asset in ASSETS for spec in asset.check_specs
                   if spec.name == "users_expectation_suite")
CHECK_COUNT = sum(len(asset.check_specs) for asset in ASSETS)
MATERIALIZED = (
    ["raw", "oneroster_users"],
    ["core", "users"],
    ["sync", "sync_plan"],
    ["roster", "synced_roster"],
    ["reports", "error_export"],
    ["reports", "run_summary"],
)


@pytest.fixture
def dagster_home(
    postgres_session: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PostgresServer]:
    """DAGSTER_HOME holding deploy/dagster.yaml; its env vars point at a fresh database."""
    database = postgres_session.create_database(f"dagster_{uuid.uuid4().hex[:12]}")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY_DAGSTER_YAML, home / "dagster.yaml")
    for key, value in database.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    yield database


@pytest.fixture
def district(tmp_path: Path) -> District:
    district, _ = make_synthetic_district(
        tmp_path, students=40, district_id="springfield", schools={"create_unmatched": True},
        timezone="America/Chicago", schedule="15 2 * * *",
    )
    return district


def test_a_district_sync_is_recorded_in_postgres_and_found_after_reopening(
    dagster_home: PostgresServer, district: District
) -> None:
    instance = dg.DagsterInstance.get()
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        outcome = run_sync(district.district_id, config_dir=district.config_dir,
                           warehouse_dir=district.warehouse_dir, instance=instance)
    finally:
        instance.dispose()
    assert outcome.success and outcome.status == "applied", outcome.failure

    reopened = dg.DagsterInstance.from_config(os.environ["DAGSTER_HOME"])
    try:
        assert type(reopened.run_storage).__name__ == "PostgresRunStorage"
        run = reopened.get_run_by_id(outcome.run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        assert run.job_name == "sync_district"
        assert run.tags["dagster/partition"] == district.district_id
        assert run.tags["rostersync/district"] == district.district_id
        assert reopened.get_dynamic_partitions(districts_partitions.name) == [district.district_id]

        for path in MATERIALIZED:
            event = reopened.get_latest_materialization_event(dg.AssetKey(path))
            assert event is not None and event.run_id == outcome.run_id, path
            materialization = event.asset_materialization
            assert materialization is not None
            assert materialization.partition == district.district_id, path
        users = reopened.get_latest_materialization_event(dg.AssetKey(["core", "users"]))
        users_rows = users.asset_materialization.metadata["dagster/row_count"].value
        assert users_rows == district.scalar("select count(*) from core.users") > 40
        roster = reopened.get_latest_materialization_event(dg.AssetKey(["roster", "synced_roster"]))
        assert roster.asset_materialization.metadata["status"].value == "applied"

        latest = reopened.event_log_storage.get_latest_asset_check_execution_by_key([USERS_CHECK])
        record = latest[USERS_CHECK]
        assert record.run_id == outcome.run_id
        assert record.status.value == "SUCCEEDED"
        evaluations = reopened.get_records_for_run(
            outcome.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
        checks = [r.event_log_entry.dagster_event.event_specific_data for r in evaluations]
        assert [(c.check_name, c.passed) for c in checks
                if c.check_name == "users_expectation_suite"] == [("users_expectation_suite", True)]
        assert all(c.passed for c in checks) and len(checks) == CHECK_COUNT
        assert {c.partition for c in checks} == {district.district_id}
    finally:
        reopened.dispose()

    with psycopg2.connect(**dagster_home.connect_kwargs()) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from event_logs where run_id = %s "
                    "and dagster_event_type = 'ASSET_CHECK_EVALUATION'", (outcome.run_id,))
        assert cur.fetchone() == (CHECK_COUNT,)

