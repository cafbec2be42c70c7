"""Helpers for the PostgreSQL destination tests: a district whose roster lives in a fresh
database of the session's real PostgreSQL server, and comparisons of rosters across districts.

Run ids differ between two districts synced from the same nights, so comparisons map each
district's run ids to the night they belong to (``night_ids``) before comparing rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql

from rostersync_pipeline.lib.storage.destinations.interface import ENTITY_TABLES
from rostersync_pipeline.lib.storage.destinations.migrate import load_migrations, migrate
from rostersync_pipeline.lib.storage.destinations.transfer import duckdb_to_postgres, scratch_dir
from rostersync_pipeline.lib.storage.warehouse import district_connection, duckdb_columns
from rostersync_pipeline_tests.helpers import (
    District,
    enrollment,
    make_district,
    org,
    section,
    student,
    teacher,
)
from rostersync_pipeline_tests.transform.bad_input import (
    FALL,
    MATH,
    SCHOOL_YEAR,
    SCIENCE,
    SPRING,
    Bundle,
    clever_csv_bundle,
    course,
    session,
)

DSN_ENV = "ROSTERSYNC_TEST_DESTINATION_DSN"
SCHEMA = "rostersync"
RUN_ID_COLUMNS = ("created_run_id", "updated_run_id", "valid_from_run", "valid_to_run", "run_id")
TIME_COLUMNS = ("valid_from", "valid_to", "applied_at")
ROSTERSYNC_TABLES = (*ENTITY_TABLES, *(f"{t}_history" for t in ENTITY_TABLES), "change_log",
                     "change_feed", "applied_runs", "webhook_deliveries", "district",
                     "schema_migrations")


def new_database(server) -> Any:
    """A fresh, empty database on the session's server (one per test)."""
    return server.create_database(f"t_{uuid.uuid4().hex[:16]}")


def postgres_district(tmp_path: Path, bundle: Path, district_id: str = "district-a",
                      schema: str = SCHEMA, **overrides: Any) -> District:
    destination = {"type": "postgres", "dsn_env": DSN_ENV, "schema": schema,
                   **overrides.pop("destination", {})}
    return make_district(tmp_path, bundle, district_id, destination=destination, **overrides)


@contextmanager
def pg_cursor(server) -> Iterator[Any]:
    conn = psycopg2.connect(**server.connect_kwargs())
    try:
        with conn, conn.cursor() as cursor:
            yield cursor
    finally:
        conn.close()


def pg_query(server, statement: str, params: Sequence[Any] | dict | None = None) -> list[tuple]:
    with pg_cursor(server) as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def pg_snapshot(server, schema: str = SCHEMA) -> dict[str, list[tuple]]:
    """Every row of every rostersync table of the destination, in a stable order."""
    with pg_cursor(server) as cursor:
        found = {}
        for table in ROSTERSYNC_TABLES:
            cursor.execute(f"select * from {schema}.{table}")
            found[table] = sorted(cursor.fetchall(), key=repr)
        return found


def _columns_of(cursor_description) -> list[str]:
    return [d[0] for d in cursor_description]


def comparable(rows: list[tuple], columns: list[str], night_of: dict[str, str]) -> list[tuple]:
    """Rows with run ids replaced by their night and timestamps left out, sorted."""
    kept = [i for i, c in enumerate(columns) if c not in TIME_COLUMNS and c != "feed_id"]
    out = []
    for row in rows:
        values = []
        for i in kept:
            value = row[i]
            if columns[i] in RUN_ID_COLUMNS and value is not None:
                value = night_of.get(value, value)
            values.append(tuple(value) if isinstance(value, list) else value)
        out.append(tuple(values))
    return sorted(out, key=repr)


def postgres_tables(server, tables: Sequence[str], night_of: dict[str, str],
                    columns: dict[str, list[str]], schema: str = SCHEMA) -> dict[str, list]:
    """The destination's ``tables`` (only the given columns, as the DuckDB roster has them)."""
    with pg_cursor(server) as cursor:
        found = {}
        for table in tables:
            names = ", ".join(f'"{c}"' for c in columns[table])
            cursor.execute(f"select {names} from {schema}.{table}")
            found[table] = comparable(cursor.fetchall(), columns[table], night_of)
        return found


