"""Clever-format CSV (Clever SFTP spec), from a directory or a ``.zip``, into ``raw.clever_csv_*``.

- Files: ``schools.csv``, ``students.csv``, ``teachers.csv``, ``sections.csv``,
  ``enrollments.csv`` (the five required) and ``staff.csv`` (optional). A required file that is
  missing makes the fetch incomplete.
- Headers are matched by name, case-insensitively (:mod:`csv_columns`: a near-miss such as
  ``Student ID`` is read as ``Student_id`` and reported ``MISSING_COLUMN``); columns outside the
  spec are kept in ``_ext`` as JSON, and reported ``UNKNOWN_COLUMN`` unless they are Clever's
  ``ext.*`` custom fields. All spec columns land as VARCHAR.
- ``Password`` (students, teachers, staff) is not landed unless ``source.keep_passwords``; the
  work folder's copy is rewritten without it (when it holds a value) before archiving.
- UTF-8 with or without BOM, UTF-16 with BOM, or the declared ``source.encoding``; CRLF / LF /
  CR-only line endings; no final newline; quoted fields. A row that does not parse is a problem
  naming file, line and column, a file that does not decode one naming file, line and
  encoding; the fetch is then incomplete.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import duckdb

from rostersync_pipeline.lib.ingest.bundles import BundleRefused, open_bundle
from rostersync_pipeline.lib.ingest.encodings import UTF8
from rostersync_pipeline.lib.ingest.landing import EntityMode, FetchProblem, FetchResult
from rostersync_pipeline.lib.ingest.providers.base import (
    FileSourceSettings,
    LandingContext,
    ProviderAdapter,
    register,
)
from rostersync_pipeline.lib.ingest.providers.csv_columns import ColumnRules, map_columns
from rostersync_pipeline.lib.ingest.providers.csv_landing import (
    UnreadableHeader,
    land_csv_file,
    read_header,
    strip_password_columns,
)

SECTION_TEACHER_COLUMNS = ("Teacher_id", *(f"Teacher_{n}_id" for n in range(2, 11)))

SPEC_COLUMNS: dict[str, tuple[str, ...]] = {
    "schools": (
        "School_id", "School_name", "School_number", "State_id", "NCES_id", "Low_grade",
        "High_grade", "Principal", "Principal_email", "School_address", "School_city",
        "School_state", "School_zip", "School_phone",
    ),
    "students": (
        "School_id", "Student_id", "Student_number", "State_id", "Last_name", "Middle_name",
        "First_name", "Grade", "Gender", "Graduation_year", "DOB", "Race", "Hispanic_Latino",
        "Home_language", "Ell_status", "Frl_status", "IEP_status", "Section_504_status",
        "Gifted_status", "Student_street", "Student_city", "Student_state", "Student_zip",
        "Student_email", "Contact_relationship", "Contact_type", "Contact_name",
        "Contact_phone", "Contact_phone_type", "Contact_email", "Contact_sis_id", "Username",
        "Password", "Unweighted_gpa", "Weighted_gpa",
    ),
    "teachers": (
        "School_id", "Teacher_id", "Teacher_number", "State_teacher_id", "Teacher_email",
        "First_name", "Middle_name", "Last_name", "Title", "Username", "Password",
    ),
    "sections": (
        "School_id", "Section_id", *SECTION_TEACHER_COLUMNS, "Name", "Section_number",
        "Grade", "Course_name", "Course_number", "Course_description", "Period", "Subject",
        "Term_name", "Term_start", "Term_end",
    ),
    "enrollments": ("School_id", "Section_id", "Student_id"),
    "staff": (
        "School_id", "Staff_id", "Staff_email", "First_name", "Last_name", "Department",
        "Title", "Username", "Password", "Role",
    ),
}
REQUIRED_FILES = ("schools", "students", "teachers", "sections", "enrollments")
ID_COLUMN = {"schools": "School_id", "students": "Student_id", "teachers": "Teacher_id",
             "sections": "Section_id", "enrollments": "Section_id", "staff": "Staff_id"}
FILE_ENTITY = {"schools": "schools", "students": "users", "sections": "sections",
               "enrollments": "enrollments"}

RAW_TABLES: dict[str, tuple[str, ...]] = {
    f"clever_csv_{name}": columns for name, columns in SPEC_COLUMNS.items()
}
# The columns that identify a record of each file (an enrollment: its section and student).
ID_COLUMNS: dict[str, tuple[str, ...]] = {
    f"clever_csv_{name}": ("Section_id", "Student_id") if name == "enrollments" else (column,)
    for name, column in ID_COLUMN.items()
}


# Clever custom (extension) fields are columns named ``ext.<name>``.
EXTENSION_PREFIXES = ("ext.",)
COLUMN_RULES = {name: ColumnRules(columns, extension_prefixes=EXTENSION_PREFIXES,
                                  format_name="Clever CSV")
                for name, columns in SPEC_COLUMNS.items()}


def _land_file(con: duckdb.DuckDBPyConnection, name: str, path: Path, run_id: str,
               problems: list[FetchProblem], keep_passwords: bool) -> int:
    try:
        header = read_header(path)
    except UnreadableHeader as exc:
        problems.append(FetchProblem(path.name, str(exc), row=1, error_code="MALFORMED_FILE"))
        return 0
    if not any(h.strip() for h in header):
        problems.append(FetchProblem(path.name, "the file has no header row", row=1))
        return 0
    columns = map_columns(path.name, header, COLUMN_RULES[name], keep_passwords=keep_passwords)
    problems += columns.problems
    if ID_COLUMN[name] not in columns.spec:
        problems.append(FetchProblem(path.name, f"no {ID_COLUMN[name]} column in the header",
                                     row=1, field=ID_COLUMN[name]))
        return 0
    return land_csv_file(con, path, table=f"clever_csv_{name}", columns=SPEC_COLUMNS[name],
                         header=header, spec=columns.spec, ext=columns.ext, run_id=run_id,
                         problems=problems)


def land_directory(
    con: duckdb.DuckDBPyConnection, path: Path, *, run_id: str, work_dir: Path,
    encoding: str = UTF8, keep_passwords: bool = False,
) -> FetchResult:
    """Land a Clever CSV upload (directory or .zip) into ``raw.clever_csv_*``, replacing it.

    The upload is checked and copied into ``work_dir`` first, as UTF-8 from ``encoding``
    (:func:`bundles.open_bundle`); a refused upload lands nothing and is the result's one
    ``BUNDLE_REFUSED`` problem; a file that does not decode is not landed (``INVALID_ENCODING``).
    """
    row_counts: dict[str, int] = {}
    entity_modes: dict[str, EntityMode] = {e: "absent" for e in
                                           ("schools", "users", "sections", "enrollments",
                                            "terms", "courses")}
    for table in RAW_TABLES:
        con.execute(f"delete from raw.{table}")
    try:
        opened = open_bundle(path, work_dir, encoding=encoding)
    except BundleRefused as refused:
        return refused.fetch_result("clever_csv")
    problems: list[FetchProblem] = list(opened.problems)
    files = opened.files()
    for name in SPEC_COLUMNS:
        file_path = files.get(name)
        if file_path is None:
            if name in REQUIRED_FILES and name not in opened.unreadable:
                problems.append(FetchProblem(f"{name}.csv", "missing from the upload"))
            row_counts[f"clever_csv_{name}"] = 0
            if name in opened.unreadable and name in FILE_ENTITY:
                entity_modes[FILE_ENTITY[name]] = "bulk"
            continue
        rows = _land_file(con, name, file_path, run_id, problems, keep_passwords)
        row_counts[f"clever_csv_{name}"] = rows
        entity = FILE_ENTITY.get(name)
        if entity:
            entity_modes[entity] = "bulk"
    if entity_modes["users"] == "bulk" or "teachers" in row_counts:
        row_counts["users"] = sum(row_counts.get(f"clever_csv_{n}", 0)
                                  for n in ("students", "teachers", "staff"))
        entity_modes["users"] = "bulk"
    for entity in ("schools", "sections", "enrollments"):
        file_name = {"schools": "schools", "sections": "sections",
                     "enrollments": "enrollments"}[entity]
        row_counts[entity] = row_counts.get(f"clever_csv_{file_name}", 0)
    if entity_modes["sections"] == "bulk":
        entity_modes["terms"] = entity_modes["courses"] = "bulk"
    if not keep_passwords:
        strip_password_columns(con, opened.directory)
    return FetchResult(provider="clever_csv", entity_modes=entity_modes, problems=problems,
                       row_counts=row_counts)


class CleverCsvSource(FileSourceSettings):
    """``source: {type: clever_csv, path | drop_folder}``: Clever-format CSV (SFTP) uploads."""

    type: Literal["clever_csv"] = "clever_csv"


@register
class CleverCsvAdapter(ProviderAdapter):
    source_type = "clever_csv"
    config_model = CleverCsvSource
    raw_tables = RAW_TABLES
    id_columns = ID_COLUMNS
    file_based = True

    def land(self, con: duckdb.DuckDBPyConnection, source: CleverCsvSource,
             context: LandingContext) -> FetchResult:
        return land_directory(con, self.bundle(context), run_id=context.run_id,
                              work_dir=context.work_dir, encoding=source.encoding,
                              keep_passwords=source.keep_passwords)
