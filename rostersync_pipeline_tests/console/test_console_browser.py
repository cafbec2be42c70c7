"""The console in a real browser: Debian's headless Chromium, driven by Playwright, against
``rostersync console`` on loopback over tiny districts synced for real (``districts.py``).

A district administrator logs in (a wrong password is refused, repeated failures are rate
limited), uploads a bundle and reads its test-import summary, runs it for real, approves and
discards held plans, decides alerts (Match and Create record), downloads the error export,
looks up who was in a section on a date, and reaches nothing of another district (pages,
files, plan and run ids, launches, form posts: 404). Every run the console starts is a Dagster
run in ``DAGSTER_HOME``, tagged with the console and the user; nothing the console logs names
a student or an e-mail address.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from rostersync_pipeline.console import store
from rostersync_pipeline_tests.console.console_server import (
    Console,
    add_user,
    chromium,
    console_server,
    csrf_of,
    log_in,
    wait_for_launch,
)
from rostersync_pipeline_tests.console.districts import (
    DROPPED,
    LOOKALIKES,
    RETURNING,
    ConsoleDistricts,
    make_console_districts,
)

ADMIN = "admin@district-a.example.org"
OTHER = "admin@district-b.example.org"
LOCKED = "locked@district-a.example.org"
PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Site:
    console: Console
    browser: object
    districts: ConsoleDistricts
    dagster_home: Path
    tmp: Path

    @property
    def url(self) -> str:
        return self.console.base_url


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("console")
    districts = make_console_districts(tmp)
    for email, allowed in ((ADMIN, ["district-a", "district-u"]), (OTHER, ["district-b"]),
                           (LOCKED, ["district-a"])):
        add_user(email, PASSWORD, allowed, districts.config_dir, districts.warehouse_dir)
    home = tmp / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    with console_server(districts.config_dir, districts.warehouse_dir, tmp / "console.log",
                        env={"DAGSTER_HOME": str(home)}) as console, \
            chromium() as browser:
        yield Site(console, browser, districts, home, tmp)


@pytest.fixture
def page(site: Site):
    context = site.browser.new_context(accept_downloads=True)
    page = context.new_page()
    log_in(page, site.url, ADMIN, PASSWORD)
    assert page.url.endswith("/"), page.url
    yield page
    context.close()


def _post_status(page, button: str) -> int:
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.click(button)
    return sent.value.status


def test_login_refuses_a_wrong_password_then_rate_limits_the_account(site: Site) -> None:
    context = site.browser.new_context()
    page = context.new_page()
    page.goto(f"{site.url}/d/district-a/")
    assert "/login" in page.url
    page.fill("input[name=email]", ADMIN)
    page.fill("input[name=password]", "not the password")
    assert _post_status(page, "button[type=submit]") == 401
    assert "Wrong email or password" in page.inner_text("main")
    for _ in range(5):
        log_in(page, site.url, LOCKED, "wrong password")
    page.goto(f"{site.url}/login")
    page.fill("input[name=email]", LOCKED)
    page.fill("input[name=password]", PASSWORD)
    assert _post_status(page, "button[type=submit]") == 429
    assert "Too many failed attempts" in page.inner_text("main")
    log_in(page, site.url, ADMIN, PASSWORD)
    assert page.url.endswith("/") and ADMIN in page.inner_text("header")
    context.close()


def test_upload_starts_a_test_import_and_running_it_for_real_is_a_second_step(
    site: Site, page
) -> None:
    district = site.districts.u
    before = district.roster_snapshot()
    page.goto(f"{site.url}/d/district-u/upload")
    page.set_input_files("input[name=bundle]", str(site.districts.upload_zip))
    page.click("button.primary")
    assert "/launches/" in page.url
    assert page.locator("meta[http-equiv=refresh]").count() == 1
    assert "Finished" not in page.inner_text("p.progress")
    assert wait_for_launch(page) == "succeeded"
    result = page.inner_text("main")
    assert "dry_run" in result and "VALUE_NOT_SPECIFIED" in result
    assert "would be held" not in result
    assert page.locator("meta[http-equiv=refresh]").count() == 0
    assert district.roster_snapshot() == before
    uploads = list((site.districts.warehouse_dir / "uploads" / "district-u").iterdir())
    assert len(uploads) == 1 and uploads[0].suffix == ".zip"

    page.click("text=Run it for real")
    assert wait_for_launch(page) == "succeeded"
    assert "applied" in page.inner_text("p.progress")
    users = district.users()
    assert users["s31"][1] == "active" and users["s25"][1] == "inactive"
    page.click("text=The full import summary")
    who = page.inner_text("table.audit")
    assert ADMIN in who and "sync" in who


def test_an_upload_is_opened_like_any_bundle(site: Site, page) -> None:
    hostile = site.tmp / "hostile.zip"
    with zipfile.ZipFile(hostile, "w") as archive:
        archive.writestr("../users.csv", "sourcedId\n")
    before = site.districts.u.roster_snapshot()
    page.goto(f"{site.url}/d/district-u/upload")
    page.set_input_files("input[name=bundle]", str(hostile))
    page.click("button.primary")
    wait_for_launch(page)
    assert "BUNDLE_REFUSED" in page.inner_text("main")
    assert site.districts.u.roster_snapshot() == before
    page.goto(f"{site.url}/d/district-u/upload")
    page.set_input_files("input[name=bundle]", {"name": "notes.zip", "mimeType": "application/zip",
                                                "buffer": b"not a zip archive"})
    page.click("button.primary")
    assert "not a .zip archive" in page.inner_text("p.flash")


def test_approve_applies_exactly_the_stored_plan(site: Site, page) -> None:
    district = site.districts.a
    plan_id = site.districts.held_a[0]
    page.goto(f"{site.url}/d/district-a/plans")
    page.click(f"a[href='/d/district-a/plans/{plan_id}']")
    why = page.inner_text("main")
    assert "students: would deactivate" in why
    groups = page.inner_text("table.groups")
    assert "Lincoln Elementary" in groups and "100%" in groups
    assert _post_status(page, "button:has-text('Approve')") == 303
    assert wait_for_launch(page) == "succeeded"
    assert "approved" in page.inner_text("p.progress")
    approval_run = district.scalar(
        "select decided_run_id from sync.stored_plans where plan_id = ?", [plan_id])
    stored = set(district.query(
        "select entity, app_id, action from sync.stored_sync_plan where plan_id = ?", [plan_id]))
    applied = set(district.query(
        "select entity, app_id, action from roster.change_log where run_id = ?", [approval_run]))
    assert applied == stored and len(stored) >= len(DROPPED)
    users = district.users()
    assert all(users[s][1] == "inactive" for s in DROPPED)
    page.goto(f"{site.url}/d/district-a/plans/{plan_id}")
    assert page.locator("button:has-text('Approve')").count() == 0
    assert ADMIN in page.inner_text("table.audit") and "approve" in page.inner_text("table.audit")


def test_discard_drops_the_plan_and_keeps_the_note(site: Site, page) -> None:
    district = site.districts.a
    plan_id = site.districts.held_a[1]
    roster = district.roster_snapshot()
    page.goto(f"{site.url}/d/district-a/plans/{plan_id}")
    page.fill("input[name=note]", "superseded")
    page.click("button:has-text('Discard')")
    assert wait_for_launch(page) == "succeeded"
    assert district.query("select status, decision_note from sync.stored_plans "
                          "where plan_id = ?", [plan_id]) == [("discarded", "superseded")]
    assert district.roster_snapshot() == roster


def test_alerts_show_both_records_and_take_match_and_create(site: Site, page) -> None:
    district = site.districts.a
    page.goto(f"{site.url}/d/district-a/alerts")
    for source_id, (given, family) in RETURNING.items():
        section = page.locator("section.alert", has_text=source_id)
        text = section.inner_text()
        assert given in text and family in text and "close name same school" in text
    app_ids = dict(district.query("select source_id, app_id from roster.users "
                                  "where source_id in ?", [list(LOOKALIKES)]))
    page.locator("section.alert", has_text="kj2").locator("button:has-text('Match')").click()
    assert wait_for_launch(page) == "succeeded"
    page.goto(f"{site.url}/d/district-a/alerts")
    page.locator("section.alert", has_text="mb2").locator(
        "button:has-text('Create record')").click()
    assert wait_for_launch(page) == "succeeded"
    decisions = district.query(
        "select source_id, decision, app_id, decided_by from roster.match_decisions "
        "order by source_id")
    assert decisions == [("kj2", "match", app_ids["kj"], ADMIN), ("mb2", "create", None, ADMIN)]
    page.goto(f"{site.url}/d/district-a/alerts")
    assert page.locator("p.decided").count() == 2


def test_error_export_downloads_the_runs_rows(site: Site, page) -> None:
    district = site.districts.a
    run_id = district.scalar("select run_id from sync.runs where status = 'applied' "
                             "order by finished_at limit 1")
    page.goto(f"{site.url}/d/district-a/runs/{run_id}")
    with page.expect_download() as download:
        page.click("text=Export errors (.zip)")
    saved = site.tmp / "export.zip"
    download.value.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        name = next(n for n in archive.namelist() if n.startswith("sync_errors_"))
        rows = list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8-sig"))))
    assert [(r["error_code"], r["source_id"], r["run_id"]) for r in rows] == \
        [(e["error_code"], e["source_id"], run_id) for e in district.errors(run_id)]
    assert ("VALUE_NOT_SPECIFIED", "s30") in {(r["error_code"], r["source_id"]) for r in rows}


def test_history_shows_who_was_in_a_section_on_a_date(site: Site, page) -> None:
    district = site.districts.a
    today = date.today().isoformat()
    page.goto(f"{site.url}/d/district-a/history?section=sec1&date={today}")
    shown = page.locator("table tbody tr td:nth-child(2)").all_inner_texts()
    expected = district.query(
        "select e.user_app_id from roster.enrollments_history as e "
        "join roster.sections as s on s.app_id = e.section_app_id "
        "where s.source_id = 'sec1' and e.status = 'active' and e.valid_from <= $at "
        "and (e.valid_to is null or e.valid_to > $at)",
        {"at": f"{today} 23:59:59.999999"})
    assert sorted(int(x) for x in shown) == sorted(row[0] for row in expected) != []


def test_nothing_of_another_district_is_reachable(site: Site, page) -> None:
    other, b_run, b_plan = site.districts.b, site.districts.b_run, site.districts.held_b
    with store.connect(store.console_db_path(site.districts.warehouse_dir)) as con:
        b_launch = con.execute("insert into launches (district_id, kind, actor, params, state) "
                               "values ('district-b', 'sync', ?, '{}', 'failed')",
                               [OTHER]).lastrowid
    assert page.goto(f"{site.url}/d/no-such-district/").status == 404
    unknown = page.inner_text("main")
    for path in ("", f"runs/{b_run}", f"runs/{b_run}/plan", f"runs/{b_run}/errors",
                 f"runs/{b_run}/export.zip", f"plans/{b_plan}", "plans", "alerts", "upload",
                 "history?section=sec1", "activity", f"launches/{b_launch}"):
        response = page.goto(f"{site.url}/d/district-b/{path}")
        assert response.status == 404, path
        assert page.inner_text("main") == unknown, path
    for path in (f"runs/{b_run}", f"runs/{b_run}/export.zip", f"plans/{b_plan}",
                 f"launches/{b_launch}"):
        assert page.goto(f"{site.url}/d/district-a/{path}").status == 404, path

    page.goto(f"{site.url}/d/district-a/")
    token = csrf_of(page)
    posts = {
        f"/d/district-b/plans/{b_plan}/approve": {}, f"/d/district-b/plans/{b_plan}/discard": {},
        f"/d/district-a/plans/{b_plan}/approve": {}, "/d/district-b/test-import": {},
        "/d/district-b/alerts/decide": {"source_id": "s1", "choice": "create"},
        f"/d/district-b/launches/{b_launch}/run-for-real": {},
    }
    for path, fields in posts.items():
        assert page.request.post(f"{site.url}{path}", form={"csrf_token": token, **fields},
                                 max_redirects=0).status == 404, path
    upload = page.request.post(f"{site.url}/d/district-b/upload", multipart={
        "csrf_token": token, "bundle": {"name": "b.zip", "mimeType": "application/zip",
                                        "buffer": site.districts.upload_zip.read_bytes()}},
        max_redirects=0)
    assert upload.status == 404
    assert other.scalar("select status from sync.stored_plans where plan_id = ?",
                        [b_plan]) == "requires_review"
    with store.connect(store.console_db_path(site.districts.warehouse_dir)) as con:
        launched = con.execute("select count(*) from launches where district_id = 'district-b'"
                               ).fetchone()[0]
    assert launched == 1
    assert not (site.districts.warehouse_dir / "uploads" / "district-b").exists()


def test_runs_are_dagster_runs_tagged_with_the_console_and_the_user(site: Site) -> None:
    instance = dg.DagsterInstance.from_config(str(site.dagster_home))
    try:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"rostersync/trigger": "console"}))
    finally:
        instance.dispose()
    assert runs, "no console run recorded in DAGSTER_HOME"
    assert {run.tags["rostersync/actor"] for run in runs} == {ADMIN}
    assert {run.job_name for run in runs} >= {"sync_district", "approve_plan", "discard_plan",
                                              "decide_match_alert"}
    assert {run.tags["dagster/partition"] for run in runs} == {"district-a", "district-u"}


def test_the_console_log_names_no_student_and_no_email(site: Site) -> None:
    log = site.console.log()
    assert "launch" in log and "POST /d/district-a/plans/" in log
    for word in ("Givens", "Familys", *(n for pair in [*LOOKALIKES.values(),
                                                        *RETURNING.values()] for n in pair),
                 "@", "example.org"):
        assert word not in log, word
