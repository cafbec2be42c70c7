"""Tiny hand-written bundles with one input problem each, synced for real on top of a night 0.

The three table-driven modules (``test_bad_values``, ``test_references``,
``test_contradictions``) share one shape: each case is :data:`NIGHT_0` (one school, two
students, a teacher, a section in a term, their enrollments) as night 0, then a night 1 that
differs from night 0 in one place. A case states the run's error rows as
``(code, field, value, source_file, source_row)``, what the roster holds afterwards, and the
run's status.

:class:`CombinedCases` syncs a module's cases together, each under its own id prefix in one
district: one night 0 for all, one night 1 per group of cases whose bundles send the same files
the same way. Each case then reads back only its own rows (its ids, its rows of each file),
with the prefix and row offset taken off, so it asserts what it would alone.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rostersync_pipeline.lib.ingest.providers.clever_csv import SPEC_COLUMNS as CLEVER_COLUMNS
from rostersync_pipeline.lib.ingest.providers.oneroster_csv import SPEC_COLUMNS as OR_COLUMNS
from rostersync_pipeline.lib.storage.warehouse import district_connection
from rostersync_pipeline.runner import SyncOutcome
from rostersync_pipeline_tests.helpers import (
    BUNDLE_FILES,
    District,
    enrollment,
    make_district,
    org,
    section,
    student,
    teacher,
)

Rows = tuple[dict[str, str], ...]
ErrorRow = tuple[str, str | None, str | None, str | None, int | None]
# (propertyName in the manifest, file name) of the files write_bundle does not write
EXTRA_FILES = (("demographics", "demographics"), ("academicSessions", "academicSessions"),
               ("courses", "courses"), ("roles", "roles"))
SCHOOLS = {"create_unmatched": True}


def session(source_id: str, **fields: str) -> dict[str, str]:
    """An academic session (term) of school year 2025, August to June."""
    return {"sourcedId": source_id, "status": "active", "title": f"Term {source_id}",
            "type": "term", "startDate": "2024-08-15", "endDate": "2025-06-15",
            "schoolYear": "2025", **fields}


def course(source_id: str, org_id: str, **fields: str) -> dict[str, str]:
    return {"sourcedId": source_id, "status": "active", "title": f"Course {source_id}",
            "orgSourcedId": org_id, **fields}


# A school year and its two semesters, and two courses of school sch1 in that year: the terms
# and courses that roster tests sync night after night.
SCHOOL_YEAR = session("sy", title="2025-2026", type="schoolYear", startDate="2025-08-01",
                      endDate="2026-06-30", schoolYear="2026")
FALL = session("fall", title="Fall", type="semester", startDate="2025-08-01",
               endDate="2025-12-20", schoolYear="2026", parentSourcedId="sy")
SPRING = session("spring", title="Spring", type="semester", startDate="2026-01-05",
                 endDate="2026-06-30", schoolYear="2026", parentSourcedId="sy")
MATH = course("math", "sch1", courseCode="MATH1", schoolYearSourcedId="sy")
SCIENCE = course("science", "sch1", courseCode="SCI", schoolYearSourcedId="sy")


def demographic(user_id: str, birth_date: str) -> dict[str, str]:
    return {"sourcedId": user_id, "status": "active", "birthDate": birth_date}


@dataclass(frozen=True)
class Bundle:
    """A OneRoster CSV bundle as rows per file; ``manifest`` overrides the bulk default."""

    orgs: Rows = ()
    users: Rows = ()
    classes: Rows = ()
    enrollments: Rows = ()
    demographics: Rows = ()
    academicSessions: Rows = ()  # noqa: N815 (the file's name)
    courses: Rows = ()
    roles: Rows = ()
    manifest: tuple[tuple[str, str], ...] = ()

    def but(self, **files: Sequence[dict[str, str]] | dict[str, str]) -> Bundle:
        """This bundle with some files replaced (``manifest`` given as a dict)."""
        changes: dict[str, Any] = {}
        for name, value in files.items():
            changes[name] = tuple(value.items()) if name == "manifest" else tuple(value)
        return replace(self, **changes)

    def write(self, directory: Path) -> Path:
        """The bundle's files under ``directory``: orgs, users, classes and enrollments always
        (with the columns of ``helpers.write_bundle`` and any ``metadata.*`` a row adds), the
        other files when they have rows; the manifest lists each as bulk unless told."""
        directory.mkdir(parents=True, exist_ok=True)
        manifest = {"manifest.version": "1.0", "oneroster.version": "1.1",
                    **{f"file.{name}": "bulk" for name in BUNDLE_FILES},
                    **{f"file.{name}": "bulk" for name, _ in EXTRA_FILES if getattr(self, name)},
                    **dict(self.manifest)}
        write_csv(directory / "manifest.csv", ("propertyName", "value"),
                  [{"propertyName": k, "value": v} for k, v in manifest.items()])
        for name, header in BUNDLE_FILES.items():
            rows = getattr(self, name)
            extra = sorted({k for row in rows for k in row if k not in header})
            write_csv(directory / f"{name}.csv", (*header, *extra), rows)
        for name, file_name in EXTRA_FILES:
            rows = getattr(self, name)
            if rows:
                write_csv(directory / f"{file_name}.csv", OR_COLUMNS[name], rows)
        return directory


def write_csv(path: Path, header: Sequence[str], rows: Sequence[dict[str, str]]) -> None:
    """``rows`` under ``header`` (a missing key is an empty value; an unknown one an error)."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(header), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def clever_csv_bundle(directory: Path, files: dict[str, Sequence[dict[str, str]]]) -> Path:
    """A Clever-format CSV upload: each file under its spec header (``schools``, ``students``,
    ``teachers``, ``sections``, ``enrollments``; an empty list writes the header only)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("schools", "students", "teachers", "sections", "enrollments"):
        write_csv(directory / f"{name}.csv", CLEVER_COLUMNS[name], files.get(name, ()))
    return directory


NIGHT_0 = Bundle(
    orgs=(org("sch1", "North High"), org("dist1", "Unified District", type="district")),
    users=(student("s1", "sch1"), student("s2", "sch1"), teacher("t1", "sch1")),
    classes=(section("sec1", "sch1", termSourcedIds="term1"),),
    enrollments=(enrollment("e-s1", "sec1", "s1", "sch1"),
                 enrollment("e-s2", "sec1", "s2", "sch1"),
                 enrollment("e-t1", "sec1", "t1", "sch1", role="teacher")),
    demographics=(demographic("s1", "2010-04-17"),),
    academicSessions=(session("term1"),),
)


def user_rows(**changed: dict[str, str]) -> tuple[dict[str, str], ...]:
    """Night 0's users, with the fields given per source id changed (``s1={...}``)."""
    return tuple({**row, **changed.get(row["sourcedId"], {})} for row in NIGHT_0.users)


