"""The demo's seeded problems: which synthetic records carry which problem.

:func:`rostersync_pipeline.demo.district.write_oneroster_bundle` with ``problems=True`` plants
them in the bundle and records them in ``demo_problems.json`` beside the CSV files (the bundle
reader takes only ``.csv`` files). :func:`rostersync_pipeline.demo.district.seed_roster` reads
that record to give the app the state each problem needs (the rotated student's old IDs, the
unknown school's app-side name and IDs; the other problem students absent from the app).

One :class:`SeededProblem` per record at fault, shaped like a ``sync.sync_errors`` row
(record_type, field, error_value, error_code, source_id) so a test can join the two.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import duckdb

from rostersync_pipeline.demo.district_sql import run

ProblemKind = Literal[
    "rotated_id", "shared_email", "missing_value", "unknown_school", "unmapped_grade"
]
PROBLEM_KINDS: tuple[ProblemKind, ...] = (
    "rotated_id", "shared_email", "missing_value", "unknown_school", "unmapped_grade"
)
PROBLEMS_FILE = "demo_problems.json"

ROTATED_STUDENTS = 3
SHARED_EMAIL_PAIRS = 2
MISSING_VALUE_STUDENTS = 3
UNMAPPED_GRADE_STUDENTS = 3
UNMAPPED_GRADE_VALUE = "Grade Thirteen"


@dataclass(frozen=True)
class SeededProblem:
    """One record carrying one seeded problem.

    ``source_id`` / ``sis_id`` / ``name`` are the values in the bundle; ``app_*`` are the
    values the app holds for the same real-world record where they differ (rotated IDs, the
    renamed school). ``expected_error_code`` is None where the right outcome is not an error
    (a rotated ID is matched on email and reported as an ID change).
    """

    kind: ProblemKind
    record_type: Literal["student", "school"]
    source_id: str
    sis_id: str | None
    field: str
    error_value: str
    expected_error_code: str | None
    name: str | None = None
    app_source_id: str | None = None
    app_sis_id: str | None = None
    app_name: str | None = None


@dataclass(frozen=True)
class DemoProblems:
    """The seeded problems of one bundle, in a fixed order (kind, then source id)."""

    seed: int
    students: int
    problems: tuple[SeededProblem, ...]

    def of_kind(self, kind: ProblemKind) -> tuple[SeededProblem, ...]:
        return tuple(p for p in self.problems if p.kind == kind)

    def absent_from_app(self) -> set[str]:
        """Incoming students that the demo's app state must not hold (they arrive as new)."""
        return {
            p.source_id
            for p in self.problems
            if p.kind in ("shared_email", "missing_value", "unmapped_grade")
        }

    def to_json(self) -> str:
        payload = {
            "seed": self.seed,
            "students": self.students,
            "problems": [asdict(p) for p in self.problems],
        }
        return json.dumps(payload, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> DemoProblems:
        payload = json.loads(text)
        return cls(
            seed=int(payload["seed"]),
            students=int(payload["students"]),
            problems=tuple(SeededProblem(**p) for p in payload["problems"]),
        )

    def write(self, bundle_dir: Path) -> Path:
        path = Path(bundle_dir) / PROBLEMS_FILE
        path.write_text(self.to_json(), encoding="utf-8")
        return path


def load_demo_problems(bundle_dir: Path) -> DemoProblems | None:
    """The problems recorded beside a bundle, or None for a bundle generated without them."""
    path = Path(bundle_dir) / PROBLEMS_FILE
    if not path.exists():
        return None
    return DemoProblems.from_json(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class ProblemChoice:
    """Which generated records (by generator index) carry a problem."""

    rotated: tuple[int, ...]
    shared_pairs: tuple[tuple[int, int], ...]
    missing_value: tuple[int, ...]
    unmapped_grade: tuple[int, ...]
    school: int

    @classmethod
    def from_candidates(cls, candidates: list[int], school: int) -> ProblemChoice:
        needed = (
            ROTATED_STUDENTS + 2 * SHARED_EMAIL_PAIRS + MISSING_VALUE_STUDENTS
            + UNMAPPED_GRADE_STUDENTS
        )
        if len(candidates) < needed:
            raise ValueError(
                f"seeding the demo problems needs {needed} candidate students, "
                f"found {len(candidates)}; generate a larger district"
            )
        it = iter(candidates)
        rotated = tuple(next(it) for _ in range(ROTATED_STUDENTS))
        pairs = tuple((next(it), next(it)) for _ in range(SHARED_EMAIL_PAIRS))
        missing = tuple(next(it) for _ in range(MISSING_VALUE_STUDENTS))
        grade = tuple(next(it) for _ in range(UNMAPPED_GRADE_STUDENTS))
        return cls(rotated, pairs, missing, grade, school)


PROBLEM_CANDIDATES = """
select i
from student
where night_band is null and j <> $school
order by mix($seed, 'problem', i), i
limit 64
"""


def plant_problems(
    con: duckdb.DuckDBPyConnection, choice: ProblemChoice, params: dict
) -> DemoProblems:
    """Apply the chosen problems to the built tables and describe them."""
    seed = params["seed"]
    student_sql = (
        "select i, source_id, identifier, email, given_name || ' ' || family_name "
        "from student where list_contains($ids::bigint[], i) order by i"
    )
    before = {row[0]: row for row in run(con, student_sql, {"ids": list(choice.rotated)})}
    run(
        con,
        "update student set "
        "source_id = fake_uuid(mix($seed, 'student-rotated', i), mix(i, 'rotated', $seed)), "
        "identifier = (9000000 + i)::varchar "
        "where list_contains($ids::bigint[], i)",
        {"seed": seed, "ids": list(choice.rotated)},
    )
    for first, second in choice.shared_pairs:
        run(
            con,
            "update student set email = (select email from student where i = $first) "
            "where i = $second",
            {"first": first, "second": second},
        )
    run(con, "update student set family_name = null where list_contains($ids::bigint[], i)",
        {"ids": list(choice.missing_value)})
    run(con, "update student set grade = $grade where list_contains($ids::bigint[], i)",
        {"ids": list(choice.unmapped_grade), "grade": UNMAPPED_GRADE_VALUE})
    school_before = run(
        con, "select source_id, identifier, name from school where j = $j", {"j": choice.school}
    )[0]
    run(
        con,
        "update school set "
        "source_id = fake_uuid(mix($seed, 'org-renamed', j), mix(j, 'renamed', $seed)), "
        "identifier = 'X' || identifier, "
        "name = (select pick(places, j) || ' ' || band_abbreviations[band + 1] from lists) "
        "where j = $j",
        {"seed": seed, "j": choice.school},
    )
    school_after = run(
        con, "select source_id, identifier, name from school where j = $j", {"j": choice.school}
    )[0]

    def students_of(ids: tuple[int, ...]) -> list[tuple]:
        return run(con, student_sql, {"ids": list(ids)})

    problems: list[SeededProblem] = []
    for i, source_id, sis_id, email, name in students_of(choice.rotated):
        problems.append(SeededProblem(
            "rotated_id", "student", source_id, sis_id, "email", email, None, name,
            app_source_id=before[i][1], app_sis_id=before[i][2],
        ))
    pair_ids = tuple(i for pair in choice.shared_pairs for i in pair)
    for _, source_id, sis_id, email, name in students_of(pair_ids):
        problems.append(SeededProblem(
            "shared_email", "student", source_id, sis_id, "email", email,
            "DUPLICATE_EMAIL_ADDRESS", name,
        ))
    missing_sql = student_sql.replace("given_name || ' ' || family_name", "given_name")
    for _, source_id, sis_id, _, name in run(con, missing_sql, {"ids": list(choice.missing_value)}):
        problems.append(SeededProblem(
            "missing_value", "student", source_id, sis_id, "last_name", "",
            "VALUE_NOT_SPECIFIED", name,
        ))
    problems.append(SeededProblem(
        "unknown_school", "school", school_after[0], school_after[1], "name", school_after[2],
        "SCHOOL_NOT_MATCHED", school_after[2],
        app_source_id=school_before[0], app_sis_id=school_before[1], app_name=school_before[2],
    ))
    for _, source_id, sis_id, _, name in students_of(choice.unmapped_grade):
        problems.append(SeededProblem(
            "unmapped_grade", "student", source_id, sis_id, "grade", UNMAPPED_GRADE_VALUE,
            "INVALID_GRADE", name,
        ))
    return DemoProblems(seed=seed, students=params["n"], problems=tuple(problems))
