"""OneRoster CSV bundles (v1.1 and v1.2), as a ``.zip`` or a directory, landed into ``raw.oneroster_*``.

- The manifest is honoured: ``file.<name>`` = bulk / delta / absent. A file the manifest lists
  as bulk or delta that the bundle lacks makes the fetch incomplete. Without a manifest, every
  file present is bulk and a missing file is absent.
- Columns are matched by header name (case-insensitive; a few legacy spellings are accepted);
  columns outside the spec are kept in ``_ext`` as JSON.
- UTF-8 with or without BOM, CRLF / LF / CR, quoted fields with commas and newlines. A row that
  does not parse is reported with file, row and field, and makes the fetch incomplete.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Literal

import duckdb

from rostersync_pipeline.lib.ingest.bundles import BundleRefused, find_files, open_bundle
from rostersync_pipeline.lib.ingest.landing import EntityMode, FetchProblem, FetchResult
from rostersync_pipeline.lib.ingest.providers.base import (
    FileSourceSettings,
    LandingContext,
    ProviderAdapter,
    register,
)
from rostersync_pipeline.lib.ingest.providers.csv_landing import land_csv_file, read_header

# OneRoster file name (without .csv) -> spec columns (v1.1 and v1.2 together).
SPEC_COLUMNS: dict[str, tuple[str, ...]] = {
    "orgs": (
        "sourcedId", "status", "dateLastModified", "name", "type", "identifier",
        "parentSourcedId",
    ),
    "users": (
        "sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role",
        "username", "userIds", "givenName", "familyName", "middleName", "identifier", "email",
        "sms", "phone", "agentSourcedIds", "grades", "password", "userMasterIdentifier",
        "preferredGivenName", "preferredMiddleName", "preferredFamilyName",
        "primaryOrgSourcedId", "pronouns",
    ),
    "roles": (
        "sourcedId", "status", "dateLastModified", "userSourcedId", "roleType", "role",
        "beginDate", "endDate", "orgSourcedId", "userProfileSourcedId",
    ),
    "classes": (
        "sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId",
        "classCode", "classType", "location", "schoolSourcedId", "termSourcedIds", "subjects",
        "subjectCodes", "periods",
    ),
    "courses": (
        "sourcedId", "status", "dateLastModified", "schoolYearSourcedId", "title", "courseCode",
        "grades", "orgSourcedId", "subjects", "subjectCodes",
    ),
    "enrollments": (
        "sourcedId", "status", "dateLastModified", "classSourcedId", "schoolSourcedId",
        "userSourcedId", "role", "primary", "beginDate", "endDate",
    ),
    "academicSessions": (
        "sourcedId", "status", "dateLastModified", "title", "type", "startDate", "endDate",
        "parentSourcedId", "schoolYear",
    ),
    "demographics": ("sourcedId", "status", "dateLastModified", "birthDate", "sex"),
}

# Header spellings seen in real bundles (v1.0 names, typos) -> the spec column.
HEADER_ALIASES = {
    "users": {"userid": "userIds", "agents": "agentSourcedIds", "grade": "grades",
              "prefferedgivenname": "preferredGivenName",
              "prefferedmiddlename": "preferredMiddleName",
              "prefferedfamilyname": "preferredFamilyName"},
    "classes": {"grade": "grades"},
    "courses": {"schoolyearid": "schoolYearSourcedId", "grade": "grades"},
    "roles": {"datalastmodified": "dateLastModified"},
    "demographics": {"usersourcedid": "sourcedId"},
}

RAW_TABLES: dict[str, tuple[str, ...]] = {
    f"oneroster_{name.lower()}": columns for name, columns in SPEC_COLUMNS.items()
}

# The column that identifies a record of each file (demographics: the user's).
ID_COLUMNS: dict[str, tuple[str, ...]] = {table: ("sourcedId",) for table in RAW_TABLES}

# Which canonical entity a file feeds (for bulk / delta / absent per entity).
FILE_ENTITY = {
    "orgs": "schools",
    "users": "users",
    "classes": "sections",
    "enrollments": "enrollments",
    "academicSessions": "terms",
    "courses": "courses",
}
REQUIRED_WITHOUT_MANIFEST = ("orgs", "users", "classes", "enrollments")


def read_manifest(files: dict[str, Path]) -> dict[str, str] | None:
    path = files.get("manifest")
    if path is None:
        return None
    manifest: dict[str, str] = {}
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = csv.reader(handle)
        next(rows, None)
        for row in rows:
            if len(row) >= 2 and row[0].strip():
                manifest[row[0].strip()] = row[1].strip().lower()
    return manifest


def _file_mode(name: str, manifest: dict[str, str] | None, present: bool) -> EntityMode:
    if manifest is None or f"file.{name}" not in manifest:
        return "bulk" if present else "absent"
    value = manifest[f"file.{name}"]
    return value if value in ("bulk", "delta") else "absent"  # type: ignore[return-value]


def _column_map(name: str, header: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Spec column -> header position, and extension column name -> header position."""
    by_lower = {c.lower(): c for c in SPEC_COLUMNS[name]}
    aliases = {k: v for k, v in HEADER_ALIASES.get(name, {}).items()}
    spec: dict[str, int] = {}
    ext: dict[str, int] = {}
    for pos, raw_name in enumerate(header):
        key = raw_name.strip().lower()
        column = by_lower.get(key) or aliases.get(key)
        if column and column not in spec:
            spec[column] = pos
        elif raw_name.strip():
            ext[raw_name.strip()] = pos
    return spec, ext


