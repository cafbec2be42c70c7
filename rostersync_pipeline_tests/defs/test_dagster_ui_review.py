"""A held plan, approved from the Dagster UI by a person, in headless Chromium.

The README's path: a district synced twice into a ``DAGSTER_HOME`` made from
``deploy/local/dagster.yaml`` (what ``make dev`` uses: the run queue, one run per district); the
second night drops three of four students, so the guard holds the plan. ``dagster-webserver`` and
``dagster-daemon`` (the two halves of ``dagster dev``) serve it on loopback. In Chromium, under
Playwright, the test reads the held run in the runs list, then opens the ``approve_plan`` job's
Launchpad, picks the district's partition (no config: the district's one waiting plan) and
presses Launch Run, as a data engineer would. The daemon dequeues the run; the roster then holds
exactly the stored plan and the plan is approved.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from rostersync_pipeline.defs.apply.assets import STATUS_TAG
from rostersync_pipeline.lib.apply import plan_store
from rostersync_pipeline.runner import run_sync
from rostersync_pipeline_tests.console.console_server import chromium
from rostersync_pipeline_tests.defs.test_dagster_ui import REPO_ROOT, _tiny_bundle
from rostersync_pipeline_tests.fixtures.dagster_processes import (
    dagster_daemon,
    dagster_webserver,
    graphql,
)
from rostersync_pipeline_tests.helpers import (
    district_connection,
    enrollment,
    make_district,
    org,
    section,
    student,
    teacher,
    write_bundle,
)

DISTRICT = "lincoln-usd"
RUN_TIMEOUT_S = 120


@dataclass(frozen=True)
class HeldUi:
    base_url: str
    held_run_id: str
    home: Path
    warehouse_dir: Path


def _night_one(bundle: Path) -> None:
    """The next night's export in place of the first: students s2 to s4 are gone."""
    shutil.rmtree(bundle)
    users = [student("s1", "sch1"), teacher("t1", "sch1")]
    write_bundle(bundle, orgs=[org("sch1", "Lincoln Elementary")], users=users,
                 classes=[section("sec1", "sch1")],
                 enrollments=[enrollment(f"e-{u['sourcedId']}", "sec1", u["sourcedId"], "sch1",
                                         role=u["role"]) for u in users])


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HeldUi]:
    tmp = tmp_path_factory.mktemp("dagster-ui-review")
    bundle = _tiny_bundle(tmp / "bundle")
    district = make_district(tmp, bundle, DISTRICT, schools={"create_unmatched": True},
                             guard={"min_entity_size": 0})
    home = tmp / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "deploy" / "local" / "dagster.yaml", home / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        first = run_sync(DISTRICT, config_dir=district.config_dir,
                         warehouse_dir=district.warehouse_dir, instance=instance)
        assert first.status is not None and first.status.value == "applied", first.failure
        _night_one(bundle)
        second = run_sync(DISTRICT, config_dir=district.config_dir,
                          warehouse_dir=district.warehouse_dir, instance=instance)
        assert second.status is not None and second.status.value == "requires_review"
    finally:
        instance.dispose()

    env = {"DAGSTER_HOME": str(home), "ROSTERSYNC_CONFIG_DIR": str(district.config_dir),
           "ROSTERSYNC_WAREHOUSE": str(district.warehouse_dir)}
    workspace = REPO_ROOT / "workspace.yaml"
    with dagster_daemon(["-w", str(workspace)], env, tmp / "daemon.log", cwd=REPO_ROOT), \
            dagster_webserver(workspace, env, tmp / "webserver.log", cwd=REPO_ROOT) as base_url:
        yield HeldUi(base_url, second.run_id, home, district.warehouse_dir)


def _wait_for_run(base_url: str, run_id: str) -> str:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        status = graphql(base_url, f'{{ runOrError(runId: "{run_id}") {{ ... on Run '
                                   f'{{ status }} }} }}')["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            return status
        time.sleep(1.0)
    raise AssertionError(f"run {run_id} did not end in {RUN_TIMEOUT_S}s")


def test_a_held_plan_is_visible_and_approved_from_the_launchpad(held: HeldUi) -> None:
    with district_connection(held.warehouse_dir, DISTRICT) as con:
        [waiting] = plan_store.plans_awaiting_review(con)
    assert waiting.plan_id == held.held_run_id

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        # The held run says so in the runs list (its status tag), not only a green success.
        page.goto(f"{held.base_url}/runs")
        page.get_by_text(held.held_run_id[:8]).first.wait_for(timeout=60_000)
        assert f"{STATUS_TAG}: requires_review" in page.inner_text("body").replace("=", ": ")

        page.goto(f"{held.base_url}/locations/rostersync/jobs/approve_plan/playground")
        partition = page.get_by_placeholder("Partition")
        partition.wait_for(timeout=60_000)
        partition.click()
        partition.fill(DISTRICT)
        page.get_by_text(DISTRICT, exact=True).last.click()
        page.get_by_role("button", name="Launch Run").click()
        page.wait_for_url("**/runs/**", timeout=60_000)
        run_id = page.url.rstrip("/").rsplit("/", 1)[-1].split("?")[0]

    assert _wait_for_run(held.base_url, run_id) == "SUCCESS"
    run = graphql(held.base_url, f'{{ runOrError(runId: "{run_id}") {{ ... on Run '
                                 f'{{ jobName tags {{ key value }} }} }} }}')["runOrError"]
    assert run["jobName"] == "approve_plan"
    assert {"key": "dagster/partition", "value": DISTRICT} in run["tags"]
    with district_connection(held.warehouse_dir, DISTRICT) as con:
        assert plan_store.plans_awaiting_review(con) == []
        rows = con.execute("select source_id, status, updated_run_id from roster.users "
                           "where role = 'student' order by source_id").fetchall()
    # s5 had no grade (a record error) and was never imported; the approval applied the plan.
    assert rows == [("s1", "active", rows[0][2]), ("s2", "inactive", run_id),
                    ("s3", "inactive", run_id), ("s4", "inactive", run_id)]
