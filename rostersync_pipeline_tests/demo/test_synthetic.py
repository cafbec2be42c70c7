"""Synthetic districts: shape, determinism, next-night changes, seeded problems, app seed."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pytest

from rostersync_pipeline.config import ConfigError, load_district_config
from rostersync_pipeline.demo.district import (
    BundleStats,
    district_shape,
    seed_roster,
    write_district_config,
    write_oneroster_bundle,
)
from rostersync_pipeline.demo.problems import (
    PROBLEM_KINDS,
    UNMAPPED_GRADE_VALUE,
    load_demo_problems,
)
from rostersync_pipeline.lib.ingest.providers.oneroster_csv import land_bundle
from rostersync_pipeline.lib.storage.warehouse import ensure_schemas

STUDENTS = 2000
BUNDLE_FILES = (
    "manifest", "orgs", "users", "demographics", "academicSessions", "courses", "classes",
    "enrollments",
)


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> tuple[BundleStats, BundleStats]:
    root = tmp_path_factory.mktemp("synthetic")
    night0 = write_oneroster_bundle(root / "night0", STUDENTS, seed=7, problems=True)
    night1 = write_oneroster_bundle(root / "night1", STUDENTS, seed=7, night=1, problems=True)
    return night0, night1


def _bundle_con(*bundles: tuple[str, Path]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one view per bundle file, named ``<prefix>_<file>``."""
    con = duckdb.connect()
    for prefix, directory in bundles:
        for name in BUNDLE_FILES:
            path = str(directory / f"{name}.csv").replace("'", "''")
            con.execute(
                f"create view {prefix}_{name} as select * from "
                f"read_csv('{path}', header = true, all_varchar = true)"
            )
    return con


def _one(con: duckdb.DuckDBPyConnection, query: str, params: dict | None = None) -> tuple:
    return con.execute(query, params or {}).fetchall()[0]


def test_district_shape_follows_the_ratios():
    assert district_shape(2000) == (4, 154)
    assert district_shape(550) == (1, 42)
    assert district_shape(551)[0] == 2
    assert district_shape(5) == (1, 1)
    with pytest.raises(ValueError):
        district_shape(0)


def test_counts_follow_district_ratios(nights):
    night0, _ = nights
    con = _bundle_con(("b", night0.out_dir))
    schools, districts = _one(con, """
        select count(*) filter (where type = 'school'), count(*) filter (where type = 'district')
        from b_orgs""")
    students, teachers = _one(con, """
        select count(*) filter (where role = 'student'), count(*) filter (where role = 'teacher')
        from b_users""")
    sections = _one(con, "select count(*) from b_classes")[0]
    enrollments, student_enrollments = _one(con, """
        select count(*), count(*) filter (where role = 'student') from b_enrollments""")
    assert (schools, districts) == (math.ceil(STUDENTS / 550), 1)
    assert students == STUDENTS
    assert abs(teachers - STUDENTS / 13) <= 1
    assert abs(sections - STUDENTS * 7 / 25) / (STUDENTS * 7 / 25) < 0.05
    assert 6.3 <= enrollments / students <= 7.7
    assert student_enrollments == 7 * STUDENTS
    assert _one(con, "select count(*) from b_demographics")[0] == STUDENTS
    assert _one(con, "select count(*) from b_academicSessions")[0] == 3
    assert (night0.students, night0.teachers, night0.schools, night0.sections,
            night0.enrollments) == (students, teachers, schools, sections, enrollments)
    grades = {row[0] for row in con.execute(
        "select distinct grades from b_users where role = 'student'").fetchall()}
    assert grades - {UNMAPPED_GRADE_VALUE} == {"KG", *(f"{g:02d}" for g in range(1, 13))}


def test_every_section_has_about_25_students_and_one_teacher(nights):
    con = _bundle_con(("b", nights[0].out_dir))
    low, high, teachers = _one(con, """
        select min(students), max(students), max(teachers) from (
            select classSourcedId,
                count(*) filter (where role = 'student') as students,
                count(*) filter (where role = 'teacher') as teachers
            from b_enrollments group by classSourcedId)""")
    assert 20 <= low and high <= 30 and teachers == 1