def error_rows(district: District, run_id: str) -> set[ErrorRow]:
    """The run's error rows as (code, field, value, source_file, source_row)."""
    return {(e["error_code"], e["field"], e["error_value"], e["source_file"], e["source_row"])
            for e in district.errors(run_id)}


def own_rows(rows: Iterable[Sequence[Any]], prefix: str = "") -> list[tuple]:
    """The rows whose first column (a source id) starts with ``prefix``, the prefix taken off
    (every row when there is no prefix)."""
    if not prefix:
        return [tuple(row) for row in rows]
    return [(row[0].removeprefix(prefix), *row[1:]) for row in rows
            if row[0] is not None and row[0].startswith(prefix)]


def roster_users(district: District, prefix: str = "") -> dict[str, tuple]:
    """roster.users by source id: (status, birth date as text, grade, has a school)."""
    return {source_id: (status, str(birth) if birth else None, grade, school is not None)
            for source_id, status, birth, grade, school in own_rows(district.query(
                "select source_id, status, birth_date, grade, school_app_id from roster.users"),
                prefix)}


def roster_status(district: District, table: str, prefix: str = "") -> dict[str, str]:
    """roster.<table> (sections, enrollments) by source id: status."""
    return dict(own_rows(district.query(f"select source_id, status from roster.{table}"),
                         prefix))


@dataclass(frozen=True)
class Expected:
    """What a case must leave: every error row, and the roster tables it names."""

    errors: set[ErrorRow] = field(default_factory=set)
    users: dict[str, tuple] | None = None
    sections: dict[str, str] | None = None
    enrollments: dict[str, str] | None = None
    status: str = "applied"


NIGHT_0_USERS = {"s1": ("active", "2010-04-17", "05", True), "s2": ("active", None, "05", True),
                 "t1": ("active", None, None, True)}
NIGHT_0_SECTIONS = {"sec1": "active"}
NIGHT_0_ENROLLMENTS = {"e-s1": "active", "e-s2": "active", "e-t1": "active"}


