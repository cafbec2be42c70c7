"""One district in six source formats gives the same core and roster tables (issue #13 point 5).

The district of :mod:`~rostersync_pipeline_tests.fixtures.six_formats` is written as Clever API
v3 objects (served by the fake Clever server), a Clever SFTP CSV upload, OneRoster 1.1 and 1.2
CSV bundles, OneRoster 1.2 REST objects (served by the fake OneRoster server) and a CSV import;
each is synced for real into its own district warehouse, once for the module.

Every ``core.*`` table and every ``roster.*`` entity table
(:data:`~rostersync_pipeline.lib.storage.warehouse.ENTITY_TABLES`, so a new one is compared
too) is compared between every two formats on a canonical projection: the source's and the
app's ids replaced by the natural key of the record they name (the SIS id of a person, school or
section, a term's name, a course's code), provider / file / row / run columns left out. Where a
format cannot carry a value, :data:`CANNOT_CARRY` names the format, table and column and why;
that column is left out of that format's comparisons only.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from rostersync_pipeline.demo.district import write_district_config
from rostersync_pipeline.lib.storage.warehouse import ENTITY_TABLES, district_connection
from rostersync_pipeline_tests.fakes.clever_server import CleverServer
from rostersync_pipeline_tests.fakes.oneroster_server import OneRosterServer
from rostersync_pipeline_tests.fixtures.six_format_oneroster import (
    oneroster_rest_collections,
    write_oneroster_csv,
)
from rostersync_pipeline_tests.fixtures.six_format_writers import (
    clever_api_collections,
    write_clever_csv,
    write_csv_import,
)
from rostersync_pipeline_tests.fixtures.six_formats import District, six_format_district
from rostersync_pipeline_tests.helpers import District as SyncedDistrict

FORMATS = ("clever_api", "clever_csv", "oneroster_csv_1_1", "oneroster_csv_1_2",
           "oneroster_rest", "csv_import")
CLEVER_TOKEN = "six-formats-clever-token"
OR_ID, OR_SECRET = "six-formats-client", "six-formats-secret"
CORE_TABLES = ("users", "guardians", "guardian_relationships", "schools", "sections",
               "enrollments", "terms", "courses")
TABLES = (*(f"core.{t}" for t in CORE_TABLES), *(f"roster.{t}" for t in ENTITY_TABLES))

# Columns that say where a record came from, not what it is.
PROVENANCE = {"provider", "source_file", "source_row", "created_run_id", "updated_run_id",
              "source_id", "app_id", "enrollment_source_id",
              # empty in every format (test_no_format_reports_a_problem), else they name rows
              "invalid_values", "conflicting_copies"}
# A source id column -> the natural key map of the records it names.
CORE_REFERENCES = {
    "user_source_id": "people", "guardian_source_id": "people", "student_source_id": "people",
    "school_source_id": "schools", "school_source_ids": "schools",
    "section_source_id": "sections", "course_source_id": "courses",
    "term_source_id": "terms", "parent_term_source_id": "terms",
    "school_year_source_id": "terms",
}
ROSTER_REFERENCES = {
    "school_app_id": "schools", "user_app_id": "users", "section_app_id": "sections",
    "term_app_id": "terms", "parent_term_app_id": "terms", "school_year_app_id": "terms",
    "course_app_id": "courses",
}
PERSON_REFERENCES = ("student", "guardian", "teacher", "educator")
# The natural key of a roster table's records (any other table: its sis_id, if it has one).
ROSTER_NATURAL_KEYS = {"terms": "name", "courses": "course_code"}


@dataclass(frozen=True)
class CannotCarry:
    """A value a format has no place for: left out of that format's comparisons."""

    format: str
    table: str
    columns: tuple[str, ...]
    reason: str


CLEVER = ("clever_api", "clever_csv")
ONEROSTER = ("oneroster_csv_1_1", "oneroster_csv_1_2", "oneroster_rest")
NO_TERM_TREE = (*CLEVER, "csv_import")


def _rules(formats: tuple[str, ...], tables: tuple[str, ...], columns: tuple[str, ...],
           reason: str) -> list[CannotCarry]:
    return [CannotCarry(f, t, columns, reason) for f in formats for t in tables]


