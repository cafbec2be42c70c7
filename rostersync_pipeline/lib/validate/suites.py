"""The expectation suites of the canonical tables, as data (no Great Expectations import here).

One suite per ``core.*`` table: required values, formats, uniqueness of keys and references
between tables. Each expectation has a name (``<table>.<rule>``) a district config can refer to,
and a default: ``hard`` (a failure stops apply; the run is ``blocked``) or ``soft`` (reported as
a warning). A suite reads its table through one DuckDB query (``frame_sql``) that also computes,
set-based, the columns references are checked on (``school_known``: the section's school is in
this landing or in the app), so Great Expectations validates columns, not joins.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


@dataclass(frozen=True)
class Expectation:
    """One rule on one column: ``kind`` is not_null | unique | in_set | regex | true."""

    name: str
    column: str
    kind: str
    hard: bool
    description: str
    value_set: tuple[str, ...] = ()
    regex: str | None = None
    mostly: float | None = None
    row_condition: str | None = None


@dataclass(frozen=True)
class TableSuite:
    table: str
    id_column: str
    frame_sql: str
    expectations: tuple[Expectation, ...]

    @property
    def check_name(self) -> str:
        return f"{self.table.split('.')[1]}_expectation_suite"


def _ids(entity: str, id_column: str) -> tuple[Expectation, Expectation]:
    return (
        Expectation(f"{entity}.id_present", id_column, "not_null", True,
                    f"every {entity[:-1]} has its source id"),
        Expectation(f"{entity}.id_unique", id_column, "unique", True,
                    f"no two {entity} share a source id"),
    )


SUITES: tuple[TableSuite, ...] = (
    TableSuite(
        table="core.schools",
        id_column="school_source_id",
        frame_sql="select school_source_id, school_name from core.schools",
        expectations=(
            *_ids("schools", "school_source_id"),
            Expectation("schools.name_present", "school_name", "not_null", False,
                        "every school has a name (matching on the app's names needs it)"),
        ),
    ),
    TableSuite(
        table="core.users",
        id_column="user_source_id",
        frame_sql="select user_source_id, role, email, grade_code from core.users",
        expectations=(
            *_ids("users", "user_source_id"),
            Expectation("users.role_known", "role", "in_set", True,
                        "every user is a student or an educator",
                        value_set=("student", "educator")),
            Expectation("users.email_format", "email", "regex", False,
                        "emails look like emails", regex=EMAIL_PATTERN),
            Expectation("users.grade_mapped", "grade_code", "not_null", False,
                        "at least 95% of students have a grade the code table maps",
                        mostly=0.95, row_condition='role=="student"'),
        ),
    ),
    TableSuite(
        table="core.sections",
        id_column="section_source_id",
        frame_sql="""
            select
                sections.section_source_id,
                sections.section_name,
                sections.school_source_id is null
                    or sections.school_source_id in (select school_source_id from core.schools)
                    or sections.school_source_id in (
                        select source_id from roster.schools where source_id is not null)
                    as school_known
            from core.sections as sections""",
        expectations=(
            *_ids("sections", "section_source_id"),
            Expectation("sections.name_present", "section_name", "not_null", False,
                        "every section has a name"),
            Expectation("sections.school_known", "school_known", "true", False,
                        "every section's school is in this landing or in the app"),
        ),
    ),
    TableSuite(
        table="core.enrollments",
        id_column="enrollment_source_id",
        frame_sql="""
            with known_users as (
                select user_source_id as source_id from core.users
                union
                select source_id from roster.users where source_id is not null
            ),
            known_sections as (
                select section_source_id as source_id from core.sections
                union
                select source_id from roster.sections where source_id is not null
            )
            select
                enrollments.enrollment_source_id,
                enrollments.role,
                known_sections.source_id is not null as section_known,
                known_users.source_id is not null as user_known
            from core.enrollments as enrollments
            left join known_sections
                on known_sections.source_id = enrollments.section_source_id
            left join known_users on known_users.source_id = enrollments.user_source_id""",
        expectations=(
            *_ids("enrollments", "enrollment_source_id"),
            Expectation("enrollments.role_known", "role", "in_set", True,
                        "every enrollment is a student's or a teacher's",
                        value_set=("student", "teacher")),
            Expectation("enrollments.section_known", "section_known", "true", False,
                        "every enrollment's section is in this landing or in the app"),
            Expectation("enrollments.user_known", "user_known", "true", False,
                        "every enrollment's person is in this landing or in the app"),
        ),
    ),
    TableSuite(
        table="core.terms",
        id_column="term_source_id",
        frame_sql="""
            select term_source_id,
                start_date is null or end_date is null or start_date <= end_date as dates_ordered
            from core.terms""",
        expectations=(
            *_ids("terms", "term_source_id"),
            Expectation("terms.dates_ordered", "dates_ordered", "true", False,
                        "a term does not end before it starts"),
        ),
    ),
    TableSuite(
        table="core.guardians",
        id_column="user_source_id",
        frame_sql="""
            select user_source_id, email,
                is_deleted or user_source_id in (
                    select guardian_source_id from core.guardian_relationships) as related
            from core.guardians""",
        expectations=(
            *_ids("guardians", "user_source_id"),
            Expectation("guardians.email_format", "email", "regex", False,
                        "guardians' emails look like emails", regex=EMAIL_PATTERN),
            Expectation("guardians.related", "related", "true", False,
                        "every guardian is related to a student of this landing"),
        ),
    ),
    TableSuite(
        table="core.courses",
        id_column="course_source_id",
        frame_sql="select course_source_id, course_name from core.courses",
        expectations=(
            *_ids("courses", "course_source_id"),
            Expectation("courses.name_present", "course_name", "not_null", False,
                        "every course has a name"),
        ),
    ),
)

EXPECTATION_NAMES: tuple[str, ...] = tuple(e.name for s in SUITES for e in s.expectations)


def with_severities(suite: TableSuite, severities: dict[str, str]) -> TableSuite:
    """The suite with the district's ``expectations`` overrides (name -> ``hard`` | ``soft``)."""
    return replace(suite, expectations=tuple(
        replace(e, hard=severities[e.name] == "hard") if e.name in severities else e
        for e in suite.expectations))
