"""A PostgreSQL destination under crashes and contention, and its migrations.

The crashes are real: the sync runs in a child process that sends itself SIGKILL at a chosen
point (the child monkeypatches one module function of the PostgreSQL destination; nothing in
the product knows about it), mid-transaction or between the PostgreSQL commit and the DuckDB
run record. The destination must be exactly as before, or the next run must record what was
applied; either way a rerun converges.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from dataclasses import replace
from pathlib import Path

import psycopg2
import pytest

from rostersync_pipeline.lib.apply.plan_tables import CURRENT_PLAN
from rostersync_pipeline.lib.report.run_record import sync_run_summary
from rostersync_pipeline.lib.report.run_status import RunStatus
from rostersync_pipeline.lib.storage.destinations.interface import (
    ENTITY_TABLES,
    DestinationRefused,
)
from rostersync_pipeline.lib.storage.destinations.migrate import (
    Migration,
    MigrationRefused,
    load_migrations,
    migrate,
)
from rostersync_pipeline.lib.storage.destinations.postgres import PostgresDestination
from rostersync_pipeline.lib.storage.destinations.settings import PostgresDestinationSettings
from rostersync_pipeline.lib.storage.warehouse import district_connection
from rostersync_pipeline.runner import SyncOutcome
from rostersync_pipeline_tests.helpers import (
    District,
    enrollment,
    make_district,
    org,
    section,
    student,
    teacher,
    write_bundle,
)
from rostersync_pipeline_tests.storage.pg_destination import (
    DSN_ENV,
    GUARDIANS_NIGHT_0,
    LINKS_NIGHT_0,
    LINKS_NIGHT_1,
    SCHEMA,
    TERMS_NIGHT_0,
    duckdb_tables,
    forget_roles,
    forget_user_schools,
    guardian_links,
    pg_cursor,
    pg_query,
    pg_snapshot,
    postgres_district,
    postgres_tables,
    push_roster_to_postgres,
    section_links,
    user_roles,
    user_school_links,
)

CREATE_SCHOOLS = {"schools": {"create_unmatched": True}}
CHILD_TIMEOUT_S = 240


def night(directory: Path, *student_ids: str, renamed: str = "") -> Path:
    users = [teacher("t1", "sch1"), *(student(s, "sch1", **({"familyName": renamed}
                                                            if renamed and s == "s1" else {}))
                                      for s in student_ids)]
    return write_bundle(
        directory, orgs=[org("sch1", "North High")], users=users,
        classes=[section("sec1", "sch1")],
        enrollments=[enrollment(f"e-{u['sourcedId']}", "sec1", u["sourcedId"], "sch1",
                                role="teacher" if u["role"] == "teacher" else "student")
                     for u in users],
    )


def sync_then_die(district_id: str, config_dir: str, warehouse_dir: str, dsn: str,
                  die_in: str, bulk_load_rows: int | None = None) -> None:
    """Runs in a spawned child: sync the district and SIGKILL this process at ``die_in``
    (``apply_enrollments``: mid-transaction, after the enrollment statements ran;
    ``record_locally``: after the PostgreSQL commit, before the DuckDB run record)."""
    from rostersync_pipeline.lib.storage.destinations import bulk_load, postgres
    from rostersync_pipeline.runner import run_sync

    os.environ[DSN_ENV] = dsn
    if bulk_load_rows is not None:
        bulk_load.BULK_LOAD_ROWS = bulk_load_rows
    real = getattr(postgres, die_in)

    def then_die(*args, **kwargs):
        if die_in == "apply_enrollments":
            real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)

    setattr(postgres, die_in, then_die)
    run_sync(district_id, config_dir=Path(config_dir), warehouse_dir=Path(warehouse_dir))


def killed_sync(district: District, bundle: Path, pg, die_in: str,
                bulk_load_rows: int | None = None) -> None:
    with district.delivered(bundle):
        child = multiprocessing.get_context("spawn").Process(
            target=sync_then_die,
            args=(district.district_id, str(district.config_dir), str(district.warehouse_dir),
                  pg.url, die_in, bulk_load_rows))
        child.start()
        child.join(CHILD_TIMEOUT_S)
        if child.is_alive():
            child.kill()
            child.join()
            pytest.fail("the sync child did not reach its kill point in time")
    assert child.exitcode == -signal.SIGKILL


def mirror_matches(district: District, pg) -> bool:
    mirror, columns = duckdb_tables(district, ENTITY_TABLES, {})
    return postgres_tables(pg, ENTITY_TABLES, {}, columns) == mirror


@pytest.fixture
def synced(tmp_path: Path, pg) -> District:
    district = postgres_district(tmp_path, night(tmp_path / "n1", "s1", "s2", "s3"),
                                 **CREATE_SCHOOLS)
    assert district.sync().status == "applied"
    return district


def test_a_process_killed_mid_apply_leaves_the_destination_exactly_as_it_was(
    synced: District, tmp_path: Path, pg
) -> None:
    before = pg_snapshot(pg)
    runs_before = synced.query("select run_id from sync.runs order by all")
    bundle = night(tmp_path / "n2", "s1", "s3", "s4", renamed="Renamed")

    killed_sync(synced, bundle, pg, "apply_enrollments")

    assert pg_snapshot(pg) == before
    assert synced.query("select run_id from sync.runs where status <> 'not_applied' "
                        "order by all") == runs_before
    rerun = synced.sync(bundle)
    assert rerun.status == "applied", rerun.failure
    assert rerun.summary.counts["students"] == {"create": 1, "update": 1, "deactivate": 1,
                                                "unchanged": 1}
    assert pg_query(pg, "select last_name from rostersync.users where source_id = 's1'") == [
        ("Renamed",)]
    assert mirror_matches(synced, pg)
    assert synced.sync(bundle).summary.counts["students"] == {"unchanged": 3}


def test_a_process_killed_after_the_commit_is_recorded_by_the_next_run(
    synced: District, tmp_path: Path, pg
) -> None:
    bundle = night(tmp_path / "n2", "s1", "s2", "s3", "s4")

    killed_sync(synced, bundle, pg, "record_locally")

    applied = pg_query(pg, "select run_id from rostersync.applied_runs order by applied_seq")
    killed_run = applied[-1][0]
    assert len(applied) == 2
    assert synced.scalar("select count(*) from sync.runs where run_id = ?", [killed_run]) == 0
    assert pg_query(pg, "select count(*) from rostersync.users where source_id = 's4'") == [(1,)]
    assert synced.scalar("select count(*) from roster.users where source_id = 's4'") == 0

    healed = synced.sync(bundle)

    assert healed.status == "applied", healed.failure
    assert healed.summary.counts["students"] == {"unchanged": 4}
    recorded = synced.query("select status, status_reason, counts->>'$.students.create' "
                            "from sync.runs where run_id = ?", [killed_run])
    assert recorded[0][0] == "applied" and recorded[0][2] == "1"
    assert "recorded by a later run" in recorded[0][1]
    # s4: the student, her link to sch1, her enrollment
    assert synced.scalar("select changes_applied from sync.guard_decision where run_id = ?",
                         [killed_run]) == 3
    assert synced.scalar("select count(*) from roster.change_log where run_id = ?",
                         [killed_run]) == 3
    assert mirror_matches(synced, pg)


def constraints_and_indexes(pg) -> list[tuple]:
    return pg_query(pg, "select t.relname, c.conname, pg_get_constraintdef(c.oid) "
                        "from pg_constraint as c join pg_class as t on t.oid = c.conrelid "
                        "where c.connamespace = 'rostersync'::regnamespace "
                        "union all select tablename, indexname, indexdef from pg_indexes "
                        "where schemaname = 'rostersync' order by 1, 2, 3")


def test_a_first_load_killed_mid_bulk_load_leaves_an_empty_destination_with_its_constraints(
    tmp_path: Path, pg, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rostersync_pipeline.lib.storage.destinations import bulk_load

    bundle = TERMS_NIGHT_0.write(tmp_path / "n1")
    district = postgres_district(tmp_path, bundle, **CREATE_SCHOOLS)
    _held_destination(district).ensure_schema()  # migrated, every table empty
    schema = constraints_and_indexes(pg)
    assert {("terms", "terms_parent_term_app_id_fkey"), ("courses", "courses_school_app_id_fkey"),
            ("sections", "sections_term_app_id_fkey"),
            ("sections", "sections_course_app_id_idx"),
            ("user_schools", "user_schools_user_app_id_fkey"),
            ("user_schools", "user_schools_user_app_id_school_app_id_key"),
            ("user_schools", "user_schools_school_app_id_idx"),
            ("guardian_relationships", "guardian_relationships_guardian_app_id_fkey"),
            ("guardian_relationships", "guardian_relationships_student_app_id_fkey"),
            ("guardian_relationships",
             "guardian_relationships_guardian_app_id_student_app_id_key"),
            ("guardian_relationships", "guardian_relationships_student_app_id_idx"),
            ("guardian_relationships_history",
             "guardian_relationships_history_current_idx")} <= {row[:2] for row in schema}
    before = pg_snapshot(pg)

    killed_sync(district, bundle, pg, "apply_enrollments", bulk_load_rows=1)

    assert pg_snapshot(pg) == before
    assert constraints_and_indexes(pg) == schema
    monkeypatch.setattr(bulk_load, "BULK_LOAD_ROWS", 1)
    loaded = district.sync(bundle)
    assert loaded.status == "applied", loaded.failure
    assert constraints_and_indexes(pg) == schema
    analyzed = pg_query(pg, "select relname from pg_stat_user_tables where schemaname = "
                            "'rostersync' and last_analyze is not null order by 1")
    assert {"enrollments", "enrollments_history", "users", "user_schools", "terms", "courses",
            "sections", "change_feed"} <= {r for (r,) in analyzed}
    assert pg_query(pg, "select count(*) from rostersync.enrollments") == [(4,)]
    assert pg_query(pg, "select count(*) from rostersync.enrollments_history") == [(4,)]
    assert pg_query(pg, "select count(*), count(parent_term_app_id) from rostersync.terms") == [
        (3, 2)]
    assert pg_query(pg, "select count(*) from rostersync.user_schools") == [(3,)]
    assert mirror_matches(district, pg)
    assert district.sync(bundle).summary.counts["students"] == {"unchanged": 2}


def _held_destination(district: District) -> PostgresDestination:
    settings = PostgresDestinationSettings(type="postgres", dsn_env=DSN_ENV, lock_wait_s=0.5)
    return PostgresDestination(settings, district.district_id)


def _apply_current_plan(district: District, destination: PostgresDestination) -> None:
    with district_connection(district.warehouse_dir, district.district_id) as con:
        summary = sync_run_summary(con, district_id=district.district_id, run_id="manual-run",
                                   status=RunStatus.APPLIED)
        destination.apply(con, "manual-run", CURRENT_PLAN, lambda applied: None,
                          summary=replace(summary, started_at=None))


def test_an_apply_waits_for_the_advisory_lock_then_gives_up_changing_nothing(
    tmp_path: Path, pg
) -> None:
    district = postgres_district(tmp_path, night(tmp_path / "n1", "s1"), dry_run=True,
                                 **CREATE_SCHOOLS)
    assert district.sync().status == "dry_run"
    before = pg_snapshot(pg)
    other = psycopg2.connect(**pg.connect_kwargs())
    try:
        with other.cursor() as cursor:  # another deployment, mid-apply
            cursor.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))",
                           [f"rostersync/apply/{district.district_id}"])
            with pytest.raises(DestinationRefused, match="another rostersync process"):
                _apply_current_plan(district, _held_destination(district))
        other.rollback()
    finally:
        other.close()
    assert pg_snapshot(pg) == before


def test_an_apply_from_a_stale_mirror_is_refused(tmp_path: Path, pg) -> None:
    district = postgres_district(tmp_path, night(tmp_path / "n1", "s1"), dry_run=True,
                                 **CREATE_SCHOOLS)
    assert district.sync().status == "dry_run"
    elsewhere = postgres_district(tmp_path / "other", night(tmp_path / "o1", "s1", "s2"),
                                  **CREATE_SCHOOLS)  # the same district, another deployment
    assert elsewhere.sync().status == "applied"
    before = pg_snapshot(pg)
    with pytest.raises(DestinationRefused, match="changed since this run read it"):
        _apply_current_plan(district, _held_destination(district))
    assert pg_snapshot(pg) == before


def test_migrations_are_idempotent_checksummed_and_stay_in_their_schema(pg) -> None:
    conn = psycopg2.connect(**pg.connect_kwargs())
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute("create table public.app_courses (id int primary key, title text)")
            cursor.execute("insert into public.app_courses values (1, 'Algebra')")
        migrations = load_migrations()
        assert migrate(conn, "rostersync") == [m.version for m in migrations]
        assert migrate(conn, "rostersync") == []
        assert pg_query(pg, "select version, name from rostersync.schema_migrations "
                            "order by version") == [
            (1, "roster"), (2, "change_feed"), (3, "terms_courses"), (4, "user_schools"),
            (5, "enrollments_is_primary"), (6, "enrollments_source_id_not_unique"),
            (7, "guardian_relationships"), (8, "users_roles")]
        outside = pg_query(pg, "select table_schema, table_name from information_schema.tables "
                               "where table_schema not in ('rostersync', 'pg_catalog', "
                               "'information_schema')")
        assert outside == [("public", "app_courses")]
        assert pg_query(pg, "select * from public.app_courses") == [(1, "Algebra")]

        edited = [replace(migrations[0], sql=migrations[0].sql + "\n-- edited\n"),
                  *migrations[1:]]
        with pytest.raises(MigrationRefused, match="must not be edited"):
            migrate(conn, "rostersync", edited)
        with pytest.raises(MigrationRefused, match="newer than this code"):
            migrate(conn, "rostersync", migrations[:1])
        newer = [*migrations, Migration(len(migrations) + 1, "app_index",
                                        "create index users_email_idx on users (email)")]
        assert migrate(conn, "rostersync", newer) == [len(migrations) + 1]
        assert pg_query(pg, "select count(*) from pg_indexes where schemaname = 'rostersync' "
                            "and indexname = 'users_email_idx'") == [(1,)]
    finally:
        conn.close()


# The rostersync tables a destination had before migration 0003 (terms and courses).
BEFORE_0003 = ("schools", "users", "sections", "enrollments", "schools_history",
               "users_history", "sections_history", "enrollments_history", "change_log")


def rows_by_column(pg, tables: tuple[str, ...]) -> dict[str, tuple[list[str], list[tuple]]]:
    with pg_cursor(pg) as cursor:
        found = {}
        for table in tables:
            cursor.execute(f"select * from {SCHEMA}.{table}")
            found[table] = ([d[0] for d in cursor.description], sorted(cursor.fetchall(), key=repr))
        return found


@pytest.fixture(scope="module")
def duck_first(tmp_path_factory: pytest.TempPathFactory) -> tuple[District, SyncOutcome]:
    """A DuckDB district after its first sync of night(s1, s2), once per module, and that
    sync's outcome; a test goes on from its own copy."""
    root = tmp_path_factory.mktemp("duck-first")
    duck = make_district(root, night(root / "n1", "s1", "s2"), **CREATE_SCHOOLS)
    first = duck.sync()
    assert first.status == "applied", first.failure
    return duck, first