def duckdb_tables(district: District, tables: Sequence[str], night_of: dict[str, str]
                  ) -> tuple[dict[str, list], dict[str, list[str]]]:
    """A district's DuckDB ``roster.<table>`` rows, comparable, and each table's columns."""
    with district_connection(district.warehouse_dir, district.district_id) as con:
        found, columns = {}, {}
        for table in tables:
            cursor = con.execute(f"select * from roster.{table}")
            columns[table] = _columns_of(cursor.description)
            found[table] = comparable(cursor.fetchall(), columns[table], night_of)
        return found, columns


def push_roster_to_postgres(district: District, server, schema: str = SCHEMA,
                            tables: Sequence[str] = ENTITY_TABLES,
                            up_to: int | None = None) -> None:
    """The district's DuckDB ``roster.<table>`` rows (e.g. seeded with the demo's app roster)
    as the app's existing rows in the destination, before the first sync: the destination is
    migrated up to version ``up_to`` (the newest by default) and gets the columns it has."""
    conn = psycopg2.connect(**server.connect_kwargs())
    try:
        migrate(conn, schema, load_migrations()[:up_to])
        with district_connection(district.warehouse_dir, district.district_id) as con, \
                scratch_dir(district.warehouse_dir / "scratch") as scratch, conn, \
                conn.cursor() as cursor:
            for table in tables:
                cursor.execute("select column_name from information_schema.columns "
                               "where table_schema = %s and table_name = %s", [schema, table])
                kept = {name for (name,) in cursor.fetchall()}
                assert kept, f"the destination has no table {schema}.{table}"
                columns = [(name, kind) for name, kind in duckdb_columns(con, f"roster.{table}")
                           if name in kept]
                duckdb_to_postgres(con, f"select * from roster.{table}", columns, cursor,
                                   sql.Identifier(schema, table), scratch)
    finally:
        conn.close()


def forget_roles(district: District) -> None:
    """The district's DuckDB roster as a rostersync without ``users.roles`` left it: no user
    or user version has roles."""
    with district_connection(district.warehouse_dir, district.district_id) as con:
        con.execute("update roster.users set roles = null")
        con.execute("update roster.users_history set roles = null")


def forget_user_schools(district: District) -> None:
    """The district's DuckDB roster as a rostersync without ``user_schools`` left it: no links,
    no link versions, no link changes."""
    with district_connection(district.warehouse_dir, district.district_id) as con:
        con.execute("delete from roster.user_schools")
        con.execute("delete from roster.user_schools_history")
        con.execute("delete from roster.change_log where entity = 'user_schools'")
        con.execute("delete from roster.change_feed where entity = 'user_schools'")


SUMMER = session("summer", title="Summer", type="semester", startDate="2026-06-15",
                 endDate="2026-07-31", schoolYear="2026", parentSourcedId="sy")
SUMMER_1 = session("summer-1", title="Summer 1", type="gradingPeriod", startDate="2026-06-15",
                   endDate="2026-07-03", schoolYear="2026", parentSourcedId="summer")
ART = course("art", "sch1", courseCode="ART")
MOVED_IDS = {"sy": "SY-26", "fall": "T-FALL", "spring": "T-SPR", "summer": "T-SUM",
             "summer-1": "T-SUM-1", "math": "C-MATH", "science": "C-SCI"}

TERMS_NIGHT_0 = Bundle(
    orgs=(org("sch1", "North High"),),
    users=(teacher("t1", "sch1"), student("s1", "sch1"), student("s2", "sch1")),
    classes=(section("sec1", "sch1", termSourcedIds="fall", courseSourcedId="math"),
             section("sec2", "sch1", termSourcedIds="spring", courseSourcedId="art")),
    enrollments=(enrollment("e-t1", "sec1", "t1", "sch1", role="teacher"),
                 enrollment("e-s1", "sec1", "s1", "sch1"),
                 enrollment("e-s2", "sec1", "s2", "sch1"),
                 enrollment("e2-s2", "sec2", "s2", "sch1")),
    academicSessions=(SCHOOL_YEAR, FALL, SPRING),
    courses=(MATH, ART, SCIENCE),
)
# Fall renamed; a semester and its grading period created together (one insert writes both);
# sec1 moves to the grading period, sec2 to science; art is no longer sent (deactivated)
TERMS_NIGHT_1 = TERMS_NIGHT_0.but(
    academicSessions=[SCHOOL_YEAR, {**FALL, "title": "Fall Semester"}, SPRING, SUMMER,
                      SUMMER_1],
    courses=[MATH, SCIENCE],
    classes=[section("sec1", "sch1", termSourcedIds="summer-1", courseSourcedId="math"),
             section("sec2", "sch1", termSourcedIds="spring", courseSourcedId="science")],
)