def assert_expected(run: CaseRun, expected: Expected) -> None:
    """(A helper module's asserts are not rewritten by pytest: each names what it found.)"""
    assert run.outcome.status == expected.status, run.outcome.summary
    errors = run.error_rows()
    assert errors == expected.errors, errors
    if expected.users is not None:
        users = roster_users(run.district, run.prefix)
        assert users == expected.users, users
    if expected.sections is not None:
        sections = roster_status(run.district, "sections", run.prefix)
        assert sections == expected.sections, sections
    if expected.enrollments is not None:
        enrollments = roster_status(run.district, "enrollments", run.prefix)
        assert enrollments == expected.enrollments, enrollments


def ids(cases: Sequence[Any]) -> list[str]:
    return [case.description for case in cases]


# Per file, the columns holding a source id (a comma-separated list in LIST_COLUMNS) or a value
# two people or schools must not share (sis id, username, email, names): what a case's prefix
# goes in front of, so that cases synced in one district never meet.
KEYED_COLUMNS = {
    "orgs": ("sourcedId", "parentSourcedId", "identifier", "name"),
    "users": ("sourcedId", "orgSourcedIds", "agentSourcedIds", "username", "identifier",
              "email", "givenName", "familyName"),
    "classes": ("sourcedId", "courseSourcedId", "schoolSourcedId", "termSourcedIds"),
    "enrollments": ("sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId"),
    "demographics": ("sourcedId",),
    "academicSessions": ("sourcedId", "parentSourcedId"),
    "courses": ("sourcedId", "orgSourcedId", "schoolYearSourcedId"),
    "roles": ("sourcedId", "userSourcedId", "orgSourcedId"),
}
LIST_COLUMNS = ("orgSourcedIds", "agentSourcedIds", "termSourcedIds")
FILE_NAMES = {**{name: name for name in BUNDLE_FILES}, **dict(EXTRA_FILES)}


def _prefixed_value(prefix: str, column: str, value: str) -> str:
    if not value.strip():
        return value
    if column not in LIST_COLUMNS:
        return prefix + value
    parts = value.split(",")
    return ",".join(part[:len(part) - len(part.lstrip())] + prefix + part.lstrip()
                    for part in parts)


def prefixed(bundle: Bundle, prefix: str) -> Bundle:
    """``bundle`` with ``prefix`` in front of every id (and sis id, username, email, name)."""
    return bundle.but(**{
        name: [{column: _prefixed_value(prefix, column, value) if column in keyed else value
                for column, value in row.items()} for row in getattr(bundle, name)]
        for name, keyed in KEYED_COLUMNS.items()})


def file_modes(bundle: Bundle) -> tuple[tuple[str, str], ...]:
    """How the bundle sends each file: bulk, delta, absent, or "not sent" (no file)."""
    manifest = dict(bundle.manifest)
    return tuple((name, manifest.get(f"file.{name}") or (
        "bulk" if name in BUNDLE_FILES or getattr(bundle, name) else "not sent"))
        for name in KEYED_COLUMNS)


@dataclass(frozen=True)
class AppSchoolStatus:
    """Before night 1: the app's copy of a school set to ``status`` (e.g. deactivated)."""

    source_id: str
    status: str

    def __call__(self, district: District, prefix: str = "") -> None:
        with district_connection(district.warehouse_dir, district.district_id) as con:
            con.execute("update roster.schools set status = ? where source_id = ?",
                        [self.status, prefix + self.source_id])


@dataclass(frozen=True)
class CaseRun:
    """One case's part of a night 1 synced with other cases: the district, the run, the case's
    id prefix and, per source file, the offset and count of the case's rows in it."""

    district: District
    outcome: SyncOutcome
    prefix: str
    rows: dict[str, tuple[int, int]]

    def owns(self, error: dict[str, Any]) -> bool:
        """Whether an error row comes from this case's rows (or, without a row, its ids)."""
        file, row = error["source_file"], error["source_row"]
        if file is not None and row is not None:
            offset, count = self.rows.get(file, (0, 0))
            return offset < row - 1 <= offset + count
        return (error["source_id"] or "").startswith(self.prefix)

    def errors(self, code: str | None = None) -> list[dict[str, Any]]:
        """The case's error rows as :meth:`District.errors` gives them, as the case alone would
        have them: without the prefix in ids and values, rows counted in its own files."""
        found = []
        for error in self.district.errors(self.outcome.run_id, code):
            if self.owns(error):
                offset = self.rows.get(error["source_file"], (0, 0))[0]
                found.append({
                    **{key: value.replace(self.prefix, "") if isinstance(value, str) else value
                       for key, value in error.items()},
                    "source_row": None if error["source_row"] is None
                    else error["source_row"] - offset})
        return found

    def error_rows(self) -> set[ErrorRow]:
        """The case's error rows as (code, field, value, source_file, source_row)."""
        return {(e["error_code"], e["field"], e["error_value"], e["source_file"],
                 e["source_row"]) for e in self.errors()}