def _land_file(
    con: duckdb.DuckDBPyConnection, name: str, path: Path, run_id: str, problems: list
) -> int:
    header = read_header(path)
    if not any(h.strip() for h in header):
        problems.append(FetchProblem(path.name, "the file has no header row", row=1))
        return 0
    if "sourcedid" not in {h.strip().lower() for h in header} and name != "demographics":
        problems.append(FetchProblem(path.name, "no sourcedId column in the header", row=1,
                                     field="sourcedId"))
        return 0
    spec, ext = _column_map(name, header)
    return land_csv_file(con, path, table=f"oneroster_{name.lower()}",
                         columns=SPEC_COLUMNS[name], header=header, spec=spec, ext=ext,
                         run_id=run_id, problems=problems)


def land_bundle(
    con: duckdb.DuckDBPyConnection, path: Path, *, run_id: str, work_dir: Path
) -> FetchResult:
    """Land one OneRoster CSV bundle into ``raw.oneroster_*`` (replacing the previous landing).

    The bundle is checked and copied into ``work_dir`` first (:func:`bundles.open_bundle`); a
    refused bundle lands nothing and is the result's one ``BUNDLE_REFUSED`` problem.
    """
    problems: list[FetchProblem] = []
    row_counts: dict[str, int] = {}
    entity_modes: dict[str, EntityMode] = {}
    for table in RAW_TABLES:
        con.execute(f"delete from raw.{table}")
    try:
        files = find_files(open_bundle(path, work_dir))
    except BundleRefused as refused:
        return refused.fetch_result("oneroster_csv")
    manifest = read_manifest(files)
    for name in SPEC_COLUMNS:
        file_path = files.get(name.lower())
        mode = _file_mode(name, manifest, file_path is not None)
        if mode != "absent" and file_path is None:
            problems.append(FetchProblem(
                f"{name}.csv", f"the manifest lists it as {mode} but the bundle lacks it"
            ))
        elif manifest is None and file_path is None and name in REQUIRED_WITHOUT_MANIFEST:
            problems.append(FetchProblem(f"{name}.csv", "missing from the bundle"))
        if mode == "absent" or file_path is None:
            rows = 0
        else:
            rows = _land_file(con, name, file_path, run_id, problems)
        entity = FILE_ENTITY.get(name)
        if entity:
            entity_modes[entity] = mode if file_path is not None else "absent"
            row_counts[entity] = rows
        row_counts[f"oneroster_{name.lower()}"] = rows
    return FetchResult(
        provider="oneroster_csv",
        entity_modes=entity_modes,
        problems=problems,
        row_counts=row_counts,
    )


class OneRosterCsvSource(FileSourceSettings):
    """``source: {type: oneroster_csv, path | drop_folder}``: OneRoster 1.1 / 1.2 CSV bundles."""

    type: Literal["oneroster_csv"] = "oneroster_csv"


@register
class OneRosterCsvAdapter(ProviderAdapter):
    source_type = "oneroster_csv"
    config_model = OneRosterCsvSource
    raw_tables = RAW_TABLES
    id_columns = ID_COLUMNS
    file_based = True

    def land(self, con: duckdb.DuckDBPyConnection, source: OneRosterCsvSource,
             context: LandingContext) -> FetchResult:
        if context.bundle is None:
            raise ValueError("a oneroster_csv source needs source.path or a bundle in "
                             "source.drop_folder")
        return land_bundle(con, context.bundle, run_id=context.run_id, work_dir=context.work_dir)
