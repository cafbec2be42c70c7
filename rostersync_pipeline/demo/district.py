"""Synthetic districts: OneRoster v1.1 CSV bundles of any size, generated set-based in DuckDB.

A district of ``n`` students has ``ceil(n / 550)`` schools, one teacher per 13 students, about
``n * 7 / 25`` sections of about 25 students and 7 enrollments per student (each in a section of
the student's own school), plus one teacher enrollment per section. Every value derives from a
hash of (seed, record index), so a seed always gives the same bytes; ``night=1`` is the next
night's export of the same district with about 3% of the students changed (see
:data:`NIGHT_CHANGE_BASIS_POINTS`). Names are drawn from small built-in lists and every email is
at ``example.org``: realistic-looking, clearly fake.

Tables are built in :mod:`~rostersync_pipeline.demo.district_sql` and written one
``copy (select ...) to`` per file in :mod:`~rostersync_pipeline.demo.bundle_files`. The app's
pre-existing state for the demo is seeded by :func:`seed_roster`
(:mod:`~rostersync_pipeline.demo.app_roster`); the demo's planted problems are described
in :mod:`~rostersync_pipeline.demo.problems`.
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from rostersync_pipeline.demo import bundle_files as export
from rostersync_pipeline.demo import district_sql as sql
from rostersync_pipeline.demo.app_roster import (
    RosterSeed,
    seed_roster,
    write_district_config,
)
from rostersync_pipeline.demo.problems import (
    PROBLEM_CANDIDATES,
    PROBLEMS_FILE,
    DemoProblems,
    ProblemChoice,
    plant_problems,
)

__all__ = [
    "BundleStats",
    "NIGHT_CHANGE_BASIS_POINTS",
    "RosterSeed",
    "district_shape",
    "seed_roster",
    "write_district_config",
    "write_oneroster_bundle",
]

STUDENTS_PER_SCHOOL = 550
STUDENTS_PER_TEACHER = 13
STUDENTS_PER_SECTION = 25
ENROLLMENTS_PER_STUDENT = 7
NEW_STUDENT_BASIS_POINTS = 50

# Night 1, per existing student (basis points of students): consecutive bands of one hash.
NIGHT_CHANGE_BASIS_POINTS: dict[str, int] = {
    "dropped": 50,
    "family_name": 60,
    "email": 50,
    "grade": 50,
    "enrollment": 50,
    "id_rotation": 0,
}
# The benchmark's next night (issue #12): about 5% of the students changed, ID rotations included.
BENCH_NIGHT_BASIS_POINTS: dict[str, int] = {
    "dropped": 75,
    "family_name": 75,
    "email": 75,
    "grade": 75,
    "enrollment": 75,
    "id_rotation": 50,
}
BENCH_NEW_STUDENT_BASIS_POINTS = 75

MANIFEST = (
    ("manifest.version", "1.0"),
    ("oneroster.version", "1.1"),
    ("file.academicSessions", "bulk"),
    ("file.categories", "absent"),
    ("file.classes", "bulk"),
    ("file.classResources", "absent"),
    ("file.courses", "bulk"),
    ("file.courseResources", "absent"),
    ("file.demographics", "bulk"),
    ("file.enrollments", "bulk"),
    ("file.lineItems", "absent"),
    ("file.orgs", "bulk"),
    ("file.resources", "absent"),
    ("file.results", "absent"),
    ("file.users", "bulk"),
    ("source.systemName", "rostersync synthetic district"),
    ("source.systemCode", "rostersync-synthetic"),
)


@dataclass(frozen=True)
class BundleStats:
    """What one generated bundle holds (row counts per file) and how long it took."""

    out_dir: Path
    seed: int
    night: int
    students: int
    teachers: int
    guardians: int
    schools: int
    sections: int
    courses: int
    enrollments: int
    academic_sessions: int
    demographics: int
    seconds: float
    changes: dict[str, int] = field(default_factory=dict)
    problems: DemoProblems | None = None


def district_shape(students: int) -> tuple[int, int]:
    """(schools, teachers) of a district of ``students`` students."""
    if students < 1:
        raise ValueError(f"students must be at least 1, got {students}")
    schools = math.ceil(students / STUDENTS_PER_SCHOOL)
    teachers = max(schools, round(students / STUDENTS_PER_TEACHER))
    return schools, teachers


def write_oneroster_bundle(
    out_dir: Path,
    students: int,
    seed: int = 7,
    *,
    night: int = 0,
    problems: bool = False,
    change_basis_points: dict[str, int] | None = None,
    new_student_basis_points: int | None = None,
) -> BundleStats:
    """Write a OneRoster v1.1 CSV bundle (a directory of CSV files, manifest all bulk).

    ``night=0`` is the district as first exported; ``night=1`` the next night's export.
    ``change_basis_points`` / ``new_student_basis_points`` replace night 1's change mix
    (:data:`BENCH_NIGHT_BASIS_POINTS` is the benchmark's ~5%). ``problems=True`` plants the
    demo's seeded problems (the same records in both nights) and
    records them in ``demo_problems.json`` in ``out_dir``.
    """
    if night not in (0, 1):
        raise ValueError(f"night must be 0 or 1, got {night}")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    schools, teachers = district_shape(students)
    new_bp = NEW_STUDENT_BASIS_POINTS if new_student_basis_points is None else new_student_basis_points
    new_students = round(students * new_bp / 10_000) if night == 1 else 0
    params = {
        "seed": seed,
        "n": students,
        "n_total": students + new_students,
        "night": night,
        "n_schools": schools,
        "n_teachers": teachers,
        "per_student": ENROLLMENTS_PER_STUDENT,
        "per_section": STUDENTS_PER_SECTION,
        **sql.name_lists(),
        **sql.change_bands(change_basis_points or NIGHT_CHANGE_BASIS_POINTS),
    }
    con = duckdb.connect()
    try:
        con.execute("set enable_progress_bar = false")
        sql.create_macros(con)
        for statement in sql.BUILD_STATEMENTS:
            sql.run(con, statement, params)
        recorded: DemoProblems | None = None
        if problems:
            recorded = _plant_problems(con, params)
        _write_manifest(out_dir / "manifest.csv")
        written = {
            name: export.copy_to_csv(con, query, out_dir / f"{name}.csv", params)
            for name, query in export.EXPORTS.items()
        }
        counts = {**export.counts(con), "enrollments": written["enrollments"]}
        changes = export.night_changes(con, params) if night == 1 else {}
    finally:
        con.close()
    problems_path = out_dir / PROBLEMS_FILE
    if recorded is not None:
        recorded.write(out_dir)
    elif problems_path.exists():
        problems_path.unlink()
    return BundleStats(
        out_dir=out_dir,
        seed=seed,
        night=night,
        students=counts["students"],
        teachers=counts["teachers"],
        guardians=counts["guardians"],
        schools=counts["schools"],
        sections=counts["sections"],
        courses=counts["courses"],
        enrollments=counts["enrollments"],
        academic_sessions=counts["academic_sessions"],
        demographics=counts["students"],
        seconds=time.perf_counter() - started,
        changes=changes,
        problems=recorded,
    )


def _plant_problems(con: duckdb.DuckDBPyConnection, params: dict) -> DemoProblems:
    """Change the chosen records in place (before enrollments and exports are built)."""
    if params["n_schools"] < 2:
        raise ValueError(
            "the demo problems need at least 2 schools (more than "
            f"{STUDENTS_PER_SCHOOL} students): one of them is the unknown school"
        )
    school = params["n_schools"] - 1
    candidates = [
        row[0] for row in sql.run(con, PROBLEM_CANDIDATES, {**params, "school": school})
    ]
    choice = ProblemChoice.from_candidates(candidates, school)
    return plant_problems(con, choice, params)


def _write_manifest(path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("propertyName", "value"))
        writer.writerows(MANIFEST)
