"""A district whose roster lives in PostgreSQL: sync, match, hold, approve, restore, app columns.

Every test syncs real bundles with the real pipeline into a fresh database of the session's
PostgreSQL server (``conftest.pg``). Where a DuckDB-destination district syncs the same nights,
the two must hold the same roster, history, change log and change feed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rostersync_pipeline.demo.app_roster import seed_roster
from rostersync_pipeline.demo.district import write_oneroster_bundle
from rostersync_pipeline.lib.storage.destinations.interface import ENTITY_TABLES
from rostersync_pipeline.lib.storage.warehouse import district_connection
from rostersync_pipeline.runner import run_approval, run_review_job
from rostersync_pipeline_tests.helpers import (
    District,
    enrollment,
    make_district,
    org,
    sample_path,
    section,
    student,
    teacher,
    write_bundle,
)
from rostersync_pipeline_tests.storage.pg_destination import (
    DSN_ENV,
    duckdb_tables,
    pg_query,
    postgres_district,
    postgres_tables,
    push_roster_to_postgres,
)

CREATE_SCHOOLS = {"schools": {"create_unmatched": True}}
FEED_TABLES = ("change_log", "change_feed")
HISTORY_TABLES = tuple(f"{t}_history" for t in ENTITY_TABLES)


def night(directory: Path, users: list[dict[str, str]]) -> Path:
    """School sch1, section sec1, teacher t1; every user enrolled in sec1."""
    everyone = [teacher("t1", "sch1"), *users]
    return write_bundle(
        directory,
        orgs=[org("sch1", "North High")],
        users=everyone,
        classes=[section("sec1", "sch1")],
        enrollments=[enrollment(f"e-{u['sourcedId']}", "sec1", u["sourcedId"], "sch1",
                                role="teacher" if u["role"] == "teacher" else "student")
                     for u in everyone],
    )


def students(*ids: str, **fields: str) -> list[dict[str, str]]:
    return [student(s, "sch1", **fields) for s in ids]


def assert_mirror_is_the_destination(district: District, pg) -> None:
    mirror, columns = duckdb_tables(district, ENTITY_TABLES, {})
    assert postgres_tables(pg, ENTITY_TABLES, {}, columns) == mirror


def test_a_district_syncs_into_postgres_and_matches_against_it(tmp_path: Path, pg) -> None:
    district = postgres_district(tmp_path, night(tmp_path / "n1", students("s1", "s2", "s3")),
                                 **CREATE_SCHOOLS)
    first = district.sync()
    assert (first.success, first.status) == (True, "applied"), first.failure

    assert pg_query(pg, "select source_id, status from rostersync.users order by source_id") == [
        ("s1", "active"), ("s2", "active"), ("s3", "active"), ("t1", "active")]
    assert pg_query(pg, "select count(*) from rostersync.enrollments")[0][0] == 4
    assert pg_query(pg, "select count(*) from rostersync.change_feed where run_id = %s",
                    [first.run_id])[0][0] == 10
    assert_mirror_is_the_destination(district, pg)
    constraints = set(pg_query(
        pg, "select t.relname, c.contype from pg_constraint as c "
            "join pg_class as t on t.oid = c.conrelid "
            "where c.connamespace = 'rostersync'::regnamespace"))
    for table in ENTITY_TABLES:
        assert {(table, "p"), (table, "u")} <= constraints
    assert {("enrollments", "f"), ("sections", "f")} <= constraints

    # The app creates a record by hand in its own table; the next night matches it on email.
    pg_query(pg, "insert into rostersync.users (app_id, role, email, first_name, last_name, "
                 "programs, status, origin) values (100, 'student', 's9@example.org', 'Nine', "
                 "'Manual', '{}', 'active', 'manual')")
    second = district.sync(night(tmp_path / "n2", students("s1", "s2", "s3", "s9")))
    assert second.status == "applied", second.failure
    assert district.query("select action, app_id, changed_fields from sync.sync_plan "
                          "where source_id = 's9'")[0][:2] == ("update", 100)
    assert pg_query(pg, "select source_id, origin from rostersync.users where app_id = 100") == [
        ("s9", "manual")]
    assert_mirror_is_the_destination(district, pg)

    again = district.sync(night(tmp_path / "n3", students("s1", "s2", "s3", "s9")))
    assert again.status == "applied" and district.scalar("select count(*) from sync.sync_plan") == 0
    assert pg_query(pg, "select count(*) from rostersync.change_log where run_id = %s",
                    [again.run_id])[0][0] == 0
    assert pg_query(pg, "select run_id, kind from rostersync.applied_runs order by applied_seq") == [
        (first.run_id, "sync"), (second.run_id, "sync"), (again.run_id, "sync")]
    assert district.query("select run_id, status from sync.runs order by finished_at") == [
        (first.run_id, "applied"), (second.run_id, "applied"), (again.run_id, "applied")]


def _sync_both(tmp_path: Path, pg, bundles: list[Path], seed: bool, **config) -> tuple:
    """The same nights into a DuckDB-destination and a PostgreSQL-destination district."""
    duck = make_district(tmp_path / "duckdb", bundles[0], **config)
    post = postgres_district(tmp_path / "postgres", bundles[0], **config)
    if seed:  # the app already holds a roster (the demo's), in each destination
        for district in (duck, post):
            with district_connection(district.warehouse_dir, district.district_id) as con:
                seed_roster(con, bundles[0])
        push_roster_to_postgres(post, pg)
    night_of: dict[str, str] = {}
    for n, bundle in enumerate(bundles):
        for district in (duck, post):
            outcome = district.sync(bundle)
            assert outcome.status == "applied", (district.warehouse_dir, outcome.failure)
            night_of[outcome.run_id] = f"night-{n}"
    return duck, post, night_of


def assert_same_roster(duck: District, pg, night_of: dict[str, str]) -> None:
    tables = (*ENTITY_TABLES, *HISTORY_TABLES, *FEED_TABLES)
    expected, columns = duckdb_tables(duck, tables, night_of)
    found = postgres_tables(pg, tables, night_of, columns)
    for table in tables:
        assert found[table] == expected[table], table


def test_the_demo_syncs_into_postgres_as_into_duckdb(tmp_path: Path, pg) -> None:
    bundles = [tmp_path / "bundles" / "night-0", tmp_path / "bundles" / "night-1"]
    for n, bundle in enumerate(bundles):
        write_oneroster_bundle(bundle, 1100, seed=7, night=n, problems=True)
    duck, post, night_of = _sync_both(tmp_path, pg, bundles, seed=True,
                                      alerts={"open_alert_policy": "hold"})
    assert pg_query(pg, "select count(*) from rostersync.users where origin = 'manual'")[0][0] >= 1
    assert_same_roster(duck, pg, night_of)
    assert_mirror_is_the_destination(post, pg)
    feed = pg_query(pg, "select min(feed_id), max(feed_id), count(*) from rostersync.change_feed")
    assert feed[0][0] == 1 and feed[0][1] == feed[0][2]


@pytest.mark.parametrize("sample", [
    ("oneroster-moodle-fixtures", "Test_full_data_set.zip"),
    ("oneroster-oat-v1p1",),
    ("oneroster-lepo", "ja", "oneroster.zip"),
], ids=["moodle-full", "oat-v1p1", "lepo-ja"])
def test_shared_samples_sync_into_postgres_as_into_duckdb(tmp_path: Path, pg, sample) -> None:
    bundle = sample_path(*sample)
    if not bundle.exists():
        pytest.fail(f"shared sample missing: {bundle}")
    duck, post, night_of = _sync_both(tmp_path, pg, [bundle], seed=False, **CREATE_SCHOOLS)
    assert pg_query(pg, "select count(*) from rostersync.change_log")[0][0] == duck.scalar(
        "select count(*) from roster.change_log") > 0
    assert_same_roster(duck, pg, night_of)
    assert_mirror_is_the_destination(post, pg)


def test_a_held_plan_is_approved_exactly_then_the_roster_restored(tmp_path: Path, pg) -> None:
    district = postgres_district(tmp_path, night(tmp_path / "n1", students("s1", "s2")),
                                 require_approval=True, **CREATE_SCHOOLS)
    held = district.sync()
    assert held.status == "requires_review", held.failure
    assert pg_query(pg, "select count(*) from rostersync.users")[0][0] == 0
    stale = district.sync(night(tmp_path / "n1b", students("s1")))
    assert stale.status == "requires_review"

    approved = run_approval(district.district_id, held.run_id, config_dir=district.config_dir,
                            warehouse_dir=district.warehouse_dir)
    assert approved.success, approved.failure
    assert pg_query(pg, "select source_id from rostersync.users order by source_id") == [
        ("s1",), ("s2",), ("t1",)]
    assert pg_query(pg, "select kind, plan_id from rostersync.applied_runs") == [
        ("approval", held.run_id)]
    assert district.query("select status, decided_run_id from sync.stored_plans "
                          "where plan_id = ?", [held.run_id]) == [("approved", approved.run_id)]
    refused = run_approval(district.district_id, stale.run_id, config_dir=district.config_dir,
                           warehouse_dir=district.warehouse_dir)
    assert not refused.success and "roster.users has 3 rows, 0 at plan time" in refused.failure
    after_approval = {t: pg_query(pg, f"select * from rostersync.{t} order by app_id")
                      for t in ENTITY_TABLES}

    changed = district.sync(night(tmp_path / "n2", [student("s1", "sch1", familyName="New"),
                                                    *students("s3")]))
    assert changed.status == "requires_review"
    second = run_approval(district.district_id, changed.run_id, config_dir=district.config_dir,
                          warehouse_dir=district.warehouse_dir)
    assert second.success, second.failure
    assert pg_query(pg, "select source_id, status, last_name from rostersync.users "
                        "order by source_id")[:3] == [
        ("s1", "active", "New"), ("s2", "inactive", "Familys2"), ("s3", "active", "Familys3")]

    restored = run_review_job("restore_roster", district.district_id, "restore_roster_to_run",
                              {"to_run_id": approved.run_id}, config_dir=district.config_dir,
                              warehouse_dir=district.warehouse_dir)
    assert restored.success, restored.failure
    now = {t: pg_query(pg, f"select * from rostersync.{t} order by app_id") for t in ENTITY_TABLES}
    for table in ENTITY_TABLES:
        before = {row[0]: row[:-1] for row in after_approval[table]}  # without updated_run_id
        for row in now[table]:
            if row[0] in before:
                assert row[:-1] == before[row[0]], table
            else:
                assert "inactive" in row, (table, row)
    assert district.query("select status from sync.runs where run_id = ?",
                          [restored.run_id]) == [("restored",)]
    assert pg_query(pg, "select kind from rostersync.applied_runs order by applied_seq") == [
        ("approval",), ("approval",), ("restore",)]
    assert_mirror_is_the_destination(district, pg)


def test_app_columns_survive_updates_deactivations_and_restores(tmp_path: Path, pg) -> None:
    district = postgres_district(tmp_path, night(tmp_path / "n1", students("s1", "s2", "s3")),
                                 **CREATE_SCHOOLS)
    first = district.sync()
    assert first.status == "applied", first.failure
    pg_query(pg, "alter table rostersync.users add column app_avatar text; "
                 "alter table rostersync.sections add column app_color text not null "
                 "default 'blue'; "
                 "update rostersync.users set app_avatar = 'avatar-' || app_id; "
                 "update rostersync.sections set app_color = 'green'")

    second = district.sync(night(tmp_path / "n2", [student("s1", "sch1", familyName="New"),
                                                   *students("s3", "s4")]))
    assert second.status == "applied", second.failure
    restored = run_review_job("restore_roster", district.district_id, "restore_roster_to_run",
                              {"to_run_id": first.run_id}, config_dir=district.config_dir,
                              warehouse_dir=district.warehouse_dir)
    assert restored.success, restored.failure

    assert pg_query(pg, "select source_id, status, last_name, app_avatar = 'avatar-' || app_id "
                        "from rostersync.users order by source_id") == [
        ("s1", "active", "Familys1", True), ("s2", "active", "Familys2", True),
        ("s3", "active", "Familys3", True), ("s4", "inactive", "Familys4", None),
        ("t1", "active", "Familyt1", True)]
    assert pg_query(pg, "select app_color from rostersync.sections") == [("green",)]
    assert "app_avatar" not in {c for (c,) in district.query(
        "select column_name from information_schema.columns where table_name = 'users'")}
    assert_mirror_is_the_destination(district, pg)


def test_roster_as_of_a_moment_reads_the_destinations_history(tmp_path: Path, pg) -> None:
    district = postgres_district(tmp_path, night(tmp_path / "n1", students("s1", "s2")),
                                 **CREATE_SCHOOLS)
    first = district.sync()
    second = district.sync(night(tmp_path / "n2", students("s1")))
    assert (first.status, second.status) == ("applied", "applied")
    from rostersync_pipeline.lib.storage.destinations.postgres import PostgresDestination
    from rostersync_pipeline.lib.storage.destinations.settings import PostgresDestinationSettings

    destination = PostgresDestination(
        PostgresDestinationSettings(type="postgres", dsn_env=DSN_ENV), district.district_id)
    after_first = district.scalar("select finished_at from sync.runs where run_id = ?",
                                  [first.run_id])
    moment = district.scalar("select now()::timestamp")
    with district_connection(district.warehouse_dir, district.district_id) as con:
        then = destination.as_of(con, "users", after_first)
        now = destination.as_of(con, "users", moment)
    assert sorted((u["source_id"], u["status"]) for u in then) == [
        ("s1", "active"), ("s2", "active"), ("t1", "active")]
    assert sorted((u["source_id"], u["status"]) for u in now) == [
        ("s1", "active"), ("s2", "inactive"), ("t1", "active")]
