"""Headers: a spec column wins over its legacy alias, an unknown header is one UNKNOWN_COLUMN per
file (its values kept in ``_ext``), a spec column under a near-miss name is one MISSING_COLUMN
naming both and is read, and the extension columns each format allows are not reported."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from rostersync_pipeline.lib.ingest.providers import clever_csv, oneroster_csv
from rostersync_pipeline.lib.ingest.providers.csv_columns import map_columns
from rostersync_pipeline.lib.storage.warehouse import ensure_schemas
from rostersync_pipeline_tests.helpers import (
    enrollment,
    make_district,
    org,
    section,
    student,
    write_bundle,
)

OR_USERS = oneroster_csv.COLUMN_RULES["users"]
OR_COURSES = oneroster_csv.COLUMN_RULES["courses"]
CLEVER_STUDENTS = clever_csv.COLUMN_RULES["students"]


@dataclass(frozen=True)
class Case:
    description: str
    rules: object
    header: list[str]
    spec: dict[str, int]
    problems: list[tuple[str, str | None]] = field(default_factory=list)
    """(error code, field) of each problem, in order."""
    ext: tuple[str, ...] = ()
    keep_passwords: bool = False
    reason_has: str = ""


CASES = [
    Case("spec columns, any case and padding", OR_USERS, ["SourcedID", " givenName "],
         {"sourcedId": 0, "givenName": 1}),
    Case("an unknown header is reported and kept in _ext", OR_USERS,
         ["sourcedId", "favouriteColour"], {"sourcedId": 0},
         [("UNKNOWN_COLUMN", "favouriteColour")], ("favouriteColour",),
         reason_has="metadata.<name>"),
    Case("metadata.* extensions are expected", OR_USERS,
         ["sourcedId", "metadata.programs", "Metadata.ell"], {"sourcedId": 0},
         ext=("metadata.programs", "Metadata.ell")),
    Case("spec columns landed in _ext are expected", oneroster_csv.COLUMN_RULES["demographics"],
         ["sourcedId", "birthDate", "hispanicOrLatinoEthnicity"],
         {"sourcedId": 0, "birthDate": 1}, ext=("hispanicOrLatinoEthnicity",)),
    Case("a legacy alias feeds its column when the spec column is absent", OR_COURSES,
         ["sourcedId", "schoolYearId", "grade"],
         {"sourcedId": 0, "schoolYearSourcedId": 1, "grades": 2}),
    Case("the spec column wins over an alias placed before it", OR_COURSES,
         ["sourcedId", "grade", "grades"], {"sourcedId": 0, "grades": 2},
         [("UNKNOWN_COLUMN", "grade")], ("grade",), reason_has="legacy name of grades"),
    Case("the spec column wins over an alias placed after it", OR_COURSES,
         ["sourcedId", "grades", "grade"], {"sourcedId": 0, "grades": 1},
         [("UNKNOWN_COLUMN", "grade")], ("grade",), reason_has="legacy name of grades"),
    Case("a near-miss name of a spec column is read and reported once", OR_USERS,
         ["sourcedId", "given_name", "Family Name"],
         {"sourcedId": 0, "givenName": 1, "familyName": 2},
         [("MISSING_COLUMN", "givenName"), ("MISSING_COLUMN", "familyName")],
         reason_has="the file has `given_name`; the spec column is `givenName`"),
    Case("a near-miss of an alias", OR_COURSES, ["sourcedId", "school_year_id"],
         {"sourcedId": 0, "schoolYearSourcedId": 1}, [("MISSING_COLUMN", "schoolYearSourcedId")]),
    Case("v1.0's userId (one untyped id) is expected, kept in _ext, and is not userIds",
         OR_USERS, ["sourcedId", "userId"], {"sourcedId": 0}, ext=("userId",)),
    Case("two near-misses of one column: neither is used", OR_USERS,
         ["sourcedId", "given_name", "Given-Name"], {"sourcedId": 0},
         [("MISSING_COLUMN", "givenName")], ("given_name", "Given-Name"),
         reason_has="none was used"),
    Case("a near-miss beside the exact column is just unknown", OR_USERS,
         ["sourcedId", "givenName", "given_name"], {"sourcedId": 0, "givenName": 1},
         [("UNKNOWN_COLUMN", "given_name")], ("given_name",)),
    Case("a repeated spec column", OR_USERS, ["sourcedId", "email", "EMAIL"],
         {"sourcedId": 0, "email": 1}, [("UNKNOWN_COLUMN", "EMAIL")], ("EMAIL",),
         reason_has="repeats"),
    Case("blank headers are ignored", OR_USERS, ["sourcedId", "", " "], {"sourcedId": 0}),
    Case("Clever: Student ID for Student_id", CLEVER_STUDENTS, ["School_id", "Student ID"],
         {"School_id": 0, "Student_id": 1}, [("MISSING_COLUMN", "Student_id")]),
    Case("Clever: ext.* custom fields are expected, metadata.* is not", CLEVER_STUDENTS,
         ["Student_id", "ext.house", "metadata.house"], {"Student_id": 0},
         [("UNKNOWN_COLUMN", "metadata.house")], ("ext.house", "metadata.house"),
         reason_has="ext.<name>"),
    Case("passwords are dropped: spec and extension alike", OR_USERS,
         ["sourcedId", "password", "ext_vendor_studentPassword", "metadata.password"],
         {"sourcedId": 0}),
    Case("Clever Password is dropped", CLEVER_STUDENTS, ["Student_id", "Password"],
         {"Student_id": 0}),
    Case("a repeated password column is dropped too", OR_USERS,
         ["sourcedId", "password", "Password", "pass_word"], {"sourcedId": 0}),
    Case("kept passwords follow the usual rules", OR_USERS,
         ["sourcedId", "password", "metadata.password", "ext_vendor_studentPassword"],
         {"sourcedId": 0, "password": 1}, [("UNKNOWN_COLUMN", "ext_vendor_studentPassword")],
         ("metadata.password", "ext_vendor_studentPassword"), keep_passwords=True),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.description)
def test_header_mapping(case: Case) -> None:
    mapped = map_columns("users.csv", case.header, case.rules, keep_passwords=case.keep_passwords)
    assert mapped.spec == case.spec
    assert [(p.error_code, p.field) for p in mapped.problems] == case.problems
    assert set(mapped.ext) == set(case.ext)
    assert all(p.row == 1 and p.location == "users.csv" and not p.blocks_deactivation
               for p in mapped.problems)
    if case.reason_has:
        assert any(case.reason_has in p.reason for p in mapped.problems)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    ensure_schemas(connection)
    yield connection
    connection.close()


def bundle_with_header(directory: Path, replace: dict[str, str], extra: str = "") -> Path:
    """A two-student bundle whose users.csv header has names replaced (and a column added)."""
    bundle = write_bundle(
        directory,
        orgs=[org("sch1", "North High")],
        users=[student("s1", "sch1", grades="05"), student("s2", "sch1", grades="06")],
        classes=[section("sec1", "sch1")],
        enrollments=[enrollment("e-s1", "sec1", "s1", "sch1"),
                     enrollment("e-s2", "sec1", "s2", "sch1")],
    )
    path = bundle / "users.csv"
    header, *rows = path.read_text(encoding="utf-8").splitlines()
    columns = [replace.get(c, c) for c in header.split(",")]
    if extra:
        columns.append(extra)
        rows = [f"{row},{extra}-{n}" for n, row in enumerate(rows)]
    path.write_text("\n".join([",".join(columns), *rows]) + "\n", encoding="utf-8")
    return bundle


def test_an_alias_never_overrides_the_spec_column_in_the_raw_table(con, tmp_path) -> None:
    bundle = bundle_with_header(tmp_path / "b", {}, extra="grade")
    result = oneroster_csv.land_bundle(con, bundle, run_id="r1", work_dir=tmp_path / "work")
    assert con.execute("select grades, _ext->>'$.grade' from raw.oneroster_users order by 1"
                       ).fetchall() == [("05", "grade-0"), ("06", "grade-1")]
    assert [(p.error_code, p.field) for p in result.problems] == [("UNKNOWN_COLUMN", "grade")]
    assert result.complete


def test_columns_are_reported_once_per_file_in_the_run_summary(tmp_path) -> None:
    bundle = bundle_with_header(tmp_path / "night0", {"givenName": "given_name"},
                                extra="favouriteColour")
    district = make_district(tmp_path, bundle, schools={"create_unmatched": True})

    outcome = district.sync()

    assert outcome.status == "applied" and outcome.summary.fetch_complete
    assert outcome.summary.counts["students"] == {"create": 2}
    assert outcome.summary.error_counts == {"MISSING_COLUMN": 1, "UNKNOWN_COLUMN": 1}
    errors = {e["error_code"]: e for e in district.errors(outcome.run_id)}
    assert (errors["MISSING_COLUMN"]["field"], errors["MISSING_COLUMN"]["source_file"],
            errors["MISSING_COLUMN"]["source_row"]) == ("givenName", "users.csv", 1)
    assert "`given_name`" in errors["MISSING_COLUMN"]["message"]
    assert errors["UNKNOWN_COLUMN"]["field"] == "favouriteColour"
    assert all(e["remediation"] and e["record_type"] == "file" for e in errors.values())
    assert dict(district.query("select source_id, first_name from roster.users")) == {
        "s1": "Givens1", "s2": "Givens2"}
