"""What the console reads and where an upload may come from: plan rows page by page (keyset),
a held plan's deactivations per school, the upload folder that ``check_bundle_allowed``
accepts and the drop-folder sensor does not watch."""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from rostersync_pipeline.defs.sensors import drop_folder_sensor
from rostersync_pipeline.lib.apply.plan_rows import (
    APPLIED_CHANGES,
    RUN_PLAN,
    STORED_PLAN,
    deactivation_groups,
    plan_page,
)
from rostersync_pipeline.lib.ingest.bundles import (
    BundleRefused,
    check_bundle_allowed,
    district_upload_dir,
)
from rostersync_pipeline.lib.ingest.providers.oneroster_csv import OneRosterCsvSource
from rostersync_pipeline.lib.storage.warehouse import ensure_schemas
from rostersync_pipeline.resources.warehouse import RosterWarehouse
from rostersync_pipeline_tests.helpers import make_district

PLAN_SQL = """
create table sync.stored_sync_plan as
select 'p1' as plan_id,
    case when i % 3 = 0 then 'enrollments' else 'students' end as entity,
    case when i % 4 = 0 then 'deactivate' when i % 4 = 1 then 'update' else 'create' end as action,
    i as app_id, 's' || i as source_id, ['grade'] as changed_fields, null::varchar as matched_rule
from range($n) as t(i)
"""


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    ensure_schemas(con)
    return con


def all_pages(con, run_id: str, **filters) -> list[tuple]:
    rows, after, pages = [], None, 0
    while True:
        page = plan_page(con, run_id, after=after, limit=100, **filters)
        rows += [(r.entity, r.action, r.app_id) for r in page.rows]
        pages += 1
        if page.next_after is None:
            return rows
        after = page.next_after
        assert pages < 1000


def test_plan_pages_cover_every_row_once_in_order(con) -> None:
    con.execute(PLAN_SQL, {"n": 1050})
    expected = con.execute("select entity, action, app_id from sync.stored_sync_plan "
                           "order by all").fetchall()
    assert all_pages(con, "p1") == expected
    deactivations = [row for row in expected if row[:2] == ("students", "deactivate")]
    assert all_pages(con, "p1", entity="students", action="deactivate") == deactivations
    assert plan_page(con, "p1").source == STORED_PLAN
    assert plan_page(con, "unknown") is None


def test_a_page_of_a_million_row_plan_is_read_in_milliseconds(con) -> None:
    con.execute(PLAN_SQL, {"n": 1_000_000})
    first = plan_page(con, "p1", entity="students", action="update")
    started = time.perf_counter()
    page = plan_page(con, "p1", entity="students", action="update", after=(
        "students", "update", 900_001))
    elapsed = time.perf_counter() - started
    assert [r.app_id for r in page.rows][:2] == [900_005, 900_013] and len(first.rows) == 100
    assert elapsed < 0.5, f"{elapsed:.3f}s"


def test_the_latest_run_plan_and_applied_changes_are_read_where_they_are_kept(con) -> None:
    con.execute("create table sync.sync_plan as select 'r2' as run_id, 'students' as entity, "
                "'create' as action, 7::bigint as app_id, 's7' as source_id, "
                "['grade'] as changed_fields, null::varchar as matched_rule")
    con.execute("insert into roster.users (app_id, role, source_id) values (5, 'student', 's5')")
    con.execute("insert into roster.change_log values ('r1', 'students', 5, 'update', ['grade'], "
                "now()::timestamp)")
    assert plan_page(con, "r2").source == RUN_PLAN
    applied = plan_page(con, "r1")
    assert applied.source == APPLIED_CHANGES
    assert [(r.app_id, r.source_id) for r in applied.rows] == [(5, "s5")]