CANNOT_CARRY: tuple[CannotCarry, ...] = (
    *_rules(CLEVER, ("core.users",), ("grade_raw", "grade_values"),
            "Clever's grade words (Kindergarten, 5) cannot spell KG / 05: grade_code and "
            "roster.users.grade are compared"),
    *_rules(CLEVER, ("core.guardians",), ("first_name", "last_name"),
            "Clever sends a contact's full name in one field (name.last, Contact_name): "
            "full_name is compared"),
    *_rules(CLEVER, ("roster.users",), ("first_name", "last_name"),
            "Clever sends a contact's full name in one field, kept in last_name: full_name is "
            "compared (students' and teachers' names: "
            "test_the_roster_holds_the_districts_people_as_generated)"),
    *_rules(FORMATS, ("core.users", "core.guardians", "roster.users"), ("roles",),
            "role words are the source's own (a guardian is a Clever contact, a OneRoster "
            "parent, a CSV import guardian): test_roles_are_the_sources_words"),
    *_rules(("clever_api",), ("core.guardians",), ("school_source_ids",),
            "a Clever API contact lists no schools"),
    *_rules(ONEROSTER, ("core.guardian_relationships", "roster.guardian_relationships"),
            ("relationship",),
            "OneRoster agentSourcedIds carry no relationship word"),
    *_rules((*ONEROSTER, "csv_import"), ("core.schools", "roster.schools"),
            ("state_id", "nces_id"), "OneRoster orgs and the CSV import have no state or NCES id"),
    *_rules(NO_TERM_TREE, ("core.terms",), ("term_type", "parent_term_source_id"),
            "Clever and CSV import terms have no type and no parent term"),
    *_rules(NO_TERM_TREE, ("roster.terms",), ("term_type", "parent_term_app_id"),
            "Clever and CSV import terms have no type and no parent term"),
    *_rules(NO_TERM_TREE, ("core.courses",), ("school_year_source_id",),
            "Clever and CSV import courses name no school year"),
    *_rules(NO_TERM_TREE, ("roster.courses",), ("school_year_app_id",),
            "Clever and CSV import courses name no school year"),
    *_rules(("clever_api",), ("core.courses",), ("school_source_id",),
            "Clever API v3 courses are district-wide: no school"),
    *_rules(("clever_api",), ("roster.courses",), ("school_app_id",),
            "Clever API v3 courses are district-wide: no school"),
)

# Formats whose terms are derived per school from the sections (Clever CSV, CSV import have no
# term ids): one copy of a term per school that uses it.
TERMS_PER_SCHOOL = ("clever_csv", "csv_import")


@dataclass(frozen=True)
class Synced:
    district: SyncedDistrict
    run_id: str
    tables: dict[str, list[dict[str, Any]]]
    keys: dict[str, dict[Any, str]]


def _district_for(fmt: str, root: Path, district: District, clever: CleverServer,
                  oneroster: OneRosterServer) -> SyncedDistrict:
    district_id = f"six-{fmt.replace('_', '-')}"
    bundle = root / "bundle"
    source: dict[str, Any]
    if fmt == "clever_api":
        source = {"type": "clever_api", "base_url": clever.base_url,
                  "token_env": "RS_SIX_CLEVER", "timeout_s": 5}
    elif fmt == "oneroster_rest":
        source = {"type": "oneroster_rest", "base_url": oneroster.base_url,
                  "oneroster_version": "1.2", "client_id_env": "RS_SIX_OR_ID",
                  "client_secret_env": "RS_SIX_OR_SECRET", "timeout_s": 5}
    elif fmt == "clever_csv":
        source = {"type": "clever_csv"}
        write_clever_csv(district, bundle)
    elif fmt == "csv_import":
        source = {"type": "csv_import"}
        write_csv_import(district, bundle)
    else:
        source = {"type": "oneroster_csv"}
        write_oneroster_csv(district, bundle, "1.1" if fmt.endswith("1_1") else "1.2")
    write_district_config(root / "config", district_id, bundle, source=source,
                          schools={"create_unmatched": True},
                          programs=list(district.program_list))
    return SyncedDistrict(district_id, root / "config", root / "warehouse")