def test_a_destination_made_before_terms_and_courses_migrates_keeping_its_rows(
    tmp_path: Path, pg, duck_first: tuple[District, SyncOutcome]
) -> None:
    """A roster applied at migration 0002 (a DuckDB district's, copied) gains terms, courses and
    the sections' new columns (and user_schools, guardian_relationships, users.roles), keeps
    every row, then syncs terms and courses like DuckDB."""
    duck, first = duck_first[0].copy_to(tmp_path / "duckdb"), duck_first[1]
    forget_user_schools(duck)
    forget_roles(duck)
    push_roster_to_postgres(duck, pg, tables=BEFORE_0003, up_to=2)
    assert pg_query(pg, "select version from rostersync.schema_migrations") == [(1,), (2,)]
    before = rows_by_column(pg, BEFORE_0003)
    assert before["sections_history"][1] and before["change_log"][1]

    conn = psycopg2.connect(**pg.connect_kwargs())
    try:
        assert migrate(conn, SCHEMA) == [3, 4, 5, 6, 7, 8]
    finally:
        conn.close()

    after = rows_by_column(pg, BEFORE_0003)
    for table, (columns, rows) in before.items():
        kept = [after[table][0].index(c) for c in columns]
        assert sorted((tuple(row[i] for i in kept) for row in after[table][1]), key=repr) == rows
        assert after[table][0][:len(columns)] == columns, table
    assert after["sections"][0][len(before["sections"][0]):] == ["term_app_id", "course_app_id"]
    assert after["users"][0][len(before["users"][0]):] == ["roles"]
    assert pg_query(pg, "select count(*), count(roles) from rostersync.users") == [(3, 0)]
    assert pg_query(pg, "select count(*), count(term_app_id) + count(course_app_id) "
                        "from rostersync.sections_history") == [(1, 0)]
    assert pg_query(pg, "select count(*) from rostersync.terms") == [(0,)]
    assert pg_query(pg, "select count(*) from rostersync.user_schools") == [(0,)]
    assert pg_query(pg, "select count(*) from rostersync.guardian_relationships") == [(0,)]

    post = postgres_district(tmp_path / "postgres", night(tmp_path / "n1", "s1", "s2"),
                             **CREATE_SCHOOLS)
    bundle = TERMS_NIGHT_0.write(tmp_path / "n2")
    night_of = {first.run_id: "night-0"}
    for district in (duck, post):
        outcome = district.sync(bundle)
        assert outcome.status == "applied", (district.warehouse_dir, outcome.failure)
        night_of[outcome.run_id] = "night-1"
    tables = (*ENTITY_TABLES, *(f"{t}_history" for t in ENTITY_TABLES), "change_log")
    expected, columns = duckdb_tables(duck, tables, night_of)
    assert postgres_tables(pg, tables, night_of, columns) == expected
    assert section_links(pg) == {"sec1": ("active", "Fall", "2025-2026", "MATH1", "2025-2026"),
                                 "sec2": ("active", "Spring", "2025-2026", "ART", None)}
    assert mirror_matches(post, pg)


