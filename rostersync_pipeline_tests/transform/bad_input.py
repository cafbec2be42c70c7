"""Tiny hand-written bundles with one input problem each, synced for real on top of a night 0.

The three table-driven modules (``test_bad_values``, ``test_references``,
``test_contradictions``) share one shape: a module-scoped district synced once on
:data:`NIGHT_0` (one school, two students, a teacher, a section in a term, their enrollments),
and per case a copy of that warehouse synced on a bundle that differs from night 0 in one place.
A case then states the run's error rows as ``(code, field, value, source_file, source_row)``,
what the roster holds afterwards, and the run's status.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable, Sequence
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


@dataclass(frozen=True)
class Synced:
    """The night-0 district of a module, to copy for each case."""

    district: District
    root: Path


def synced_night_0(root: Path, night_0: Bundle = NIGHT_0, **config: Any) -> Synced:
    bundle = night_0.write(root / "night-0")
    district = make_district(root, bundle, schools=SCHOOLS, **config)
    outcome = district.sync()
    assert outcome.status == "applied", (outcome.failure, outcome.summary)
    assert district.errors(outcome.run_id) == []
    return Synced(district, root)


def night_1(synced: Synced, tmp_path: Path, bundle: Bundle | Path,
            before: Callable[[District], None] | None = None, **config: Any) -> tuple[District,
                                                                                      SyncOutcome]:
    """A copy of the night-0 warehouse, synced on ``bundle`` (``before`` runs on the copy
    first, e.g. to deactivate an app school)."""
    path = bundle if isinstance(bundle, Path) else bundle.write(tmp_path / "night-1")
    shutil.copytree(synced.district.warehouse_dir, tmp_path / "warehouse")
    district = make_district(tmp_path, path, synced.district.district_id, schools=SCHOOLS,
                             **config)
    if before is not None:
        before(district)
    outcome = district.sync()
    assert outcome.success, outcome.failure
    return district, outcome


def error_rows(district: District, run_id: str) -> set[ErrorRow]:
    """The run's error rows as (code, field, value, source_file, source_row)."""
    return {(e["error_code"], e["field"], e["error_value"], e["source_file"], e["source_row"])
            for e in district.errors(run_id)}


def roster_users(district: District) -> dict[str, tuple]:
    """roster.users by source id: (status, birth date as text, grade, has a school)."""
    return {source_id: (status, str(birth) if birth else None, grade, school is not None)
            for source_id, status, birth, grade, school in district.query(
                "select source_id, status, birth_date, grade, school_app_id from roster.users")}


def roster_status(district: District, table: str) -> dict[str, str]:
    """roster.<table> (sections, enrollments) by source id: status."""
    return dict(district.query(f"select source_id, status from roster.{table}"))


def set_app_school_status(source_id: str, status: str) -> Callable[[District], None]:
    def apply(district: District) -> None:
        with district_connection(district.warehouse_dir, district.district_id) as con:
            con.execute("update roster.schools set status = ? where source_id = ?",
                        [status, source_id])
    return apply


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


def assert_expected(district: District, outcome: SyncOutcome, expected: Expected) -> None:
    """(A helper module's asserts are not rewritten by pytest: each names what it found.)"""
    assert outcome.status == expected.status, outcome.summary
    errors = error_rows(district, outcome.run_id)
    assert errors == expected.errors, errors
    if expected.users is not None:
        users = roster_users(district)
        assert users == expected.users, users
    if expected.sections is not None:
        sections = roster_status(district, "sections")
        assert sections == expected.sections, sections
    if expected.enrollments is not None:
        enrollments = roster_status(district, "enrollments")
        assert enrollments == expected.enrollments, enrollments


def ids(cases: Sequence[Any]) -> list[str]:
    return [case.description for case in cases]
