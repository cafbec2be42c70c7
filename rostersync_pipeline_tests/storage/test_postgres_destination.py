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
    synced_sample,
    teacher,
    write_bundle,
)
from rostersync_pipeline_tests.storage.pg_destination import (
    DSN_ENV,
    contacts_nights,
    duckdb_tables,
    guardian_links,
    guardians_nights,
    pg_cursor,
    pg_query,
    postgres_district,
    postgres_tables,
    push_roster_to_postgres,
    section_links,
    terms_and_courses_nights,
    user_roles,
    user_school_links,
    user_schools_nights,
)
from rostersync_pipeline_tests.transform.bad_input import NIGHT_0

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
                    [first.run_id])[0][0] == 14  # 4 users, 4 user-school links, 4 enrollments
    assert_mirror_is_the_destination(district, pg)
    constraints = set(pg_query(
        pg, "select t.relname, c.contype from pg_constraint as c "
            "join pg_class as t on t.oid = c.conrelid "
            "where c.connamespace = 'rostersync'::regnamespace"))
    for table in ENTITY_TABLES:  # an enrollment's source id is not unique (migration 0006)
        assert (table, "p") in constraints
        assert ((table, "u") in constraints) == (table != "enrollments"), table
    assert {("enrollments", "f"), ("sections", "f"), ("user_schools", "f")} <= constraints

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


def assert_links_filled(pg) -> None:
    """Compared tables that are not empty: terms with parents, courses with school years,
    sections pointing at both, users linked to their (primary) schools."""
    for statement in (
        "select count(*) filter (where is_primary), count(*) filter (where status = 'active') "
        "from rostersync.user_schools",
        "select count(parent_term_app_id) from rostersync.terms",
        "select count(school_app_id), count(school_year_app_id) from rostersync.courses",
        "select count(term_app_id), count(course_app_id) from rostersync.sections",
    ):
        assert min(pg_query(pg, statement)[0]) > 0, statement


def test_the_demo_syncs_into_postgres_as_into_duckdb(tmp_path: Path, pg) -> None:
    bundles = [tmp_path / "bundles" / "night-0", tmp_path / "bundles" / "night-1"]
    for n, bundle in enumerate(bundles):
        write_oneroster_bundle(bundle, 1100, seed=7, night=n, problems=True)
    duck, post, night_of = _sync_both(tmp_path, pg, bundles, seed=True,
                                      alerts={"open_alert_policy": "hold"})
    assert pg_query(pg, "select count(*) from rostersync.users where origin = 'manual'")[0][0] >= 1
    assert_same_roster(duck, pg, night_of)
    assert_mirror_is_the_destination(post, pg)
    assert_links_filled(pg)
    feed = pg_query(pg, "select min(feed_id), max(feed_id), count(*) from rostersync.change_feed")
    assert feed[0][0] == 1 and feed[0][1] == feed[0][2]


@pytest.mark.parametrize("sample", [
    ("oneroster-moodle-fixtures", "Test_full_data_set.zip"),
    ("oneroster-oat-v1p1",),
    ("oneroster-lepo", "ja", "oneroster.zip"),
], ids=["moodle-full", "oat-v1p1", "lepo-ja"])
def test_shared_samples_sync_into_postgres_as_into_duckdb(tmp_path: Path, pg, sample,
                                                         session_cache: Path) -> None:
    """The DuckDB district is the session's sync of the sample (shared with the other sample
    tests, same config), copied."""
    bundle = sample_path(*sample)
    if not bundle.exists():
        pytest.fail(f"shared sample missing: {bundle}")
    synced, first = synced_sample(session_cache, bundle)
    assert first.status == "applied", first.failure
    duck = synced.copy_to(tmp_path / "duckdb")
    post = postgres_district(tmp_path / "postgres", bundle, **CREATE_SCHOOLS)
    outcome = post.sync()
    assert outcome.status == "applied", (post.warehouse_dir, outcome.failure)
    night_of = {first.run_id: "night-0", outcome.run_id: "night-0"}
    assert pg_query(pg, "select count(*) from rostersync.change_log")[0][0] == duck.scalar(
        "select count(*) from roster.change_log") > 0
    assert_same_roster(duck, pg, night_of)
    assert_mirror_is_the_destination(post, pg)