# The rostersync tables a destination had before migration 0004 (user_schools).
BEFORE_0004 = ("schools", "terms", "courses", "users", "sections", "enrollments",
               "schools_history", "terms_history", "courses_history", "users_history",
               "sections_history", "enrollments_history", "change_log")


def test_a_destination_made_before_user_schools_migrates_keeping_its_rows(
    tmp_path: Path, pg
) -> None:
    """A roster applied at migration 0003 (a DuckDB district's, without its links, copied)
    gains user_schools, keeps every row; the next sync links every user it imports to their
    schools, like a DuckDB district made before user_schools (and users.roles)."""
    duck = make_district(tmp_path / "duckdb", LINKS_NIGHT_0.write(tmp_path / "n1"),
                         **CREATE_SCHOOLS)
    first = duck.sync()
    assert first.status == "applied", first.failure
    forget_user_schools(duck)
    forget_roles(duck)
    push_roster_to_postgres(duck, pg, tables=BEFORE_0004, up_to=3)
    assert pg_query(pg, "select version from rostersync.schema_migrations") == [(1,), (2,), (3,)]
    before = rows_by_column(pg, BEFORE_0004)
    assert before["users_history"][1] and before["change_log"][1]

    conn = psycopg2.connect(**pg.connect_kwargs())
    try:
        assert migrate(conn, SCHEMA, load_migrations()[:4]) == [4]
    finally:
        conn.close()

    assert rows_by_column(pg, BEFORE_0004) == before
    assert pg_query(pg, "select count(*) from rostersync.user_schools") == [(0,)]

    post = postgres_district(tmp_path / "postgres", LINKS_NIGHT_0.write(tmp_path / "n1"),
                             **CREATE_SCHOOLS)
    bundle = LINKS_NIGHT_1.write(tmp_path / "n2")
    night_of = {first.run_id: "night-0"}
    for district in (duck, post):
        outcome = district.sync(bundle)
        assert outcome.status == "applied", (district.warehouse_dir, outcome.failure)
        assert outcome.summary.counts["user_schools"] == {"create": 4}
        night_of[outcome.run_id] = "night-1"
    tables = (*ENTITY_TABLES, *(f"{t}_history" for t in ENTITY_TABLES), "change_log")
    expected, columns = duckdb_tables(duck, tables, night_of)
    assert postgres_tables(pg, tables, night_of, columns) == expected
    assert user_school_links(pg) == {
        ("t1", "sch1"): (False, "active"), ("t1", "sch2"): (True, "active"),
        ("s1", "sch2"): (True, "active"), ("s2", "sch1"): (True, "active")}
    assert mirror_matches(post, pg)