def _read(synced: SyncedDistrict) -> tuple[dict[str, list[dict]], dict[str, dict[Any, str]]]:
    tables: dict[str, list[dict]] = {}
    with district_connection(synced.warehouse_dir, synced.district_id) as con:
        for table in TABLES:
            cursor = con.execute(f"select * from {table}")
            names = [d[0] for d in cursor.description]
            tables[table] = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    keys = {
        "people": {r["user_source_id"]: r["sis_id"]
                   for t in ("core.users", "core.guardians") for r in tables[t]},
        "schools": {r["school_source_id"]: r["sis_id"] for r in tables["core.schools"]},
        "sections": {r["section_source_id"]: r["sis_id"] for r in tables["core.sections"]},
        "terms": {r["term_source_id"]: r["term_name"] for r in tables["core.terms"]},
        "courses": {r["course_source_id"]: r["course_code"] for r in tables["core.courses"]},
    }
    for table in ENTITY_TABLES:
        rows = tables[f"roster.{table}"]
        column = ROSTER_NATURAL_KEYS.get(table, "sis_id")
        if rows and column in rows[0]:
            keys[f"roster.{table}"] = {r["app_id"]: r[column] for r in rows}
    return tables, keys


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synced]:
    return sync_every_format(tmp_path_factory.mktemp("six-formats"))


def sync_every_format(root: Path) -> dict[str, Synced]:
    """The district synced from each format into its own warehouse under ``root``."""
    district = six_format_district()
    result = {}
    with pytest.MonkeyPatch.context() as mp, \
            CleverServer(token=CLEVER_TOKEN,
                         collections=clever_api_collections(district)) as clever, \
            OneRosterServer("1.2", client_id=OR_ID, client_secret=OR_SECRET,
                            collections=oneroster_rest_collections(district)) as oneroster:
        mp.setenv("RS_SIX_CLEVER", CLEVER_TOKEN)
        mp.setenv("RS_SIX_OR_ID", OR_ID)
        mp.setenv("RS_SIX_OR_SECRET", OR_SECRET)
        for fmt in FORMATS:
            synced_district = _district_for(fmt, root / fmt, district, clever, oneroster)
            outcome = synced_district.sync()
            assert outcome.status == "applied", (fmt, outcome.failure, outcome.summary)
            tables, keys = _read(synced_district)
            result[fmt] = Synced(synced_district, outcome.run_id, tables, keys)
    return result


def _reference_map(fmt_synced: Synced, table: str, column: str) -> dict[Any, str]:
    if column.endswith(("_source_id", "_source_ids")):
        assert column in CORE_REFERENCES, f"{table}.{column}: add it to CORE_REFERENCES"
        return fmt_synced.keys[CORE_REFERENCES[column]]
    target = ROSTER_REFERENCES.get(column)
    if target is None:
        word = column.removesuffix("_app_id").rsplit("_", 1)[-1]
        target = f"{word}s" if f"roster.{word}s" in fmt_synced.keys else (
            "users" if word in PERSON_REFERENCES else None)
    assert f"roster.{target}" in fmt_synced.keys, \
        f"{table}.{column}: add the table it points at to ROSTER_REFERENCES"
    return fmt_synced.keys[f"roster.{target}"]


def _canonical(value: Any, mapping: dict[Any, str] | None) -> Any:
    if isinstance(value, list):
        return tuple(_canonical(v, mapping) for v in value)
    if mapping is not None and value is not None:
        return mapping.get(value, f"<unknown {value}>")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return tuple(sorted((k, _canonical(v, None)) for k, v in value.items()))
    return value


def _is_reference(column: str) -> bool:
    return column.endswith(("_source_id", "_source_ids", "_app_id")) and column not in PROVENANCE


def left_out(fmt: str, table: str) -> set[str]:
    return {c for rule in CANNOT_CARRY if rule.format == fmt and rule.table == table
            for c in rule.columns}


# Columns computed for the comparison, so that a value one format splits and another does not
# is still compared.
def _full_name(row: dict[str, Any]) -> str:
    return " ".join(n for n in (row["first_name"], row["last_name"]) if n)


DERIVED = {
    "core.guardians": {"full_name": _full_name},
    "roster.users": {"full_name": _full_name},
}


def projection(fmt_synced: Synced, table: str, dropped: set[str], distinct: bool
               ) -> Counter[tuple]:
    """The table's rows as sorted (column, value) tuples, ids as natural keys."""
    rows = []
    for source_row in fmt_synced.tables[table]:
        row = {**source_row, **{name: derive(source_row)
                                for name, derive in DERIVED.get(table, {}).items()}}
        canonical = []
        for column, value in sorted(row.items()):
            if column in PROVENANCE or column in dropped:
                continue
            mapping = (_reference_map(fmt_synced, table, column)
                       if _is_reference(column) else None)
            canonical.append((column, _canonical(value, mapping)))
        rows.append(tuple(canonical))
    return Counter(set(rows) if distinct else rows)