def roster_without_updated_run_id(pg) -> dict[str, dict[int, dict]]:
    """Every roster table of the destination by app id, each row by column name."""
    found = {}
    with pg_cursor(pg) as cursor:
        for table in ENTITY_TABLES:
            cursor.execute(f"select * from rostersync.{table}")
            names = [d[0] for d in cursor.description]
            found[table] = {row[0]: {n: v for n, v in zip(names, row, strict=True)
                                     if n != "updated_run_id"} for row in cursor.fetchall()}
    return found


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
    after_approval = roster_without_updated_run_id(pg)

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
    now = roster_without_updated_run_id(pg)
    for table in ENTITY_TABLES:
        for app_id, row in now[table].items():
            if app_id in after_approval[table]:
                assert row == after_approval[table][app_id], table
            else:
                assert row["status"] == "inactive", (table, row)
    assert district.query("select status from sync.runs where run_id = ?",
                          [restored.run_id]) == [("restored",)]
    assert pg_query(pg, "select kind from rostersync.applied_runs order by applied_seq") == [
        ("approval",), ("approval",), ("restore",)]
    assert_mirror_is_the_destination(district, pg)


def test_terms_and_courses_are_approved_and_restored_in_postgres_as_in_duckdb(
    tmp_path: Path, pg
) -> None:
    bundles = terms_and_courses_nights(tmp_path / "bundles")
    duck = make_district(tmp_path / "duckdb", bundles[0], require_approval=True,
                         **CREATE_SCHOOLS)
    post = postgres_district(tmp_path / "postgres", bundles[0], require_approval=True,
                             **CREATE_SCHOOLS)
    night_of: dict[str, str] = {}
    for district in (duck, post):
        approved = []
        for n, bundle in enumerate(bundles):
            held = district.sync(bundle)
            assert held.status == "requires_review", (district.warehouse_dir, held.failure)
            outcome = run_approval(district.district_id, held.run_id,
                                   config_dir=district.config_dir,
                                   warehouse_dir=district.warehouse_dir)
            assert outcome.success, (district.warehouse_dir, outcome.failure)
            night_of[outcome.run_id] = f"night-{n}"
            approved.append(outcome.run_id)
        if district is post:
            assert section_links(pg) == {
                "sec1": ("active", "Summer 1", "Summer", "MATH1", "2025-2026"),
                "sec2": ("active", "Spring", "2025-2026", "SCI", "2025-2026")}
            assert sorted(pg_query(pg, "select source_id, status from rostersync.courses")) == [
                ("C-MATH", "active"), ("C-SCI", "active"), ("art", "inactive")]
        restored = run_review_job("restore_roster", district.district_id,
                                  "restore_roster_to_run", {"to_run_id": approved[0]},
                                  config_dir=district.config_dir,
                                  warehouse_dir=district.warehouse_dir)
        assert restored.success, (district.warehouse_dir, restored.failure)
        night_of[restored.run_id] = "restore"

    assert_same_roster(duck, pg, night_of)
    assert_mirror_is_the_destination(post, pg)
    assert section_links(pg) == {"sec1": ("active", "Fall", "2025-2026", "MATH1", "2025-2026"),
                                 "sec2": ("active", "Spring", "2025-2026", "ART", None)}
    # terms created since are deactivated as they are (their ids from the last night)
    assert sorted(pg_query(pg, "select source_id, status from rostersync.terms")) == [
        ("T-SUM", "inactive"), ("T-SUM-1", "inactive"), ("fall", "active"),
        ("spring", "active"), ("sy", "active")]
    assert pg_query(pg, "select entity, action, count(*) from rostersync.change_feed "
                        "where entity in ('terms', 'courses') group by 1, 2 order by 1, 2") == [
        ("courses", "create", 3), ("courses", "deactivate", 1), ("courses", "reactivate", 1),
        ("courses", "update", 4), ("terms", "create", 5), ("terms", "deactivate", 2),
        ("terms", "update", 9)]