# The rostersync tables a destination had before migration 0007 (guardian_relationships).
BEFORE_0007 = ("schools", "terms", "courses", "users", "user_schools", "sections", "enrollments",
               "schools_history", "terms_history", "courses_history", "users_history",
               "user_schools_history", "sections_history", "enrollments_history", "change_log")


def test_a_destination_made_before_guardians_and_roles_migrates_keeping_its_rows(
    tmp_path: Path, pg, duck_first: tuple[District, SyncOutcome]
) -> None:
    """A roster applied at migration 0006 (a DuckDB district's, without roles, copied) gains
    guardian_relationships and users.roles (empty), keeps every row; the next sync imports the
    guardians, links them to their students and fills in every user's roles, like a DuckDB
    district made before guardians and roles."""
    duck, first = duck_first[0].copy_to(tmp_path / "duckdb"), duck_first[1]
    forget_roles(duck)
    push_roster_to_postgres(duck, pg, tables=BEFORE_0007, up_to=6)
    assert pg_query(pg, "select max(version) from rostersync.schema_migrations") == [(6,)]
    before = rows_by_column(pg, BEFORE_0007)
    assert before["users_history"][1] and before["user_schools"][1] and before["change_log"][1]

    conn = psycopg2.connect(**pg.connect_kwargs())
    try:
        assert migrate(conn, SCHEMA) == [7, 8]
    finally:
        conn.close()

    after = rows_by_column(pg, BEFORE_0007)
    for table, (columns, rows) in before.items():
        added = ["roles"] if table in ("users", "users_history") else []
        assert after[table][0] == [*columns, *added], table
        assert sorted((row[:len(columns)] for row in after[table][1]), key=repr) == rows, table
        assert all(row[len(columns):] == (None,) * len(added) for row in after[table][1]), table
    assert len(after["users"][1]) == 3
    assert pg_query(pg, "select count(*) from rostersync.guardian_relationships") == [(0,)]
    assert pg_query(pg, "select count(*) from rostersync.guardian_relationships_history") == [
        (0,)]

    post = postgres_district(tmp_path / "postgres", night(tmp_path / "n1", "s1", "s2"),
                             **CREATE_SCHOOLS)
    bundle = GUARDIANS_NIGHT_0.write(tmp_path / "n2")
    night_of = {first.run_id: "night-0"}
    for district in (duck, post):
        outcome = district.sync(bundle)
        assert outcome.status == "applied", (district.warehouse_dir, outcome.failure)
        counts = outcome.summary.counts
        assert (counts["students"], counts["educators"], counts["guardians"],
                counts["guardian_relationships"]) == (
            {"create": 1, "update": 2}, {"update": 1}, {"create": 3}, {"create": 5})
        night_of[outcome.run_id] = "night-1"
    tables = (*ENTITY_TABLES, *(f"{t}_history" for t in ENTITY_TABLES), "change_log")
    expected, columns = duckdb_tables(duck, tables, night_of)
    assert postgres_tables(pg, tables, night_of, columns) == expected
    assert guardian_links(pg) == {pair: (None, "active") for pair in (
        ("g1", "s1"), ("g1", "s2"), ("g2", "s2"), ("g2", "s3"), ("g3", "s1"))}
    assert user_roles(pg) == {
        "t1": ("educator", "active", ["teacher"]), "s1": ("student", "active", ["student"]),
        "s2": ("student", "active", ["student"]), "s3": ("student", "active", ["student"]),
        "g1": ("guardian", "active", ["parent"]), "g2": ("guardian", "active", ["guardian"]),
        "g3": ("guardian", "active", ["relative"])}
    assert pg_query(pg, "select changed_fields, count(*) from rostersync.change_log "
                        "where action = 'update' group by 1") == [(["roles"], 3)]
    assert mirror_matches(post, pg)


def test_a_schema_holds_one_districts_roster(tmp_path: Path, pg) -> None:
    first = postgres_district(tmp_path / "a", night(tmp_path / "a1", "s1"), "district-a",
                              **CREATE_SCHOOLS)
    second = postgres_district(tmp_path / "b", night(tmp_path / "b1", "s1"), "district-b",
                               **CREATE_SCHOOLS)
    assert first.sync().status == "applied"
    refused = second.sync()
    assert not refused.success
    assert "holds the roster of district 'district-a', not 'district-b'" in refused.failure
    third = postgres_district(tmp_path / "c", night(tmp_path / "c1", "s1"), "district-b",
                              destination={"schema": "district_b"}, **CREATE_SCHOOLS)
    assert third.sync().status == "applied"
    assert pg_query(pg, "select count(*) from district_b.users") == [(2,)]