def _difference(a: Counter, b: Counter) -> str:
    only_a = sorted((a - b).elements(), key=repr)
    only_b = sorted((b - a).elements(), key=repr)
    return "\n".join([*(f"  - {r}" for r in only_a), *(f"  + {r}" for r in only_b)])


@pytest.mark.parametrize("table", TABLES)
def test_every_format_gives_the_same_table(synced: dict[str, Synced], table: str) -> None:
    for fmt in FORMATS:
        assert synced[fmt].tables[table], f"{fmt}: {table} is empty"
    mismatches = []
    for a, b in itertools.combinations(FORMATS, 2):
        dropped = left_out(a, table) | left_out(b, table)
        distinct = table.endswith(".terms") and bool({a, b} & set(TERMS_PER_SCHOOL))
        rows_a = projection(synced[a], table, dropped, distinct)
        rows_b = projection(synced[b], table, dropped, distinct)
        if rows_a != rows_b:
            mismatches.append(f"{a} (-) vs {b} (+), without {sorted(dropped)}:\n"
                              + _difference(rows_a, rows_b))
    assert not mismatches, f"{table}\n" + "\n".join(mismatches)


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_format_reports_a_problem(synced: dict[str, Synced], fmt: str) -> None:
    assert synced[fmt].district.errors(synced[fmt].run_id) == []
    for table in CORE_TABLES:
        for row in synced[fmt].tables[f"core.{table}"]:
            assert not row.get("invalid_values") and not row.get("conflicting_copies"), row


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_roster_holds_the_districts_people_as_generated(synced: dict[str, Synced],
                                                            fmt: str) -> None:
    district = six_format_district()
    expected = sorted(
        (p.sis_id, "educator" if p.role == "teacher" else p.role, p.first_name,
         p.middle_name or None, p.last_name, p.email, p.username, p.birth_date, p.grade or None,
         p.schools[0], sorted(p.programs), p.state_id or None, p.student_number or None)
        for p in district.people if p.role != "guardian")
    assert synced[fmt].district.query(
        "select u.sis_id, u.role, u.first_name, u.middle_name, u.last_name, u.email, "
        "u.username, u.birth_date, u.grade, s.sis_id, u.programs, u.state_id, "
        "u.student_number from roster.users as u join roster.schools as s "
        "on s.app_id = u.school_app_id where u.status = 'active' "
        "and u.role in ('student', 'educator') order by all") == expected


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_shared_guardian_is_one_guardian_with_both_siblings(synced: dict[str, Synced],
                                                                fmt: str) -> None:
    words = fmt not in ONEROSTER
    rows = synced[fmt].district.query(
        "select g.sis_id, s.sis_id, r.relationship from core.guardian_relationships as r "
        "join core.guardians as g on g.user_source_id = r.guardian_source_id "
        "join core.users as s on s.user_source_id = r.student_source_id order by all")
    assert rows == [("G-1", "1003", "Mother" if words else None),
                    ("G-1", "2001", "Mother" if words else None),
                    ("G-2", "1003", "Father" if words else None),
                    ("G-3", "1001", "Grandmother" if words else None)]
    assert synced[fmt].district.query(
        "select sis_id, email from core.guardians order by 1") == [
        ("G-1", "grace.okafor@family.example.org"), ("G-2", "samuel.okafor@family.example.org"),
        ("G-3", "helga.lindqvist@family.example.org")]
    # and in the app: one guardian user per person, a link per sibling
    assert synced[fmt].district.query(
        "select g.sis_id, s.sis_id from roster.guardian_relationships as r "
        "join roster.users as g on g.app_id = r.guardian_app_id and g.role = 'guardian' "
        "join roster.users as s on s.app_id = r.student_app_id and s.role = 'student' "
        "where r.status = 'active' order by all") == [
        ("G-1", "1003"), ("G-1", "2001"), ("G-2", "1003"), ("G-3", "1001")]


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_teacher_of_both_schools_has_both_primary_first(synced: dict[str, Synced],
                                                           fmt: str) -> None:
    assert synced[fmt].district.query(
        "select s.sis_id, us.is_primary from roster.user_schools as us "
        "join roster.users as u on u.app_id = us.user_app_id "
        "join roster.schools as s on s.app_id = us.school_app_id "
        "where u.sis_id = 'T-12' order by all") == [("101", True), ("102", False)]
    # one per student, one per teacher, one more for the teacher of both schools
    assert synced[fmt].district.scalar(
        "select count(*) from roster.user_schools as us join roster.users as u "
        "on u.app_id = us.user_app_id where u.role in ('student', 'educator')") == 17


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_co_taught_section_has_its_primary_and_its_co_teacher(synced: dict[str, Synced],
                                                                 fmt: str) -> None:
    rows = synced[fmt].district.query(
        "select u.sis_id, e.role, e.is_primary from roster.enrollments as e "
        "join roster.users as u on u.app_id = e.user_app_id "
        "join roster.sections as s on s.app_id = e.section_app_id "
        "where s.sis_id = 'SEC-101' and e.status = 'active' order by all")
    assert rows == [("1003", "student", None), ("1004", "student", None),
                    ("1005", "student", None), ("1006", "student", None),
                    ("1007", "student", None), ("T-11", "teacher", True),
                    ("T-13", "teacher", False)]
    assert synced[fmt].district.scalar(
        "select count(*) from roster.enrollments where status = 'active'") == 23