def test_user_schools_are_synced_and_restored_in_postgres_as_in_duckdb(
    tmp_path: Path, pg
) -> None:
    bundles = user_schools_nights(tmp_path / "bundles")
    duck = make_district(tmp_path / "duckdb", bundles[0], **CREATE_SCHOOLS)
    post = postgres_district(tmp_path / "postgres", bundles[0], **CREATE_SCHOOLS)
    night_of: dict[str, str] = {}
    expected_links = [
        {("t1", "sch1"): (True, "active"), ("t1", "sch2"): (False, "active")},
        {("t1", "sch1"): (False, "active"), ("t1", "sch2"): (True, "active")},
        {("t1", "sch1"): (False, "inactive"), ("t1", "sch2"): (True, "active")},
        {("t1", "sch1"): (True, "active"), ("t1", "sch2"): (False, "active")},
    ]
    for district in (duck, post):
        synced = []
        for n, bundle in enumerate(bundles):
            outcome = district.sync(bundle)
            assert outcome.status == "applied", (district.warehouse_dir, outcome.failure)
            night_of[outcome.run_id] = f"night-{n}"
            synced.append(outcome.run_id)
            if district is post:
                assert user_school_links(pg) == {("s1", "sch2"): (True, "active"),
                                                 ("s2", "sch1"): (True, "active"),
                                                 **expected_links[n]}, f"night-{n}"
        restored = run_review_job("restore_roster", district.district_id,
                                  "restore_roster_to_run", {"to_run_id": synced[2]},
                                  config_dir=district.config_dir,
                                  warehouse_dir=district.warehouse_dir)
        assert restored.success, (district.warehouse_dir, restored.failure)
        night_of[restored.run_id] = "restore"

    assert_same_roster(duck, pg, night_of)
    assert_mirror_is_the_destination(post, pg)
    assert user_school_links(pg) == {("s1", "sch2"): (True, "active"),
                                     ("s2", "sch1"): (True, "active"), **expected_links[2]}
    assert pg_query(pg, "select action, changed_fields, count(*) from rostersync.change_feed "
                        "where entity = 'user_schools' group by 1, 2 order by 1, 2") == [
        ("create", ["user_app_id", "school_app_id", "is_primary"], 4),
        ("deactivate", [], 1), ("deactivate", ["is_primary"], 1),
        ("reactivate", ["is_primary"], 1), ("update", ["is_primary"], 4)]
    # 4 created, then 2 + 1 + 2 versions by the nights and 2 by the restore
    assert pg_query(pg, "select count(*), count(*) filter (where valid_to is null) "
                        "from rostersync.user_schools_history") == [(11, 4)]


def test_guardians_and_roles_are_synced_and_restored_in_postgres_as_in_duckdb(
    tmp_path: Path, pg
) -> None:
    """Guardians are users of role guardian linked to their students; every user keeps the
    source's role words (OneRoster 1.1: one each). Three nights then a restore to the first,
    into DuckDB and PostgreSQL: the same rows, and the links and roles each night says."""
    bundles = guardians_nights(tmp_path / "bundles")
    duck = make_district(tmp_path / "duckdb", bundles[0], **CREATE_SCHOOLS)
    post = postgres_district(tmp_path / "postgres", bundles[0], **CREATE_SCHOOLS)
    night_of: dict[str, str] = {}
    active, inactive = "active", "inactive"
    night_0 = {("g1", "s1"): active, ("g1", "s2"): active, ("g2", "s2"): active,
               ("g2", "s3"): active, ("g3", "s1"): active}
    expected_links = [
        night_0,
        {**night_0, ("g1", "s2"): inactive, ("g3", "s1"): inactive, ("g4", "s2"): active,
         ("g4", "s3"): active},
        {**night_0, ("g3", "s1"): inactive, ("g4", "s2"): active, ("g4", "s3"): active,
         ("g5", "s3"): active},
    ]
    guardians_0 = {"g1": (active, ["parent"]), "g2": (active, ["guardian"]),
                   "g3": (active, ["relative"])}
    expected_guardians = [
        guardians_0,
        {**guardians_0, "g2": (active, ["parent"]), "g3": (inactive, ["relative"]),
         "g4": (active, ["parent"])},
        {**guardians_0, "g2": (active, ["parent"]), "g3": (inactive, ["relative"]),
         "g4": (active, ["parent"]), "g5": (active, ["parent"])},
    ]
    for district in (duck, post):
        synced = []
        for n, bundle in enumerate(bundles):
            outcome = district.sync(bundle)
            assert outcome.status == "applied", (district.warehouse_dir, outcome.failure)
            night_of[outcome.run_id] = f"night-{n}"
            synced.append(outcome.run_id)
            if district is post:
                assert {pair: status for pair, (_, status) in guardian_links(pg).items()} == (
                    expected_links[n]), f"night-{n}"
                assert {source_id: (status, roles) for source_id, (role, status, roles)
                        in user_roles(pg).items() if role == "guardian"} == (
                    expected_guardians[n]), f"night-{n}"
        restored = run_review_job("restore_roster", district.district_id,
                                  "restore_roster_to_run", {"to_run_id": synced[0]},
                                  config_dir=district.config_dir,
                                  warehouse_dir=district.warehouse_dir)
        assert restored.success, (district.warehouse_dir, restored.failure)
        night_of[restored.run_id] = "restore"

    assert_same_roster(duck, pg, night_of)
    assert_mirror_is_the_destination(post, pg)
    # g1 (shared by siblings s1 and s2) is one user with a link per sibling
    assert pg_query(pg, "select count(*) from rostersync.users where source_id = 'g1'") == [(1,)]
    # the first night again; guardians and links created since are deactivated as they are
    assert guardian_links(pg) == {**{pair: (None, active) for pair in night_0},
                                  ("g4", "s2"): (None, inactive),
                                  ("g4", "s3"): (None, inactive),
                                  ("g5", "s3"): (None, inactive)}
    assert user_roles(pg) == {
        "t1": ("educator", active, ["teacher"]), "s1": ("student", active, ["student"]),
        "s2": ("student", active, ["student"]), "s3": ("student", active, ["student"]),
        **{g: ("guardian", status, roles) for g, (status, roles) in guardians_0.items()},
        "g4": ("guardian", inactive, ["parent"]), "g5": ("guardian", inactive, ["parent"])}
    assert pg_query(pg, "select distinct grade, school_app_id, birth_date, programs "
                        "from rostersync.users where role = 'guardian'") == [
        (None, None, None, [])]
    assert pg_query(pg, "select entity, action, changed_fields, count(*) "
                        "from rostersync.change_feed "
                        "where entity in ('guardians', 'guardian_relationships') "
                        "group by 1, 2, 3 order by 1, 2, 3") == [
        ("guardian_relationships", "create",
         ["guardian_app_id", "student_app_id", "relationship"], 8),
        ("guardian_relationships", "deactivate", [], 5),
        ("guardian_relationships", "reactivate", [], 2),
        ("guardians", "create", ["source_id", "sis_id", "email", "username", "first_name",
                                 "last_name", "roles"], 5),
        ("guardians", "deactivate", [], 3),
        ("guardians", "reactivate", [], 1),
        ("guardians", "update", ["roles"], 2)]
    # 5 created, then 4 + 2 versions by the nights and 4 by the restore
    assert pg_query(pg, "select count(*), count(*) filter (where valid_to is null) "
                        "from rostersync.guardian_relationships_history") == [(15, 8)]


