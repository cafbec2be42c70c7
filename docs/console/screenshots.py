"""Regenerate the screenshots of docs/console.md by walking its steps in headless Chromium.

    .venv/bin/python docs/console/screenshots.py

In a temporary directory: ``rostersync demo`` (what ``make demo`` runs), ``rostersync demo
--night 1``, a console account, ``rostersync console``; then, in Debian's Chromium under
Playwright, the walkthrough of docs/console.md: log in, the runs, an import summary, its
errors, an upload and its test import, running it for real, the held plan, its approval, the
match alerts, a decision and the history page. Each page is saved as ``docs/console/NN-*.png``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from rostersync_pipeline.lib.storage.warehouse import district_connection  # noqa: E402
from rostersync_pipeline_tests.console.console_server import (  # noqa: E402
    add_user,
    chromium,
    console_server,
    log_in,
    rostersync,
    wait_for_launch,
)

EMAIL = "admin@demo-district.example.org"
PASSWORD = "a long demo password"


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="rostersync-console-docs-") as scratch:
        root = Path(scratch)
        config, warehouse, home = root / "config", root / "warehouse", root / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
        common = ["--config-dir", str(config), "--warehouse", str(warehouse)]
        env = {"DAGSTER_HOME": str(home)}
        for args in (["demo", *common], ["demo", "--night", "1", *common]):
            done = rostersync(*args, env=env)
            assert done.returncode == 0, done.stdout + done.stderr
        add_user(EMAIL, PASSWORD, ["demo-district"], config, warehouse)
        with console_server(config, warehouse, root / "console.log", env=env) as console, \
                chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            walk(page, console.base_url, warehouse / "demo" / "bundles" / "night-1.zip",
                 a_section(warehouse))
    return 0


def a_section(warehouse: Path) -> str:
    """The SIS id of one of the demo's sections (for the history page)."""
    with district_connection(warehouse, "demo-district", read_only=True) as con:
        return con.execute("select sis_id from roster.sections where status = 'active' "
                           "order by app_id limit 1").fetchall()[0][0]


def shot(page, name: str) -> None:
    path = HERE / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"wrote {path.relative_to(HERE.parents[1])}")


def walk(page, url: str, night_1: Path, section: str) -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=email]", EMAIL)
    shot(page, "01-login")
    log_in(page, url, EMAIL, PASSWORD)
    shot(page, "02-runs")
    page.click("table.runs a >> nth=0")
    shot(page, "03-import-summary")
    page.click("table.errors a >> nth=0")
    shot(page, "04-errors")
    page.goto(f"{url}/d/demo-district/upload")
    page.set_input_files("input[name=bundle]", str(night_1))
    shot(page, "05-upload")
    page.click("button.primary")
    while page.locator("ol.stages li.done").count() < 2 and "Finished" not in page.content():
        page.wait_for_timeout(300)
        page.goto(page.url)
    shot(page, "06-test-import-running")
    wait_for_launch(page)
    shot(page, "07-test-import-result")
    page.click("text=Run it for real")
    wait_for_launch(page)
    page.click("text=see why, approve or discard")
    shot(page, "08-held-plan")
    page.click("button:has-text('Approve')")
    wait_for_launch(page)
    shot(page, "09-approved")
    page.goto(f"{url}/d/demo-district/alerts")
    shot(page, "10-match-alerts")
    page.click("section.alert button:has-text('Match') >> nth=0")
    wait_for_launch(page)
    page.goto(f"{url}/d/demo-district/alerts")
    shot(page, "11-alert-decided")
    page.goto(f"{url}/d/demo-district/history?section={section}")
    shot(page, "12-history")
    page.goto(f"{url}/d/demo-district/activity")
    shot(page, "13-activity")

if __name__ == "__main__":
    sys.exit(main())