@dataclass(frozen=True)
class CombinedCase:
    """A case of :class:`CombinedCases`: night 0 is ``NIGHT_0``, night 1 ``bundle``; ``before``
    runs on the night-0 warehouse before night 1."""

    name: str
    bundle: Bundle
    before: AppSchoolStatus | None = None

    def group(self) -> tuple:
        return (file_modes(self.bundle), self.bundle.manifest, self.before)


class CombinedCases:
    """A module's cases in one district under ``root``: night 0 (every case's ``NIGHT_0``,
    prefixed ``c00-``, ``c01-``, ...) synced once; night 1 synced once per group of cases whose
    bundles send the same files the same way and need the same ``before``, on a copy of night 0.
    A bulk file of a group's night 1 carries the other cases' night-0 rows unchanged."""

    def __init__(self, root: Path, cases: Sequence[CombinedCase]) -> None:
        self.root = root
        self.cases = {case.name: case for case in cases}
        assert len(self.cases) == len(cases), "case names repeat"
        self.prefixes = {case.name: f"c{n:02d}-" for n, case in enumerate(cases)}
        self.runs: dict[tuple, dict[str, CaseRun]] = {}
        night_0 = self._combined({name: NIGHT_0 for name in self.cases})[0]
        self.night_0 = make_district(root, night_0.write(root / "night-0"), schools=SCHOOLS)
        outcome = self.night_0.sync()
        assert outcome.status == "applied", (outcome.failure, outcome.summary)
        assert self.night_0.errors(outcome.run_id) == []

    def _combined(self, bundles: dict[str, Bundle]) -> tuple[Bundle, dict[str, dict]]:
        """One bundle of the cases' ``bundles`` (others' night 0 in its bulk files), and per
        case the (offset, count) of its rows in each file."""
        first = next(iter(bundles.values()))
        modes = dict(file_modes(first))
        files: dict[str, list[dict[str, str]]] = {name: [] for name in KEYED_COLUMNS}
        rows: dict[str, dict] = {}
        for name, prefix in self.prefixes.items():
            if name in bundles:
                bundle = prefixed(bundles[name], prefix)
            else:
                bundle = prefixed(NIGHT_0, prefix).but(**{
                    file: () for file, mode in modes.items() if mode != "bulk"})
            rows[name] = {}
            for file in KEYED_COLUMNS:
                own = getattr(bundle, file)
                rows[name][f"{FILE_NAMES[file]}.csv"] = (len(files[file]), len(own))
                files[file].extend(own)
        return first.but(**files), rows

    def run(self, name: str) -> CaseRun:
        """Case ``name``'s part of its group's night 1 (synced on the first call)."""
        group = self.cases[name].group()
        if group not in self.runs:
            self.runs[group] = self._sync_group(
                [case for case in self.cases.values() if case.group() == group])
        return self.runs[group][name]

    def _sync_group(self, cases: list[CombinedCase]) -> dict[str, CaseRun]:
        root = self.root / f"night-1-{len(self.runs)}"
        bundle, rows = self._combined({case.name: case.bundle for case in cases})
        shutil.copytree(self.night_0.warehouse_dir, root / "warehouse")
        district = make_district(root, bundle.write(root / "night-1"), schools=SCHOOLS)
        for case in cases:
            if case.before is not None:
                case.before(district, self.prefixes[case.name])
        outcome = district.sync()
        assert outcome.success, outcome.failure
        runs = {case.name: CaseRun(district, outcome, self.prefixes[case.name], rows[case.name])
                for case in cases}
        strays = [error for error in district.errors(outcome.run_id)
                  if not any(run.owns(error) for run in runs.values())]
        assert strays == [], f"error rows of no case in this night 1: {strays}"
        return runs