def _moved(row: dict[str, str], *fields: str) -> dict[str, str]:
    return {**row, **{f: MOVED_IDS.get(row[f], row[f])
                      for f in ("sourcedId", *fields) if row.get(f)}}


# another source sends the same terms and courses under new ids (a source id update each)
TERMS_NIGHT_2 = TERMS_NIGHT_1.but(
    academicSessions=[_moved(r, "parentSourcedId") for r in TERMS_NIGHT_1.academicSessions],
    courses=[_moved(r, "schoolYearSourcedId") for r in TERMS_NIGHT_1.courses],
    classes=[_moved(r, "termSourcedIds", "courseSourcedId") for r in TERMS_NIGHT_1.classes],
)


def terms_and_courses_nights(root: Path) -> list[Path]:
    """Three nights of one school whose sections name terms (a hierarchy) and courses."""
    return [bundle.write(root / f"night-{n}")
            for n, bundle in enumerate((TERMS_NIGHT_0, TERMS_NIGHT_1, TERMS_NIGHT_2))]


def section_links(server, schema: str = SCHEMA) -> dict[str, tuple]:
    """The destination's sections by source id: (status, term name, the term's parent's name,
    course code, the course's school year's name), through the app ids."""
    rows = pg_query(server, f"select s.source_id, s.status, t.name, p.name, c.course_code, y.name "
                            f"from {schema}.sections as s "
                            f"left join {schema}.terms as t on t.app_id = s.term_app_id "
                            f"left join {schema}.terms as p on p.app_id = t.parent_term_app_id "
                            f"left join {schema}.courses as c on c.app_id = s.course_app_id "
                            f"left join {schema}.terms as y on y.app_id = c.school_year_app_id")
    return {source_id: tuple(rest) for source_id, *rest in rows}


def _teacher_in(bundle: Bundle, schools: str) -> Bundle:
    return bundle.but(users=[row if row["sourcedId"] != "t1" else teacher("t1", schools)
                             for row in bundle.users])


# Teacher t1 is in two schools, sch1 first (primary); student s1 in sch2 only.
LINKS_NIGHT_0 = Bundle(
    orgs=(org("sch1", "North High"), org("sch2", "South High")),
    users=(teacher("t1", "sch1,sch2"), student("s1", "sch2"), student("s2", "sch1")),
    classes=(section("sec1", "sch1"),),
    enrollments=(enrollment("e-t1", "sec1", "t1", "sch1", role="teacher"),
                 enrollment("e-s2", "sec1", "s2", "sch1")),
)
# her primary school is now sch2 (two link updates); then she leaves sch1 (a deactivated
# link); then she is back in sch1 as her primary school (a reactivated link and an update)
LINKS_NIGHT_1 = _teacher_in(LINKS_NIGHT_0, "sch2,sch1")
LINKS_NIGHT_2 = _teacher_in(LINKS_NIGHT_0, "sch2")
LINKS_NIGHT_3 = LINKS_NIGHT_0


def user_schools_nights(root: Path) -> list[Path]:
    """Four nights of a teacher in two schools whose primary school moves, who leaves one and
    comes back."""
    return [bundle.write(root / f"night-{n}") for n, bundle in
            enumerate((LINKS_NIGHT_0, LINKS_NIGHT_1, LINKS_NIGHT_2, LINKS_NIGHT_3))]


def user_school_links(server, schema: str = SCHEMA) -> dict[tuple[str, str], tuple]:
    """The destination's user_schools by (user, school) source ids: (is_primary, status),
    through the app ids."""
    rows = pg_query(server, f"select u.source_id, s.source_id, l.is_primary, l.status "
                            f"from {schema}.user_schools as l "
                            f"join {schema}.users as u on u.app_id = l.user_app_id "
                            f"join {schema}.schools as s on s.app_id = l.school_app_id")
    return {(user, school): (primary, status) for user, school, primary, status in rows}


