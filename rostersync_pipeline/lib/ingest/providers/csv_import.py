"""The plain CSV user import (``source.type: csv_import``): a coordinator's spreadsheet or a SIS
export, as a directory or a ``.zip``, landed into ``raw.csv_import_*``.

- Files (the template in ``docs/templates/csv_import/``): ``people.csv`` (required: students,
  educators, guardians and the other people, one row per person and school; a guardian's
  ``related_sis_ids`` names its students), ``classes.csv`` and
  ``enrollments.csv`` (optional). There is no schools file: the schools are the ``school_id``
  values of people and classes, named by their ``school_name``. Other files are not read.
- Columns: ``source.columns`` maps, per file, the file's own headers to the template's canonical
  fields (:data:`FIELDS`); a header the mapping does not name is read as the canonical field of
  its name (case-insensitive; a near-miss such as ``First Name`` too, reported
  ``MISSING_COLUMN``), a header mapped to ``not_imported`` is kept in ``_ext`` unreported, any
  other header is kept in ``_ext`` and reported ``UNKNOWN_COLUMN`` (:mod:`csv_columns`).
- A mapped header the file lacks, or a file without its ID column (people: also its role
  column), is a blocking problem naming file and header: the file is not landed and nothing is
  deactivated this run.
- The bundle is read through :func:`bundles.open_bundle` (symlinks, zip members and sizes
  checked; ``source.encoding``; undecodable bytes are ``INVALID_ENCODING``) and each file with
  :func:`csv_landing.land_csv_file` (rows that do not parse are ``MALFORMED_ROW``); password
  columns are not landed unless ``source.keep_passwords``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import duckdb
from pydantic import BaseModel, ConfigDict, Field, field_validator

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

SOURCE_TYPE = "csv_import"
NOT_IMPORTED = "not_imported"

# Template file (without .csv) -> its canonical fields, which are the raw table's columns.
FIELDS: dict[str, tuple[str, ...]] = {
    "people": (
        "sis_id", "role", "school_id", "school_name", "state_id", "student_number", "email",
        "username", "first_name", "middle_name", "last_name", "birth_date", "grade", "programs",
        "ell_status", "frl_status", "iep_status", "section_504_status", "gifted_status",
        "related_sis_ids", "relationship",
    ),
    "classes": (
        "class_id", "school_id", "school_name", "class_name", "course_code", "course_name",
        "subject", "term_name", "term_start", "term_end", "teacher_sis_id",
    ),
    "enrollments": ("class_id", "person_sis_id", "role", "primary", "school_id"),
}
# Fields a file cannot do without: the file is not landed when its header has none for them.
REQUIRED_FIELDS = {
    "people": ("sis_id", "role"),
    "classes": ("class_id",),
    "enrollments": ("class_id", "person_sis_id"),
}
REQUIRED_FILES = ("people",)
# Raw table names end in the entity they hold, so fetch problems name the right record type.
RAW_TABLE = {"people": "csv_import_users", "classes": "csv_import_classes",
             "enrollments": "csv_import_enrollments"}
RAW_TABLES: dict[str, tuple[str, ...]] = {RAW_TABLE[name]: FIELDS[name] for name in FIELDS}
ID_COLUMNS: dict[str, tuple[str, ...]] = {
    "csv_import_users": ("sis_id",),
    "csv_import_classes": ("class_id",),
    "csv_import_enrollments": ("class_id", "person_sis_id"),
}
FILE_ENTITIES = {"people": ("users", "schools"), "classes": ("sections", "terms", "courses"),
                 "enrollments": ("enrollments",)}

PeopleField = Literal[FIELDS["people"] + (NOT_IMPORTED,)]  # type: ignore[valid-type]
ClassField = Literal[FIELDS["classes"] + (NOT_IMPORTED,)]  # type: ignore[valid-type]
EnrollmentField = Literal[FIELDS["enrollments"] + (NOT_IMPORTED,)]  # type: ignore[valid-type]


def _one_header_per_field(mapping: dict[str, str]) -> dict[str, str]:
    """Headers are matched trimmed and case-insensitively: two spellings of one header, an empty
    header, or two headers for one canonical field are config errors."""
    seen_headers: dict[str, str] = {}
    seen_fields: dict[str, str] = {}
    for header, canonical in mapping.items():
        key = header.strip().lower()
        if not key:
            raise ValueError("an empty header name cannot be mapped")
        if key in seen_headers:
            raise ValueError(f"the headers {seen_headers[key]!r} and {header!r} are the same "
                             "header (headers are matched case-insensitively)")
        seen_headers[key] = header
        if canonical != NOT_IMPORTED and canonical in seen_fields:
            raise ValueError(f"the headers {seen_fields[canonical]!r} and {header!r} are both "
                             f"mapped to {canonical}; map one header per field")
        seen_fields[canonical] = header
    return mapping


class CsvImportColumns(BaseModel):
    """``source.columns``: per template file, the file's own header -> a canonical field (or
    ``not_imported``: kept in the raw table's ``_ext``, not reported)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    people: dict[str, PeopleField] = Field(
        default_factory=dict, description="people.csv header -> canonical field.")
    classes: dict[str, ClassField] = Field(
        default_factory=dict, description="classes.csv header -> canonical field.")
    enrollments: dict[str, EnrollmentField] = Field(
        default_factory=dict, description="enrollments.csv header -> canonical field.")

    @field_validator("people", "classes", "enrollments")
    @classmethod
    def _unambiguous(cls, mapping: dict[str, str]) -> dict[str, str]:
        return _one_header_per_field(mapping)

    def for_file(self, name: str) -> dict[str, str]:
        """Lower-cased, trimmed header -> canonical field, for one template file."""
        return {header.strip().lower(): canonical
                for header, canonical in getattr(self, name).items()}