@pytest.mark.parametrize("fmt", FORMATS)
def test_sections_are_in_their_terms_and_courses(synced: dict[str, Synced], fmt: str) -> None:
    assert synced[fmt].district.query(
        "select s.sis_id, s.name, sch.sis_id, c.course_code, c.title, t.name, t.start_date, "
        "t.end_date, t.school_year from roster.sections as s "
        "join roster.schools as sch on sch.app_id = s.school_app_id "
        "join roster.courses as c on c.app_id = s.course_app_id "
        "join roster.terms as t on t.app_id = s.term_app_id order by 1") == [
        ("SEC-101", "Math 5 - Rivera", "101", "MATH5", "Math 5", "Fall 2025",
         date(2025, 8, 18), date(2025, 12, 19), "2026"),
        ("SEC-102", "Science 5 - Osei", "101", "SCI5", "Science 5", "Spring 2026",
         date(2026, 1, 5), date(2026, 6, 12), "2026"),
        ("SEC-103", "Reading K - Chen", "101", "READK", "Reading K", "Fall 2025",
         date(2025, 8, 18), date(2025, 12, 19), "2026"),
        ("SEC-201", "English 7 - Osei", "102", "ELA7", "English 7", "Fall 2025",
         date(2025, 8, 18), date(2025, 12, 19), "2026"),
        ("SEC-202", "Band - Lund", "102", "BAND", "Band", "2025-2026",
         date(2025, 8, 18), date(2026, 6, 12), "2026"),
    ]
    if fmt in ONEROSTER:
        # the semesters sit under the school year, which the courses name
        assert synced[fmt].district.query(
            "select t.name, t.term_type, p.name from roster.terms as t "
            "left join roster.terms as p on p.app_id = t.parent_term_app_id order by 1") == [
            ("2025-2026", "schoolyear", None), ("Fall 2025", "semester", "2025-2026"),
            ("Spring 2026", "semester", "2025-2026")]
        assert synced[fmt].district.query(
            "select distinct y.name from roster.courses as c "
            "join roster.terms as y on y.app_id = c.school_year_app_id") == [("2025-2026",)]


# The role words each format gives the generated district's people: (role, roles) -> count.
SOURCE_ROLE_WORDS = {
    "clever": {("student", ("student",)), ("educator", ("teacher",)),
               ("guardian", ("contact",))},
    "oneroster": {("student", ("student",)), ("educator", ("teacher",)),
                  ("guardian", ("parent",))},
    "csv_import": {("student", ("student",)), ("educator", ("teacher",)),
                   ("guardian", ("guardian",))},
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_roles_are_the_sources_words(synced: dict[str, Synced], fmt: str) -> None:
    family = "clever" if fmt in CLEVER else "oneroster" if fmt in ONEROSTER else fmt
    assert {(role, tuple(roles)) for role, roles in synced[fmt].district.query(
        "select distinct role, roles from roster.users")} == SOURCE_ROLE_WORDS[family]