def test_every_reference_points_at_an_existing_record(nights):
    for stats in nights:
        con = _bundle_con(("b", stats.out_dir))
        dangling = _one(con, """
            select
                (select count(*) from b_enrollments e
                 where e.classSourcedId not in (select sourcedId from b_classes)),
                (select count(*) from b_enrollments e
                 where e.userSourcedId not in (select sourcedId from b_users)),
                (select count(*) from b_enrollments e
                 where e.schoolSourcedId not in (select sourcedId from b_orgs)),
                (select count(*) from b_classes c
                 where c.courseSourcedId not in (select sourcedId from b_courses)
                    or c.schoolSourcedId not in (select sourcedId from b_orgs)
                    or c.termSourcedIds not in (select sourcedId from b_academicSessions)),
                (select count(*) from b_users u, unnest(string_split(u.orgSourcedIds, ',')) o(org)
                 where o.org not in (select sourcedId from b_orgs)),
                (select count(*) from b_demographics d
                 where d.sourcedId not in (select sourcedId from b_users))""")
        assert dangling == (0, 0, 0, 0, 0, 0)
        # one teacher works in two schools (the first listed is her primary)
        assert _one(con, "select count(*) from b_users where orgSourcedIds like '%,%' "
                         "and role = 'teacher'") == (1,)
        # parents: every one names students of the bundle; some are shared by two siblings
        assert _one(con, """
            select count(*) filter (where s.sourcedId is null), count(distinct p.sourcedId),
                count(*) filter (where s.orgSourcedIds <> p.orgSourcedIds)
            from b_users as p, unnest(string_split(p.agentSourcedIds, ',')) as a(student_id)
            left join b_users as s on s.sourcedId = a.student_id and s.role = 'student'
            where p.role = 'parent'""") == (0, stats.guardians, 0)
        assert _one(con, "select count(*) > 0 from b_users where role = 'parent' "
                         "and agentSourcedIds like '%,%'") == (True,)
        duplicates = _one(con, """
            select
                (select count(*) - count(distinct sourcedId) from b_users),
                (select count(*) - count(distinct sourcedId) from b_enrollments),
                (select count(*) - count(distinct (classSourcedId, userSourcedId))
                 from b_enrollments),
                (select count(*) - count(distinct identifier) from b_users)""")
        assert duplicates == (0, 0, 0, 0)
        same_school = _one(con, """
            select count(*) from b_enrollments e join b_users u on u.sourcedId = e.userSourcedId
            where split_part(u.orgSourcedIds, ',', 1) <> e.schoolSourcedId""")[0]
        assert same_school == 0