def _missing_mapped(name: str, file_name: str, header: list[str],
                    mapping: dict[str, str], original: dict[str, str]) -> list[FetchProblem]:
    present = {h.strip().lower() for h in header}
    return [
        FetchProblem(
            file_name,
            f"the header {original[key]!r}, which source.columns.{name} maps to "
            f"{mapping[key]}, is not in the file; the file was not landed and nothing is "
            "deactivated this run. Fix the mapping or send the file with that column",
            row=1, field=original[key],
        )
        for key in mapping if key not in present
    ]


def _land_file(con: duckdb.DuckDBPyConnection, name: str, path: Path, run_id: str,
               columns: CsvImportColumns, problems: list[FetchProblem],
               keep_passwords: bool) -> int:
    try:
        header = read_header(path)
    except UnreadableHeader as exc:
        problems.append(FetchProblem(path.name, str(exc), row=1, error_code="MALFORMED_FILE"))
        return 0
    if not any(h.strip() for h in header):
        problems.append(FetchProblem(path.name, "the file has no header row", row=1))
        return 0
    mapping = columns.for_file(name)
    original = {h.strip().lower(): h for h in getattr(columns, name)}
    missing = _missing_mapped(name, path.name, header, mapping, original)
    if missing:
        problems += missing
        return 0
    # a mapped header reads as its canonical field; a not_imported one keeps its own name
    renamed = [mapping.get(h.strip().lower(), h) if mapping.get(h.strip().lower()) != NOT_IMPORTED
               else h for h in header]
    rules = ColumnRules(
        FIELDS[name],
        other_spec_columns=[h for h in header if mapping.get(h.strip().lower()) == NOT_IMPORTED],
        format_name="CSV import template",
    )
    mapped = map_columns(path.name, renamed, rules, keep_passwords=keep_passwords)
    problems += mapped.problems
    absent = [f for f in REQUIRED_FIELDS[name] if f not in mapped.spec]
    if absent:
        problems += [FetchProblem(
            path.name, f"no {field} column in the header: name the file's column {field} or "
            f"map it in source.columns.{name}; the file was not landed and nothing is "
            "deactivated this run", row=1, field=field) for field in absent]
        return 0
    return land_csv_file(con, path, table=RAW_TABLE[name], columns=FIELDS[name], header=header,
                         spec=mapped.spec, ext=mapped.ext, run_id=run_id, problems=problems)


def land_bundle(
    con: duckdb.DuckDBPyConnection, path: Path, *, run_id: str, work_dir: Path,
    columns: CsvImportColumns | None = None, encoding: str = UTF8, keep_passwords: bool = False,
) -> FetchResult:
    """Land one CSV import bundle into ``raw.csv_import_*``, replacing the previous landing.

    The bundle is checked and copied into ``work_dir`` as UTF-8 first (:func:`open_bundle`); a
    refused bundle lands nothing and is the result's one ``BUNDLE_REFUSED`` problem.
    """
    columns = columns or CsvImportColumns()
    for table in RAW_TABLES:
        con.execute(f"delete from raw.{table}")
    try:
        opened = open_bundle(path, work_dir, encoding=encoding)
    except BundleRefused as refused:
        return refused.fetch_result(SOURCE_TYPE)
    problems: list[FetchProblem] = list(opened.problems)
    files = opened.files()
    entity_modes: dict[str, EntityMode] = {}
    row_counts: dict[str, int] = {}
    for name in FIELDS:
        file_path = files.get(name)
        sent = file_path is not None or name in opened.unreadable
        if not sent and name in REQUIRED_FILES:
            problems.append(FetchProblem(f"{name}.csv", "missing from the upload: the CSV import "
                                         "needs people.csv; nothing is deactivated this run"))
        rows = 0 if file_path is None else _land_file(
            con, name, file_path, run_id, columns, problems, keep_passwords)
        row_counts[RAW_TABLE[name]] = rows
        for entity in FILE_ENTITIES[name]:
            entity_modes[entity] = "bulk" if sent else "absent"
            row_counts[entity] = rows
    if not keep_passwords:
        strip_password_columns(con, opened.directory)
    return FetchResult(provider=SOURCE_TYPE, entity_modes=entity_modes, problems=problems,
                       row_counts=row_counts)


class CsvImportSource(FileSourceSettings):
    """``source: {type: csv_import, path | drop_folder, columns}``: a plain CSV user import."""

    type: Literal["csv_import"] = "csv_import"
    columns: CsvImportColumns = Field(
        default_factory=CsvImportColumns,
        description="Per file (people, classes, enrollments): the file's header -> canonical "
        "field, or not_imported.",
    )


@register
class CsvImportAdapter(ProviderAdapter):
    source_type = SOURCE_TYPE
    config_model = CsvImportSource
    raw_tables = RAW_TABLES
    id_columns = ID_COLUMNS
    file_based = True

    def land(self, con: duckdb.DuckDBPyConnection, source: CsvImportSource,
             context: LandingContext) -> FetchResult:
        return land_bundle(con, self.bundle(context), run_id=context.run_id,
                           work_dir=context.work_dir, columns=source.columns,
                           encoding=source.encoding, keep_passwords=source.keep_passwords)