def guardian(source_id: str, students: str, role: str = "parent", **fields: str) -> dict[str, str]:
    """A OneRoster 1.1 guardian (``role``: parent, guardian or relative) of ``students``
    (``agentSourcedIds``); the role column gives each user one source role."""
    return {**student(source_id, "sch1"), "role": role, "grades": "",
            "agentSourcedIds": students, **fields}


def _family_night(*guardians: dict[str, str]) -> Bundle:
    people = (teacher("t1", "sch1"), student("s1", "sch1"), student("s2", "sch1"),
              student("s3", "sch1"))
    return Bundle(
        orgs=(org("sch1", "North High"),),
        users=(*people, *guardians),
        classes=(section("sec1", "sch1"),),
        enrollments=tuple(
            enrollment(f"e-{u['sourcedId']}", "sec1", u["sourcedId"], "sch1",
                       role="teacher" if u["role"] == "teacher" else "student") for u in people),
    )


# Siblings s1 and s2 share g1; g2 is a guardian of s2 and s3, g3 a relative of s1.
GUARDIANS_NIGHT_0 = _family_night(guardian("g1", "s1,s2"),
                                  guardian("g2", "s2,s3", role="guardian"),
                                  guardian("g3", "s1", role="relative"))
# g1 no longer lists s2 (a link deactivated); g2's source role becomes parent (roles update);
# g3 is deleted at the source (deactivated, and so is its link); g4 is new, of s2 and s3
GUARDIANS_NIGHT_1 = _family_night(guardian("g1", "s1"), guardian("g2", "s2,s3"),
                                  guardian("g3", "s1", role="relative", status="tobedeleted"),
                                  guardian("g4", "s2,s3"))
# g1 lists s2 again (a link reactivated); g5 is new
GUARDIANS_NIGHT_2 = GUARDIANS_NIGHT_1.but(users=[
    *(row for row in GUARDIANS_NIGHT_1.users if row["sourcedId"] != "g1"),
    guardian("g1", "s1,s2"), guardian("g5", "s3")])


def guardians_nights(root: Path) -> list[Path]:
    """Three nights of a school whose students have guardians (one shared by siblings), who
    drop a student, change role, leave and arrive."""
    return [bundle.write(root / f"night-{n}") for n, bundle in
            enumerate((GUARDIANS_NIGHT_0, GUARDIANS_NIGHT_1, GUARDIANS_NIGHT_2))]


def _contacts_night(directory: Path, relationships: dict[str, str]) -> Path:
    """A Clever CSV upload: students 1001 and 1002 (siblings) with contact P1, 1003 with P2;
    ``relationships`` gives each student's Contact_relationship."""
    contacts = {"1001": ("P1", "Jo Doe"), "1002": ("P1", "Jo Doe"), "1003": ("P2", "Al Poe")}
    return clever_csv_bundle(directory, {
        "schools": [{"School_id": "S1", "School_name": "North"}],
        "students": [{"School_id": "S1", "Student_id": student_id, "Last_name": "Doe",
                      "First_name": "Kid", "Grade": "3", "Contact_sis_id": sis_id,
                      "Contact_name": name, "Contact_relationship": relationships[student_id]}
                     for student_id, (sis_id, name) in contacts.items()],
    })


def contacts_nights(root: Path) -> list[Path]:
    """Two nights of Clever contacts: a relationship word changes (an update), another is no
    longer sent (never blanked)."""
    return [_contacts_night(root / "night-0",
                            {"1001": "Mother", "1002": "Mother", "1003": "Uncle"}),
            _contacts_night(root / "night-1",
                            {"1001": "", "1002": "Stepmother", "1003": "Uncle"})]


def guardian_links(server, schema: str = SCHEMA) -> dict[tuple[str, str], tuple]:
    """The destination's guardian_relationships by (guardian, student) source ids:
    (relationship, status), through the app ids."""
    rows = pg_query(server, f"select g.source_id, s.source_id, l.relationship, l.status "
                            f"from {schema}.guardian_relationships as l "
                            f"join {schema}.users as g on g.app_id = l.guardian_app_id "
                            f"join {schema}.users as s on s.app_id = l.student_app_id")
    return {(g, s): (relationship, status) for g, s, relationship, status in rows}


def user_roles(server, schema: str = SCHEMA) -> dict[str, tuple]:
    """The destination's users by source id: (role, status, roles)."""
    rows = pg_query(server, f"select source_id, role, status, roles from {schema}.users")
    return {source_id: (role, status, roles) for source_id, role, status, roles in rows}
