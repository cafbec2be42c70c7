"""The code location in the Dagster UI: a real dagster-webserver, driven by headless Chromium.

A tiny district is synced into a temp ``DAGSTER_HOME``; ``dagster-webserver -w workspace.yaml``
serves it on loopback with ``ROSTERSYNC_CONFIG_DIR`` / ``ROSTERSYNC_WAREHOUSE`` pointing at that
district. GraphQL is the sanity check; Chromium (``.ci/install-chromium.sh``) renders the pages a
person opens and the test reads the rendered DOM: the district's run, the expectation check with
its latest status, and the error export's metadata (row count, errors per code).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from rostersync_pipeline.definitions import ASSETS
from rostersync_pipeline.runner import run_sync
from rostersync_pipeline_tests.fixtures.dagster_processes import dagster_webserver, graphql
from rostersync_pipeline_tests.helpers import (
    enrollment,
    make_district,
    org,
    section,
    student,
    teacher,
    write_bundle,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
USERS_CHECK = next(spec.key for asset in ASSETS for spec in asset.check_specs
                   if spec.name == "users_expectation_suite")
# The UI's label for each check execution status.
STATUS_LABELS = {"SUCCEEDED": "Passed", "FAILED": "Failed"}


@dataclass(frozen=True)
class SyncedUi:
    base_url: str
    run_id: str
    district_id: str
    error_counts: dict[str, int]
    check_status: str
    tmp: Path


def chromium(url: str, tmp: Path, *extra: str) -> str:
    """Load ``url`` in headless Chromium, let the React app settle, return stdout (the DOM)."""
    profile = tmp / f"chromium-{time.monotonic_ns()}"
    result = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         f"--user-data-dir={profile}", "--virtual-time-budget=15000",
         "--window-size=1400,900", *extra, url],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _tiny_bundle(directory: Path) -> Path:
    """One school, five students (one without a grade: a record error), a teacher, a section."""
    students = [student(f"s{i}", "sch1") for i in range(1, 5)]
    students.append(student("s5", "sch1", grades=""))
    users = [*students, teacher("t1", "sch1")]
    enrollments = [enrollment(f"e-{u['sourcedId']}", "sec1", u["sourcedId"], "sch1",
                              role=u["role"]) for u in users]
    return write_bundle(directory, orgs=[org("sch1", "Lincoln Elementary")], users=users,
                        classes=[section("sec1", "sch1")], enrollments=enrollments)


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncedUi]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} not found: install it with `bash .ci/install-chromium.sh`")
    tmp = tmp_path_factory.mktemp("dagster-ui")
    district = make_district(tmp, _tiny_bundle(tmp / "bundle"), "lincoln-usd",
                             schools={"create_unmatched": True})
    home = tmp / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\nnux:\n  enabled: false\n",
                                       encoding="utf-8")
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        outcome = run_sync(district.district_id, config_dir=district.config_dir,
                           warehouse_dir=district.warehouse_dir, instance=instance)
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key([USERS_CHECK])
    finally:
        instance.dispose()
    assert outcome.summary is not None and outcome.summary.error_counts, outcome.failure

    env = {"DAGSTER_HOME": str(home), "ROSTERSYNC_CONFIG_DIR": str(district.config_dir),
           "ROSTERSYNC_WAREHOUSE": str(district.warehouse_dir)}
    with dagster_webserver(REPO_ROOT / "workspace.yaml", env, tmp / "webserver.log",
                           cwd=REPO_ROOT) as base_url:
        yield SyncedUi(base_url, outcome.run_id, district.district_id,
                       outcome.summary.error_counts, latest[USERS_CHECK].status.value, tmp)


def test_graphql_serves_the_district_run_check_and_metadata(ui: SyncedUi) -> None:
    path = json.dumps(USERS_CHECK.asset_key.path)
    data = graphql(ui.base_url, f"""{{
      runsOrError {{ ... on Runs {{ results {{ runId jobName tags {{ key value }} }} }} }}
      assetNodeOrError(assetKey: {{path: {path}}}) {{ ... on AssetNode {{
        assetChecksOrError {{ ... on AssetChecks {{ checks {{ name blocking
          executionForLatestMaterialization {{ runId status }} }} }} }} }} }}
      assetOrError(assetKey: {{path: ["reports", "error_export"]}}) {{ ... on Asset {{
        assetMaterializations(limit: 1) {{ runId partition
          metadataEntries {{ label ... on IntMetadataEntry {{ intValue }} }} }} }} }}
    }}""")
    runs = data["runsOrError"]["results"]
    assert [(r["runId"], r["jobName"]) for r in runs] == [(ui.run_id, "sync_district")]
    assert {"key": "dagster/partition", "value": ui.district_id} in runs[0]["tags"]
    checks = data["assetNodeOrError"]["assetChecksOrError"]["checks"]
    assert sorted((c["name"], c["blocking"]) for c in checks) == [
        ("model_keys", False), (USERS_CHECK.name, False)]
    [users_check] = [c for c in checks if c["name"] == USERS_CHECK.name]
    execution = users_check["executionForLatestMaterialization"]
    assert (execution["runId"], execution["status"]) == (ui.run_id, ui.check_status)
    [materialization] = data["assetOrError"]["assetMaterializations"]
    assert (materialization["runId"], materialization["partition"]) == (ui.run_id, ui.district_id)
    metadata = {e["label"]: e.get("intValue") for e in materialization["metadataEntries"]}
    assert metadata["dagster/row_count"] == sum(ui.error_counts.values())
    for code, n in ui.error_counts.items():
        assert metadata[f"errors/{code}"] == n


def test_chromium_shows_the_check_with_its_latest_status(ui: SyncedUi) -> None:
    url = f"{ui.base_url}/assets/{'/'.join(USERS_CHECK.asset_key.path)}?view=checks"
    dom = chromium(url, ui.tmp, "--dump-dom")
    assert USERS_CHECK.name in dom
    assert STATUS_LABELS[ui.check_status] in dom
    assert "Execute all" in dom

    screenshot = ui.tmp / "checks.png"
    chromium(url, ui.tmp, f"--screenshot={screenshot}")
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 20_000


def test_chromium_shows_the_run_and_the_error_export_metadata(ui: SyncedUi) -> None:
    runs_dom = chromium(f"{ui.base_url}/runs", ui.tmp, "--dump-dom")
    assert ui.run_id[:8] in runs_dom
    assert "sync_district" in runs_dom

    events_dom = chromium(f"{ui.base_url}/assets/reports/error_export?view=events", ui.tmp,
                          "--dump-dom")
    assert ui.run_id[:8] in events_dom
    assert "dagster/row_count" in events_dom
    for code in ui.error_counts:
        assert f"errors/{code}" in events_dom