def test_deactivations_are_grouped_by_school_and_section(con) -> None:
    con.execute("insert into roster.schools (app_id, custom_name) values (1, 'North'), "
                "(2, 'South')")
    con.execute("insert into roster.users (app_id, role, school_app_id) select i, 'student', "
                "case when i <= 8 then 1 else 2 end from range(1, 11) as t(i)")
    con.execute("insert into roster.sections (app_id, sis_id, name, school_app_id) values "
                "(20, 'SEC-20', 'Math', 1)")
    con.execute("create table sync.stored_plan_users as select 'p1' as plan_id, "
                "'students' as entity, 'deactivate' as action, i::bigint as app_id "
                "from range(1, 11) as t(i) where i <> 5")
    con.execute("create table sync.stored_plan_sections as select 'p1' as plan_id, "
                "'sections' as entity, 'deactivate' as action, 20::bigint as app_id")
    con.execute("create table sync.stored_plan_enrollments as select 'p1' as plan_id, "
                "'enrollments' as entity, 'deactivate' as action, i::bigint as app_id, "
                "20::bigint as section_app_id from range(3) as t(i)")
    groups = [(g.entity, g.grouped_by, g.group_name, g.deactivations, round(g.share_pct))
              for g in deactivation_groups(con, "p1")]
    assert groups == [
        ("enrollments", "section", "Math", 3, 100),
        ("sections", "school", "North", 1, 100),
        ("students", "school", "North", 7, 78),
        ("students", "school", "South", 2, 22),
    ]


def test_a_bundle_directly_in_the_districts_upload_folder_is_allowed(tmp_path: Path) -> None:
    source = OneRosterCsvSource(type="oneroster_csv", path=str(tmp_path / "roster.zip"))
    uploads = district_upload_dir(tmp_path / "warehouse", "district-a")
    uploads.mkdir(parents=True)
    check_bundle_allowed(uploads / "x.zip", source, uploads)
    other = district_upload_dir(tmp_path / "warehouse", "district-b")
    for bundle, upload_dir in ((uploads / "x.zip", None), (uploads / "sub" / "x.zip", uploads),
                               (other / "x.zip", uploads)):
        with pytest.raises(BundleRefused):
            check_bundle_allowed(bundle, source, upload_dir)
    with pytest.raises(ValueError):
        district_upload_dir(tmp_path, "../district-b")


def test_the_drop_folder_sensor_does_not_pick_up_uploads(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    district = make_district(tmp_path, drop / "roster.zip", "district-a",
                             source={"path": None, "drop_folder": str(drop)})
    uploads = district_upload_dir(district.warehouse_dir, "district-a")
    uploads.mkdir(parents=True)
    (uploads / "20260101-000000-abcd1234.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    warehouse = RosterWarehouse(config_dir=str(district.config_dir),
                                warehouse_dir=str(district.warehouse_dir))
    with dg.instance_for_test() as instance:
        with dg.build_sensor_context(instance=instance,
                                     resources={"warehouse": warehouse}) as context:
            result = drop_folder_sensor(context)
    assert result.run_requests == []


def test_a_test_import_says_whether_a_real_run_would_be_held(con, tmp_path: Path) -> None:
    from rostersync_pipeline.config import load_district
    from rostersync_pipeline.console.views.imports import would_hold
    from rostersync_pipeline.demo.app_roster import write_district_config
    from rostersync_pipeline.lib.report.run_record import RunSummary
    from rostersync_pipeline.lib.report.run_status import RunStatus

    con.execute("insert into roster.users (app_id, role) select i, 'student' from range(30) t(i)")
    write_district_config(tmp_path, "district-a", tmp_path / "roster.zip")
    district = load_district(tmp_path, "district-a")
    summary = RunSummary("r1", "district-a", RunStatus.DRY_RUN, True, True, "bulk",
                         counts={"students": {"deactivate": 10, "unchanged": 20}})
    assert would_hold(con, summary, district) == [
        "students: would deactivate 10 of 30 active records (33.3% > 10%)"]
    summary.counts["students"]["deactivate"] = 2
    assert would_hold(con, summary, district) == []
    strict = district.model_copy(update={"require_approval": True})
    assert would_hold(con, summary, strict) == ["the district requires approval of every plan"]