def test_clever_contacts_relationships_are_updated_in_postgres_as_in_duckdb(
    tmp_path: Path, pg
) -> None:
    """A Clever contact names its relationship to each student: a changed word is an update of
    the link, a word no longer sent keeps the stored one."""
    duck, post, night_of = _sync_both(tmp_path, pg, contacts_nights(tmp_path / "bundles"),
                                      seed=False, source={"type": "clever_csv"},
                                      **CREATE_SCHOOLS)
    assert_same_roster(duck, pg, night_of)
    assert_mirror_is_the_destination(post, pg)
    assert guardian_links(pg) == {("P1", "1001"): ("Mother", "active"),
                                  ("P1", "1002"): ("Stepmother", "active"),
                                  ("P2", "1003"): ("Uncle", "active")}
    assert pg_query(pg, "select action, changed_fields, count(*) from rostersync.change_feed "
                        "where entity = 'guardian_relationships' group by 1, 2 order by 1") == [
        ("create", ["guardian_app_id", "student_app_id", "relationship"], 3),
        ("update", ["relationship"], 1)]
    assert {source_id: roles for source_id, (_, _, roles) in user_roles(pg).items()} == {
        "P1": ["contact"], "P2": ["contact"], "1001": ["student"], "1002": ["student"],
        "1003": ["student"]}


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


def test_an_enrollment_id_reused_for_another_section_syncs_as_in_duckdb(
    tmp_path: Path, pg
) -> None:
    """Some SISes keep an enrollment's id when the student moves to another section: the old
    app enrollment is deactivated and a new one created under the same source id, in one run.
    The PostgreSQL roster takes both rows (enrollments are keyed by section, user and role; the
    source id is not unique), as the DuckDB one does."""
    night_0 = NIGHT_0.but(classes=[*NIGHT_0.classes, section("sec2", "sch1")])
    moved = night_0.but(enrollments=[
        {**row, "classSourcedId": "sec2"} if row["sourcedId"] == "e-s1" else row
        for row in night_0.enrollments])
    bundles = [night_0.write(tmp_path / "bundles" / "night-0"),
               moved.write(tmp_path / "bundles" / "night-1")]
    duck, post, night_of = _sync_both(tmp_path, pg, bundles, seed=False, **CREATE_SCHOOLS)

    assert_same_roster(duck, pg, night_of)
    assert sorted(pg_query(pg, "select s.source_id, e.status from rostersync.enrollments as e "
                               "join rostersync.sections as s on s.app_id = e.section_app_id "
                               "where e.source_id = 'e-s1'")) == [
        ("sec1", "inactive"), ("sec2", "active")]
