"""OneRoster CSV bundles (v1.1 and v1.2), as a ``.zip`` or a directory, landed into ``raw.oneroster_*``.

- The manifest is honoured: ``file.<name>`` = bulk / delta / absent. A file the manifest lists
  as bulk or delta that the bundle lacks makes the fetch incomplete. Without a manifest, every
  file present is bulk and a missing file is absent.
- Columns are matched by header name (:mod:`csv_columns`: case-insensitive; a legacy spelling
  only where the spec column is absent; a near-miss such as ``given_name`` read as
  ``givenName`` and reported ``MISSING_COLUMN``); columns outside the spec are kept in ``_ext``
  as JSON, and reported ``UNKNOWN_COLUMN`` unless they are ``metadata.*`` extensions (the
  spec's) or spec columns rostersync does not land on their own.
- ``password`` is not landed (nor any column whose name holds "password") unless
  ``source.keep_passwords``; the work folder's copy is rewritten without it (when it holds
  a value) before archiving.
- UTF-8 with or without BOM, UTF-16 with BOM, or the declared ``source.encoding``
  (:mod:`~rostersync_pipeline.lib.ingest.encodings`); CRLF / LF / CR, quoted fields with commas
  and newlines. A row that does not parse is reported with file, row and field, and makes the
  fetch incomplete; so does a file that does not decode (``INVALID_ENCODING``).
"""

from __future__ import annotations

import csv
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
    "users": {"agents": "agentSourcedIds", "grade": "grades",
              "prefferedgivenname": "preferredGivenName",
              "prefferedmiddlename": "preferredMiddleName",
              "prefferedfamilyname": "preferredFamilyName"},
    "classes": {"grade": "grades"},
    "courses": {"schoolyearid": "schoolYearSourcedId", "grade": "grades"},
    "roles": {"datalastmodified": "dateLastModified"},
    "demographics": {"usersourcedid": "sourcedId"},
}

# Spec columns (v1.1 / v1.2) kept in ``_ext`` instead of a column of their own: expected, so
# not reported as unknown.
OTHER_SPEC_COLUMNS = {
    # v1.0's userId is one untyped identifier (an LDAP or SIS id), not v1.1's typed userIds
    # list: read as userIds it made every user of a 1.0 bundle an INVALID_VALUE
    "users": ("resourceSourcedIds", "userId"),
    "demographics": (
        "americanIndianOrAlaskaNative", "asian", "blackOrAfricanAmerican",
        "nativeHawaiianOrOtherPacificIslander", "white", "demographicRaceTwoOrMoreRaces",
        "hispanicOrLatinoEthnicity", "countryOfBirthCode", "stateOfBirthAbbreviation",
        "cityOfBirth", "publicSchoolResidenceStatus",
    ),
}
# The spec's extension columns: ``metadata.<name>``, to the right of the spec columns.
EXTENSION_PREFIXES = ("metadata.",)
COLUMN_RULES = {
    name: ColumnRules(columns, aliases=HEADER_ALIASES.get(name, {}),
                      extension_prefixes=EXTENSION_PREFIXES,
                      other_spec_columns=OTHER_SPEC_COLUMNS.get(name, ()),
                      format_name="OneRoster")
    for name, columns in SPEC_COLUMNS.items()
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


def read_manifest(files: dict[str, Path], problems: list[FetchProblem] | None = None
                  ) -> dict[str, str] | None:
    """``manifest.csv`` as propertyName -> lower-cased value; None without one. A manifest that
    does not parse is a blocking MALFORMED_FILE problem (its file modes are then unknown)."""
    path = files.get("manifest")
    if path is None:
        return None
    manifest: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
            rows = csv.reader(handle)
            next(rows, None)
            for row in rows:
                if len(row) >= 2 and row[0].strip():
                    manifest[row[0].strip()] = row[1].strip().lower()
    except csv.Error as exc:
        if problems is not None:
            problems.append(FetchProblem(path.name, f"the manifest cannot be read as CSV ({exc})",
                                         error_code="MALFORMED_FILE"))
        return None
    return manifest


def _file_mode(name: str, manifest: dict[str, str] | None, present: bool) -> EntityMode:
    if manifest is None or f"file.{name}" not in manifest:
        return "bulk" if present else "absent"
    value = manifest[f"file.{name}"]
    return value if value in ("bulk", "delta") else "absent"  # type: ignore[return-value]


def _land_file(
    con: duckdb.DuckDBPyConnection, name: str, path: Path, run_id: str,
    problems: list[FetchProblem], keep_passwords: bool,
) -> int:
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
    if "sourcedId" not in columns.spec and name != "demographics":
        problems.append(FetchProblem(path.name, "no sourcedId column in the header", row=1,
                                     field="sourcedId"))
        return 0
    return land_csv_file(con, path, table=f"oneroster_{name.lower()}",
                         columns=SPEC_COLUMNS[name], header=header, spec=columns.spec,
                         ext=columns.ext, run_id=run_id, problems=problems)


def land_bundle(
    con: duckdb.DuckDBPyConnection, path: Path, *, run_id: str, work_dir: Path,
    encoding: str = UTF8, keep_passwords: bool = False,
) -> FetchResult:
    """Land one OneRoster CSV bundle into ``raw.oneroster_*`` (replacing the previous landing).

    The bundle is checked and copied into ``work_dir`` first, as UTF-8 from ``encoding``
    (:func:`bundles.open_bundle`); a refused bundle lands nothing and is the result's one
    ``BUNDLE_REFUSED`` problem; a file that does not decode is not landed (``INVALID_ENCODING``).
    """
    row_counts: dict[str, int] = {}
    entity_modes: dict[str, EntityMode] = {}
    for table in RAW_TABLES:
        con.execute(f"delete from raw.{table}")
    try:
        opened = open_bundle(path, work_dir, encoding=encoding)
    except BundleRefused as refused:
        return refused.fetch_result("oneroster_csv")
    problems: list[FetchProblem] = list(opened.problems)
    files = opened.files()
    manifest = read_manifest(files, problems)
    for name in SPEC_COLUMNS:
        file_path = files.get(name.lower())
        # a file that did not decode is in the bundle (its INVALID_ENCODING says why it is empty)
        sent = file_path is not None or name.lower() in opened.unreadable
        mode = _file_mode(name, manifest, sent)
        if mode != "absent" and not sent:
            problems.append(FetchProblem(
                f"{name}.csv", f"the manifest lists it as {mode} but the bundle lacks it"
            ))
        elif manifest is None and not sent and name in REQUIRED_WITHOUT_MANIFEST:
            problems.append(FetchProblem(f"{name}.csv", "missing from the bundle"))
        if mode == "absent" or file_path is None:
            rows = 0
        else:
            rows = _land_file(con, name, file_path, run_id, problems, keep_passwords)
        entity = FILE_ENTITY.get(name)
        if entity:
            entity_modes[entity] = mode if sent else "absent"
            row_counts[entity] = rows
        row_counts[f"oneroster_{name.lower()}"] = rows
    if not keep_passwords:
        strip_password_columns(con, opened.directory)
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
        return land_bundle(con, self.bundle(context), run_id=context.run_id,
                           work_dir=context.work_dir,
                           encoding=source.encoding, keep_passwords=source.keep_passwords)