def test_bundle_lands_without_fetch_problems(nights, tmp_path):
    con = duckdb.connect(str(tmp_path / "district.duckdb"))
    ensure_schemas(con)
    result = land_bundle(con, nights[0].out_dir, run_id="run-1", work_dir=tmp_path / "work")
    assert result.problems == []
    assert set(result.entity_modes.values()) == {"bulk"}
    assert result.row_counts["users"] == (nights[0].students + nights[0].teachers
                                          + nights[0].guardians)
    assert nights[0].guardians == sum(1 for i in range(nights[0].students)
                                      if (i // nights[0].schools) % 4 == 0)
    assert result.row_counts["enrollments"] == nights[0].enrollments


def test_same_seed_gives_the_same_bytes(tmp_path):
    first = write_oneroster_bundle(tmp_path / "a", 1200, seed=11, problems=True)
    second = write_oneroster_bundle(tmp_path / "b", 1200, seed=11, problems=True)
    other = write_oneroster_bundle(tmp_path / "c", 1200, seed=12, problems=True)
    for name in (*BUNDLE_FILES, "demo_problems"):
        suffix = ".json" if name == "demo_problems" else ".csv"
        assert (first.out_dir / f"{name}{suffix}").read_bytes() == (
            second.out_dir / f"{name}{suffix}"
        ).read_bytes(), name
    assert (first.out_dir / "users.csv").read_bytes() != (other.out_dir / "users.csv").read_bytes()


def test_next_night_changes_about_3pct_of_students(nights):
    night0, night1 = nights
    con = _bundle_con(("n0", night0.out_dir), ("n1", night1.out_dir))
    dropped, added, changed = _one(con, """
        with s0 as (select * from n0_users where role = 'student'),
             s1 as (select * from n1_users where role = 'student')
        select
            count(*) filter (where s1.sourcedId is null),
            count(*) filter (where s0.sourcedId is null),
            count(*) filter (where s0.sourcedId = s1.sourcedId
                and (s0.givenName, s0.familyName, s0.email, s0.grades, s0.identifier)
                    is distinct from (s1.givenName, s1.familyName, s1.email, s1.grades,
                                      s1.identifier))
        from s0 full join s1 on s0.sourcedId = s1.sourcedId""")
    moved = _one(con, """
        with e0 as (select userSourcedId, list(classSourcedId order by classSourcedId) as c
                    from n0_enrollments where role = 'student' group by all),
             e1 as (select userSourcedId, list(classSourcedId order by classSourcedId) as c
                    from n1_enrollments where role = 'student' group by all)
        select count(*) from e0 join e1 using (userSourcedId) where e0.c <> e1.c""")[0]
    assert 0.002 * STUDENTS <= dropped <= 0.01 * STUDENTS
    assert added == round(0.005 * STUDENTS)
    assert changed > 0 and moved > 0
    share = (dropped + added + changed + moved) / STUDENTS
    assert 0.02 <= share <= 0.04, share
    assert night1.changes["dropped"] == dropped and night1.changes["added"] == added
    new_enrollments = _one(con, """
        select count(*) from n1_enrollments
        where userSourcedId not in (select sourcedId from n0_users)""")[0]
    assert new_enrollments == 7 * added
    for name in ("orgs", "courses", "classes", "academicSessions", "manifest"):
        assert (night0.out_dir / f"{name}.csv").read_bytes() == (
            night1.out_dir / f"{name}.csv"
        ).read_bytes(), name


def test_seeded_problems_are_in_the_bundle_as_recorded(nights):
    night0, night1 = nights
    recorded = load_demo_problems(night0.out_dir)
    assert recorded == night0.problems
    assert load_demo_problems(night1.out_dir) == recorded
    assert {p.kind for p in recorded.problems} == set(PROBLEM_KINDS)
    con = _bundle_con(("b", night0.out_dir))

    def user(source_id: str) -> tuple:
        rows = con.execute(
            "select identifier, email, familyName, grades from b_users where sourcedId = $id",
            {"id": source_id},
        ).fetchall()
        assert len(rows) == 1, source_id
        return rows[0]

    for p in recorded.of_kind("rotated_id"):
        identifier, email, _, _ = user(p.source_id)
        assert (identifier, email) == (p.sis_id, p.error_value)
        assert p.app_source_id != p.source_id and p.app_sis_id != p.sis_id
        stale = _one(con, "select count(*) from b_users where sourcedId = $id or identifier = $sis",
                     {"id": p.app_source_id, "sis": p.app_sis_id})[0]
        assert stale == 0
        assert _one(con, "select count(*) from b_users where email = $e",
                    {"e": p.error_value})[0] == 1
    shared = recorded.of_kind("shared_email")
    assert len(shared) == 4
    for email in {p.error_value for p in shared}:
        holders = {row[0] for row in con.execute(
            "select sourcedId from b_users where email = $e", {"e": email}).fetchall()}
        assert holders == {p.source_id for p in shared if p.error_value == email}
        assert len(holders) == 2
    for p in recorded.of_kind("missing_value"):
        assert user(p.source_id)[2] is None
    for p in recorded.of_kind("unmapped_grade"):
        assert user(p.source_id)[3] == UNMAPPED_GRADE_VALUE == p.error_value
    (school,) = recorded.of_kind("unknown_school")
    assert con.execute(
        "select name, identifier from b_orgs where sourcedId = $id", {"id": school.source_id}
    ).fetchall() == [(school.error_value, school.sis_id)]
    assert _one(con, "select count(*) from b_orgs where name = $n or identifier = $i",
                {"n": school.app_name, "i": school.app_sis_id})[0] == 0
    students, classes = _one(con, """
        select (select count(*) from b_users where orgSourcedIds = $id),
               (select count(*) from b_classes where schoolSourcedId = $id)""",
                             {"id": school.source_id})
    assert students > 0 and classes > 0
    student_problems = [p for p in recorded.problems if p.record_type == "student"]
    assert len({p.source_id for p in student_problems}) == len(student_problems)


def test_seed_roster_holds_the_apps_prior_state(nights, tmp_path):
    night0, _ = nights
    problems = night0.problems
    con = duckdb.connect(str(tmp_path / "app.duckdb"))
    seed = seed_roster(con, night0.out_dir)
    assert seed.schools == night0.schools
    assert abs(seed.students - 0.8 * STUDENTS) <= 0.04 * STUDENTS
    assert abs(seed.educators - 0.8 * night0.teachers) <= 0.1 * night0.teachers
    by_origin = dict(con.execute(
        "select origin, count(*) from roster.users group by origin").fetchall())
    assert by_origin["manual"] == 2
    assert by_origin["sync"] == seed.students + seed.educators - 2
    assert _one(con, """
        select count(*) from roster.users
        where school_app_id is null or status <> 'active' or email is null""")[0] == 0
    app_ids = {row[0] for row in con.execute("select source_id from roster.users").fetchall()}
    for p in problems.of_kind("rotated_id"):
        assert p.source_id not in app_ids
        assert con.execute(
            "select sis_id, email from roster.users where source_id = $id",
            {"id": p.app_source_id},
        ).fetchall() == [(p.app_sis_id, p.error_value)]
    assert not problems.absent_from_app() & app_ids
    emails = {row[0] for row in con.execute("select email from roster.users").fetchall()}
    assert not {p.error_value for p in problems.of_kind("shared_email")} & emails
    (school,) = problems.of_kind("unknown_school")
    assert con.execute(
        "select custom_name, sis_id from roster.schools where source_id = $id",
        {"id": school.app_source_id},
    ).fetchall() == [(school.app_name, school.app_sis_id)]
    assert _one(con, "select count(*) from roster.schools where custom_name = $n",
                {"n": school.error_value})[0] == 0
    manual_student = con.execute(
        "select source_id, sis_id from roster.users where origin = 'manual' and email = $e",
        {"e": seed.manual_student_email},
    ).fetchall()
    assert manual_student == [("manual-placeholder-0001", None)]
    with pytest.raises(ValueError, match="empty roster"):
        seed_roster(con, night0.out_dir)


def test_district_config_is_written_valid(nights, tmp_path):
    path = write_district_config(
        tmp_path / "districts", "synthetic-demo", nights[0].out_dir,
        dry_run=True, guard={"max_deactivate_pct": 5},
    )
    config = load_district_config(path)
    assert config.district_id == "synthetic-demo"
    assert config.source.type == "oneroster_csv"
    assert Path(config.source.path) == nights[0].out_dir.resolve()
    assert config.dry_run is True
    assert (config.guard.max_deactivate_pct, config.guard.max_update_pct) == (5, 75)
    with pytest.raises(ConfigError, match="max_deactivate_pct"):
        write_district_config(tmp_path / "districts", "broken", nights[0].out_dir,
                              guard={"max_deactivate_pct": 200})
    assert not (tmp_path / "districts" / "broken.yaml").exists()


def test_small_districts(tmp_path):
    stats = write_oneroster_bundle(tmp_path / "tiny", 10)
    assert (stats.schools, stats.teachers, stats.students) == (1, 1, 10)
    assert stats.sections >= 1 and stats.enrollments == 10 * stats.sections + stats.sections
    with pytest.raises(ValueError, match="2 schools"):
        write_oneroster_bundle(tmp_path / "tiny-problems", 10, problems=True)
    assert not (tmp_path / "tiny" / "demo_problems.json").exists()
