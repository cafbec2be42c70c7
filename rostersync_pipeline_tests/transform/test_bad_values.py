"""Values staging cannot read, one case per input problem, through real syncs (issue #10.1).

Each case is night 0 (``bad_input.NIGHT_0``) with one value changed, synced on top of night 0
(every case in one district, ``bad_input.CombinedCases``): the run's error rows
``(code, field, value, file, row)``, the roster after, and the run status. A value that decides
what happens to a record (status, role, enabledUser, org type, userIds) keeps it out and leaves
its app record as it is; a descriptive one (a birth date, a term date, a program flag, primary)
is left out and the stored value kept. Then: one date gives one stored value whichever provider
sends it, the date rule on its own, and the documentation of every field and code.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pytest

from rostersync_pipeline.demo.district import write_district_config
from rostersync_pipeline.lib.ingest.landing import FetchResult, write_fetch_context
from rostersync_pipeline.lib.ingest.providers.clever_csv import land_directory
from rostersync_pipeline.lib.ingest.providers.oneroster_csv import land_bundle
from rostersync_pipeline.lib.report.error_codes import ERROR_CODES
from rostersync_pipeline.lib.storage.warehouse import ensure_schemas
from rostersync_pipeline.lib.transform.sql_runner import SQL_ROOT, load_models, run_models
from rostersync_pipeline_tests.fakes.clever_server import CleverServer
from rostersync_pipeline_tests.helpers import District, make_district
from rostersync_pipeline_tests.transform.bad_input import (
    NIGHT_0,
    NIGHT_0_ENROLLMENTS,
    NIGHT_0_SECTIONS,
    NIGHT_0_USERS,
    Bundle,
    CombinedCase,
    CombinedCases,
    Expected,
    assert_expected,
    clever_csv_bundle,
    demographic,
    ids,
    own_rows,
    session,
    user_rows,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"
NEW_CODES = ("INVALID_VALUE", "REFERENCE_NOT_FOUND", "INVALID_REFERENCE", "SCHOOL_INACTIVE",
             "ROLE_MISMATCH", "DUPLICATE_SOURCE_ID", "MULTIPLE_GRADES", "RELATIONSHIP_NOT_FOUND")


@dataclass(frozen=True)
class Case:
    description: str
    bundle: Bundle
    expected: Expected
    # core.terms after the run: term source id -> (start_date, end_date) as text
    terms: dict[str, tuple] = field(default_factory=dict)


def with_birth_date(value: str) -> Bundle:
    return NIGHT_0.but(demographics=[demographic("s1", value)])


def users_with(s1_birth: str | None) -> dict[str, tuple]:
    return {**NIGHT_0_USERS, "s1": ("active", s1_birth, "05", True)}


def bad(field_name: str, value: str, file: str, row: int) -> tuple:
    return ("INVALID_VALUE", field_name, value, file, row)


UNCHANGED = Expected(users=NIGHT_0_USERS, sections=NIGHT_0_SECTIONS,
                     enrollments=NIGHT_0_ENROLLMENTS)

CASES = [
    Case("a birth date written 11/1/98 is 1998-11-01 (a two-digit birth year takes the latest "
         "century that is not in the future)",
         with_birth_date("11/1/98"), Expected(users=users_with("1998-11-01"))),
    Case("a birth date written 1/1/20 is 2020-01-01 (2020 is not in the future)",
         with_birth_date("1/1/20"), Expected(users=users_with("2020-01-01"))),
    Case("an ISO birth date with a time part is its date as written",
         with_birth_date("2011-05-06T23:30:00-05:00"), Expected(users=users_with("2011-05-06"))),
    Case("a birth date written YYYY/M/D",
         with_birth_date("2011/5/6"), Expected(users=users_with("2011-05-06"))),
    Case("a birth date that does not exist (2/30/2020) is an error row; the person is imported "
         "without it and the stored birth date is kept",
         with_birth_date("2/30/2020"),
         Expected({bad("birth_date", "2/30/2020", "demographics.csv", 2)},
                  users=NIGHT_0_USERS)),
    Case("a birth date in the future is an error row, never stored",
         with_birth_date("2099-01-01"),
         Expected({bad("birth_date", "2099-01-01", "demographics.csv", 2)},
                  users=NIGHT_0_USERS)),
    Case("a birth date before 1900 is an error row",
         with_birth_date("1899-12-31"),
         Expected({bad("birth_date", "1899-12-31", "demographics.csv", 2)},
                  users=NIGHT_0_USERS)),
    Case("text that is no date is an error row",
         with_birth_date("April 17, 2010"),
         Expected({bad("birth_date", "April 17, 2010", "demographics.csv", 2)},
                  users=NIGHT_0_USERS)),
    Case("two demographics rows with different birth dates: neither is stored",
         NIGHT_0.but(demographics=[demographic("s1", "2010-04-17"),
                                   demographic("s1", "2010-04-18")]),
         Expected({bad("birth_date", "2010-04-17 | 2010-04-18", "demographics.csv", 2)},
                  users=NIGHT_0_USERS)),
    Case("a term date written 8/27/2018 is 2018-08-27 (not NULL)",
         NIGHT_0.but(academicSessions=[session("term1", startDate="8/27/2018")]),
         UNCHANGED, terms={"term1": ("2018-08-27", "2025-06-15")}),
    Case("a two-digit term year takes the century within 50 years of today",
         NIGHT_0.but(academicSessions=[session("term1", startDate="8/27/18",
                                               endDate="6/15/19")]),
         UNCHANGED, terms={"term1": ("2018-08-27", "2019-06-15")}),
    Case("a term date that does not exist (13/1/2025) is an error row; the term and its "
         "section are imported without it",
         NIGHT_0.but(academicSessions=[session("term1", endDate="13/1/2025")]),
         Expected({bad("end_date", "13/1/2025", "academicSessions.csv", 2)},
                  users=NIGHT_0_USERS, sections=NIGHT_0_SECTIONS,
                  enrollments=NIGHT_0_ENROLLMENTS),
         terms={"term1": ("2024-08-15", None)}),
    Case("a term date more than 50 years from today is an error row",
         NIGHT_0.but(academicSessions=[session("term1", startDate="1960-08-15")]),
         Expected({bad("start_date", "1960-08-15", "academicSessions.csv", 2)},
                  sections=NIGHT_0_SECTIONS),
         terms={"term1": (None, "2025-06-15")}),
    Case("a user status that is not a OneRoster status: not imported, the app record and its "
         "enrollments left as they are (not deactivated by the bulk file)",
         NIGHT_0.but(users=user_rows(s2={"status": "archived"})),
         Expected({bad("status", "archived", "users.csv", 3)}, users=NIGHT_0_USERS,
                  enrollments=NIGHT_0_ENROLLMENTS)),
    Case("enabledUser that is not a boolean: not imported, app record left as it is",
         NIGHT_0.but(users=user_rows(s2={"enabledUser": "maybe"})),
         Expected({bad("enabled_user", "maybe", "users.csv", 3)}, users=NIGHT_0_USERS,
                  enrollments=NIGHT_0_ENROLLMENTS)),
    Case("a role that is not a OneRoster role (once silently 'other' and dropped): not imported, "
         "the app record left as it is",
         NIGHT_0.but(users=user_rows(s2={"role": "stduent"})),
         Expected({bad("role", "stduent", "users.csv", 3)}, users=NIGHT_0_USERS,
                  enrollments=NIGHT_0_ENROLLMENTS)),
    Case("a malformed userIds list (it carries IDs): not imported",
         NIGHT_0.but(users=user_rows(s2={"userIds": "LDAP=12"})),
         Expected({bad("user_ids", "LDAP=12", "users.csv", 3)}, users=NIGHT_0_USERS)),
    Case("a program flag that is not a boolean: imported without that program",
         NIGHT_0.but(users=user_rows(s2={"metadata.ell": "sometimes"})),
         Expected({bad("ell_status", "sometimes", "users.csv", 3)}, users=NIGHT_0_USERS)),
    Case("an enrollment role outside the spec: not imported, the app enrollment left active",
         NIGHT_0.but(enrollments=[*NIGHT_0.enrollments[:1],
                                  {**NIGHT_0.enrollments[1], "role": "learner"},
                                  *NIGHT_0.enrollments[2:]]),
         Expected({bad("role", "learner", "enrollments.csv", 3)},
                  enrollments=NIGHT_0_ENROLLMENTS)),
    Case("an enrollment's primary that is not a boolean: imported without it",
         NIGHT_0.but(enrollments=[*NIGHT_0.enrollments[:2],
                                  {**NIGHT_0.enrollments[2], "primary": "sometimes"}]),
         Expected({bad("primary", "sometimes", "enrollments.csv", 4)},
                  enrollments=NIGHT_0_ENROLLMENTS)),
    Case("an org status that cannot be read: the school is refused and its people and sections "
         "wait with it (no rows of their own), nothing deactivated",
         NIGHT_0.but(orgs=[{**NIGHT_0.orgs[0], "status": "closed"}, NIGHT_0.orgs[1]]),
         Expected({bad("status", "closed", "orgs.csv", 2)}, users=NIGHT_0_USERS,
                  sections=NIGHT_0_SECTIONS, enrollments=NIGHT_0_ENROLLMENTS)),
    Case("an org type that is not a OneRoster type: refused as a school, its people wait",
         NIGHT_0.but(orgs=[{**NIGHT_0.orgs[0], "type": "campus"}, NIGHT_0.orgs[1]]),
         Expected({bad("org_type", "campus", "orgs.csv", 2)}, users=NIGHT_0_USERS,
                  sections=NIGHT_0_SECTIONS)),
    Case("a class status that cannot be read: the section and its enrollments are left as they "
         "are",
         NIGHT_0.but(classes=[{**NIGHT_0.classes[0], "status": "closed"}]),
         Expected({bad("status", "closed", "classes.csv", 2)}, sections=NIGHT_0_SECTIONS,
                  enrollments=NIGHT_0_ENROLLMENTS)),
    Case("statuses and booleans are read whatever their case",
         NIGHT_0.but(users=user_rows(s1={"status": "ACTIVE", "enabledUser": "TRUE"})),
         UNCHANGED),
]


@pytest.fixture(scope="module")
def combined(tmp_path_factory: pytest.TempPathFactory) -> CombinedCases:
    return CombinedCases(tmp_path_factory.mktemp("bad-values"),
                         [CombinedCase(case.description, case.bundle) for case in CASES])


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_bad_value(case: Case, combined: CombinedCases) -> None:
    run = combined.run(case.description)
    assert_expected(run, case.expected)
    if case.terms:
        terms = own_rows(run.district.query(
            "select term_source_id, start_date, end_date from core.terms"), run.prefix)
        assert {t: tuple(str(d) if d else None for d in dates)
                for t, *dates in terms} == case.terms


# One birth date, spelled five ways, through each provider's landing and staging.
SPELLINGS = ("11/1/98", "11/01/1998", "1998-11-01", "1998/11/1", "1998-11-01T08:00:00Z")


def _staged_birth_dates(con: duckdb.DuckDBPyConnection, provider: str) -> dict[str, str]:
    write_fetch_context(con, "run-1", "district-a", FetchResult(provider, {}))
    models = load_models()
    run_models(con, models, only={key for key, model in models.items()
                                  if model.schema == "staging"})
    rows = con.execute(f"select user_source_id, birth_date from staging.stg_{provider}__users "
                       "where role = 'student'").fetchall()
    return {user: str(born) for user, born in rows}


def _clever_students(tmp_path: Path) -> Path:
    return clever_csv_bundle(tmp_path / "clever", {
        "schools": [{"School_id": "sch1", "School_name": "North High"}],
        "students": [{"School_id": "sch1", "Student_id": f"s{n}", "First_name": "Ada",
                      "Last_name": "Byron", "Grade": "5", "DOB": dob}
                     for n, dob in enumerate(SPELLINGS)],
    })


def test_one_date_is_one_stored_value_whatever_the_source_format(tmp_path: Path) -> None:
    users = tuple({**NIGHT_0.users[0], "sourcedId": f"s{n}"} for n in range(len(SPELLINGS)))
    oneroster = NIGHT_0.but(users=users, enrollments=(), classes=(), demographics=[
        demographic(f"s{n}", dob) for n, dob in enumerate(SPELLINGS)]).write(tmp_path / "or")
    api_users = [{"id": f"s{n}", "name": {"first": "Ada", "last": "Byron"},
                  "roles": {"student": {"dob": dob, "school": "sch1", "schools": ["sch1"]}}}
                 for n, dob in enumerate(SPELLINGS)]
    staged = {}
    with duckdb.connect() as con:
        ensure_schemas(con)
        land_bundle(con, oneroster, run_id="run-1", work_dir=tmp_path / "w1")
        staged["oneroster"] = _staged_birth_dates(con, "oneroster")
    with duckdb.connect() as con:
        ensure_schemas(con)
        land_directory(con, _clever_students(tmp_path), run_id="run-1", work_dir=tmp_path / "w2")
        staged["clever csv"] = _staged_birth_dates(con, "clever")
    with duckdb.connect() as con:
        ensure_schemas(con)
        for row, user in enumerate(api_users, start=1):
            con.execute("insert into raw.clever_users (id, data, _run_id, _source_file, "
                        "_source_row) select ?, ?::json, 'run-1', 'users', ?",
                        [user["id"], json.dumps(user), row])
        staged["clever api"] = _staged_birth_dates(con, "clever")
    expected = {f"s{n}": "1998-11-01" for n in range(len(SPELLINGS))}
    assert staged == {"oneroster": expected, "clever csv": expected, "clever api": expected}


def _clever_api_district(root: Path, server: CleverServer) -> District:
    source = {"type": "clever_api", "base_url": server.base_url, "token_env": "RS_BAD_VALUES",
              "page_limit": 100, "timeout_s": 5, "retry_max_attempts": 2,
              "retry_backoff_s": 0.01}
    write_district_config(root / "config", "district-a", root / "unused", source=source,
                          schools={"create_unmatched": True})
    return District("district-a", root / "config", root / "warehouse")


def test_the_same_birth_date_is_stored_alike_from_oneroster_csv_clever_csv_and_the_clever_api(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stored = {}
    oneroster = make_district(tmp_path / "or", with_birth_date("11/1/98").write(
        tmp_path / "or" / "bundle"), schools={"create_unmatched": True})
    assert oneroster.sync().status == "applied"
    stored["oneroster csv"] = oneroster.scalar(
        "select birth_date from roster.users where source_id = 's1'")
    clever = make_district(tmp_path / "cc", clever_csv_bundle(tmp_path / "cc" / "bundle", {
        "schools": [{"School_id": "sch1", "School_name": "North High"}],
        "students": [{"School_id": "sch1", "Student_id": "s1", "First_name": "Ada",
                      "Last_name": "Byron", "Grade": "5", "DOB": "11/1/98"}],
    }), source={"type": "clever_csv"}, schools={"create_unmatched": True})
    assert clever.sync().status == "applied"
    stored["clever csv"] = clever.scalar(
        "select birth_date from roster.users where source_id = 's1'")
    monkeypatch.setenv("RS_BAD_VALUES", "demo-token")
    with CleverServer(token="demo-token") as server:
        student = next(u for u in server.collections["users"] if "student" in u["roles"])
        student["roles"]["student"]["dob"] = "11/1/98"
        server.collections["users"] = [student]
        server.collections["sections"] = []
        api = _clever_api_district(tmp_path / "api", server)
        assert api.sync().status == "applied"
    stored["clever api"] = api.scalar("select birth_date from roster.users where source_id = ?",
                                      [student["id"]])
    assert stored == {source: date(1998, 11, 1) for source in stored}
    assert len(stored) == 3


RULE = [
    # (value, kind, run date, stored, problem starts with)
    ("11/1/98", "birth", "2026-03-15", "1998-11-01", None),
    ("3/15/26", "birth", "2026-03-15", "2026-03-15", None),
    ("3/16/26", "birth", "2026-03-15", "1926-03-16", None),
    ("2/29/00", "birth", "2026-03-15", "2000-02-29", None),
    ("2/29/01", "birth", "2026-03-15", None, "no such date"),
    ("1/1/75", "term", "2026-03-15", "2075-01-01", None),
    ("1/1/77", "term", "2026-03-15", "1977-01-01", None),
    ("1/1/76", "term", "2026-03-15", None, "more than 50 years"),
    ("2076-03-16", "term", "2026-03-15", None, "more than 50 years"),
    ("12/31/2024", "term", "2026-03-15", "2024-12-31", None),
    ("2024-12-31T10:00", "term", "2026-03-15", "2024-12-31", None),
    ("2024-12-31T25:00:00", "term", "2026-03-15", None, "not a date"),
    ("31/12/2024", "term", "2026-03-15", None, "no such date"),
    ("2024-12-31 10:00", "term", "2026-03-15", None, "not a date"),
    ("  ", "term", "2026-03-15", None, None),
]


@pytest.mark.parametrize("value, kind, today, stored, problem", RULE)
def test_the_date_rule(value: str, kind: str, today: str, stored: str | None,
                       problem: str | None) -> None:
    with duckdb.connect() as con:
        con.execute((SQL_ROOT / "macros" / "rs_date.sql").read_text(encoding="utf-8"))
        read = con.execute("select rs_date(?, ?, ?::date)", [value, kind, today]).fetchall()[0][0]
    assert (str(read["value"]) if read["value"] else None) == stored
    assert (read["problem"] or "").startswith(problem or "") and bool(read["problem"]) == bool(
        problem)


@pytest.mark.parametrize(("value", "stored", "problem"), [
    ("Free", True, False), (" r ", True, False), ("F", True, False), ("yes", True, False),
    ("PAID", False, False), ("0", False, False), ("", None, False), (None, None, False),
    ("maybe", None, True),
])
def test_a_free_reduced_lunch_status(value: str | None, stored: bool | None,
                                     problem: bool) -> None:
    with duckdb.connect() as con:
        con.execute((SQL_ROOT / "macros" / "rs_frl.sql").read_text(encoding="utf-8"))
        read = con.execute("select rs_frl(?::varchar)", [value]).fetchall()[0][0]
    assert read["value"] is stored
    assert (read["problem"] or "").startswith("not a free / reduced lunch status") is problem


def _policy_fields() -> set[tuple[str, str]]:
    sql = (SQL_ROOT / "marts" / "sync" / "checks" / "invalid_value_checks.sql").read_text()
    return set(re.findall(r"\('(\w+)', '(\w+)', (?:true|false),", sql))


def _staged_fields() -> set[str]:
    found = set()
    for path in (SQL_ROOT / "staging").rglob("*.sql"):
        found |= set(re.findall(r"rs_invalid_value\(\s*'(\w+)'", path.read_text()))
    return found


def test_every_field_staging_can_refuse_has_a_documented_outcome() -> None:
    policy = _policy_fields()
    assert _staged_fields() == {field_name for _, field_name in policy}
    text = (DOCS / "error-codes.md").read_text(encoding="utf-8")
    for _, field_name in policy:
        assert f"`{field_name}`" in text, field_name


@pytest.mark.parametrize("code", NEW_CODES)
def test_a_new_code_is_documented_with_its_remediation(code: str) -> None:
    text = (DOCS / "error-codes.md").read_text(encoding="utf-8")
    rows = re.findall(rf"^\| `{code}` \| (.+?) \|(?: .+ \|)?$", text, flags=re.MULTILINE)
    assert len(rows) == 2, rows  # the meaning row and the remediation row
    assert html.unescape(rows[1]) == ERROR_CODES[code].remediation
