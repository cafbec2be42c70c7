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
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from rostersync_pipeline.definitions import ASSETS
from rostersync_pipeline.runner import run_sync
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
HOST = "127.0.0.1"
START_TIMEOUT_S = 90
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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def graphql(base_url: str, query: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{base_url}/graphql", data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.load(response)
    assert "errors" not in body, body
    return body["data"]


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

    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home),
           "ROSTERSYNC_CONFIG_DIR": str(district.config_dir),
           "ROSTERSYNC_WAREHOUSE": str(district.warehouse_dir)}
    env.pop("ROSTERSYNC_SMTP_HOST", None)
    webserver = Path(sys.executable).with_name("dagster-webserver")
    log_path = tmp / "webserver.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(webserver), "-w", str(REPO_ROOT / "workspace.yaml"), "-h", HOST, "-p", str(port)],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    base_url = f"http://{HOST}:{port}"
    try:
        _wait_until_loaded(base_url, process, log_path)
        yield SyncedUi(base_url, outcome.run_id, district.district_id,
                       outcome.summary.error_counts, latest[USERS_CHECK].status.value, tmp)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_loaded(base_url: str, process: subprocess.Popen, log_path: Path) -> None:
    """Until the webserver answers and the code location has loaded the asset graph."""
    deadline = time.monotonic() + START_TIMEOUT_S
    query = '{ assetNodeOrError(assetKey: {path: ["core", "users"]}) { __typename } }'
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dagster-webserver exited ({process.returncode}):\n"
                        f"{log_path.read_text(errors='replace')[-3000:]}")
        try:
            if graphql(base_url, query)["assetNodeOrError"]["__typename"] == "AssetNode":
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1.0)
    pytest.fail(f"dagster-webserver not ready after {START_TIMEOUT_S}s:\n"
                f"{log_path.read_text(errors='replace')[-3000:]}")


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
