"""Every real sample synced with zero tracebacks and zero silent NULLs (issue #10.9).

Each bundle under ``shared/data/samples`` (every OneRoster CSV set, as a folder or a zip; the
Clever API recordings through the fake Clever server: the #DEMO district and the SDK's recorded
first pages) goes through a whole sync. Then, for every raw field that staging maps to a core
field (``MAPPINGS``, per provider), every non-empty raw value must

- reach core non-NULL, or
- have an error row of this run for that record and field (``FIELD_NAMES``), or
- be explained by one of the documented rules (``RULES``, docs/providers.md "Values,
  references and contradictions").

There is no Clever-format CSV among the samples. The check itself is shown to fail: a value
nulled in core after a sync is reported.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rostersync_pipeline.demo.district import write_district_config
from rostersync_pipeline.lib.storage.warehouse import district_connection
from rostersync_pipeline_tests.fakes.clever_server import CleverServer
from rostersync_pipeline_tests.helpers import SAMPLES_DIR, District, synced_sample

pytestmark = pytest.mark.skipif(not SAMPLES_DIR.is_dir(), reason="shared samples not available")

LIST_COLUMNS = ("school_source_ids",)
RECORDINGS = SAMPLES_DIR / "clever-v3-sdk-recordings" / "bodies" / "client"
TOKEN = "samples-token"

# Why a raw value may be absent from core without an error row of its own. Each rule is a SQL
# condition on the lost value (columns: record_id, source_file, source_row, and the district's
# tables), named as docs/providers.md names it.
RULES: dict[str, str] = {
    "a user of a role rostersync does not import (guardian, parent, relative, staff, "
    "district admin, contact) is not in core.users":
        "exists (select 1 from intermediate.int_users_unioned u where u.user_source_id = "
        "lost.record_id and u.role not in ('student', 'educator'))",
    "an org that is not a school (district, department, ...) is not in core.schools":
        "exists (select 1 from intermediate.int_org_types o where o.school_source_id = "
        "lost.record_id and o.org_type <> 'school')",
    "a record without an id is not imported (MISSING_SOURCE_ID names its file and row)":
        "lost.record_id is null",
    "the birth date of a demographics row whose user the landing does not hold":
        "lost.raw_table = 'oneroster_demographics' and not exists (select 1 from "
        "intermediate.int_users_unioned u where u.user_source_id = lost.record_id)",
}


@dataclass(frozen=True)
class Mapping:
    """A raw field and the core column staging maps it to (``value`` is a SQL expression on
    the raw row; a list field maps its first element: the app stores one grade, one term and
    one subject)."""

    raw_table: str
    value: str
    core_table: str
    core_key: str
    core_column: str
    field: str
    record_id: str = "sourcedId"


def _oneroster(raw: str, core: str, key: str, pairs: dict[str, tuple[str, str]],
               record_id: str = "sourcedId") -> list[Mapping]:
    return [Mapping(f"oneroster_{raw}", value, core, key, column, field, record_id)
            for value, (column, field) in pairs.items()]


def _clever(raw: str, core: str, key: str, pairs: dict[str, tuple[str, str]]) -> list[Mapping]:
    return [Mapping(f"clever_{raw}", f"data ->> '{path}'", core, key, column, field, "id")
            for path, (column, field) in pairs.items()]


MAPPINGS: dict[str, list[Mapping]] = {
    "oneroster": [
        *_oneroster("orgs", "schools", "school_source_id", {
            "sourcedId": ("school_source_id", "source_id"), "identifier": ("sis_id", "sis_id"),
            "name": ("school_name", "name")}),
        *_oneroster("users", "users", "user_source_id", {
            "sourcedId": ("user_source_id", "source_id"), "identifier": ("sis_id", "sis_id"),
            "email": ("email", "email"), "username": ("username", "username"),
            "givenName": ("first_name", "first_name"),
            "middleName": ("middle_name", "middle_name"),
            "familyName": ("last_name", "last_name"),
            "split_part(grades, ',', 1)": ("grade_raw", "grade"),
            "orgSourcedIds": ("school_source_ids", "orgs")}),
        *_oneroster("demographics", "users", "user_source_id", {
            "birthDate": ("birth_date", "birth_date")}),
        *_oneroster("classes", "sections", "section_source_id", {
            "sourcedId": ("section_source_id", "source_id"), "title": ("section_name", "name"),
            "schoolSourcedId": ("school_source_id", "school"),
            "courseSourcedId": ("course_source_id", "course"),
            "split_part(termSourcedIds, ',', 1)": ("term_source_id", "term"),
            "split_part(subjects, ',', 1)": ("subject", "subject")}),
        *_oneroster("enrollments", "enrollments", "enrollment_source_id", {
            "sourcedId": ("enrollment_source_id", "source_id"),
            "classSourcedId": ("section_source_id", "section"),
            "userSourcedId": ("user_source_id", "user"),
            "schoolSourcedId": ("school_source_id", "school"),
            '"primary"': ("is_primary", "primary")}),
        *_oneroster("academicsessions", "terms", "term_source_id", {
            "sourcedId": ("term_source_id", "source_id"), "title": ("term_name", "name"),
            "type": ("term_type", "term_type"), "startDate": ("start_date", "start_date"),
            "endDate": ("end_date", "end_date"), "schoolYear": ("school_year", "school_year"),
            "parentSourcedId": ("parent_term_source_id", "parent")}),
        *_oneroster("courses", "courses", "course_source_id", {
            "sourcedId": ("course_source_id", "source_id"), "title": ("course_name", "name"),
            "courseCode": ("course_code", "course_code"),
            "orgSourcedId": ("school_source_id", "org"),
            "schoolYearSourcedId": ("school_year_source_id", "school_year")}),
    ],
    "clever": [
        *_clever("schools", "schools", "school_source_id", {
            "$.name": ("school_name", "name"), "$.sis_id": ("sis_id", "sis_id"),
            "$.state_id": ("state_id", "state_id"), "$.nces_id": ("nces_id", "nces_id")}),
        *_clever("users", "users", "user_source_id", {
            "$.name.first": ("first_name", "first_name"),
            "$.name.middle": ("middle_name", "middle_name"),
            "$.name.last": ("last_name", "last_name"), "$.email": ("email", "email"),
            "$.roles.student.dob": ("birth_date", "birth_date"),
            "$.roles.student.sis_id": ("sis_id", "sis_id"),
            "$.roles.student.grade": ("grade_raw", "grade"),
            "$.roles.student.state_id": ("state_id", "state_id"),
            "$.roles.student.student_number": ("student_number", "student_number"),
            "$.roles.student.credentials.district_username": ("username", "username"),
            "$.roles.teacher.sis_id": ("sis_id", "sis_id"),
            "$.roles.teacher.credentials.district_username": ("username", "username")}),
        *_clever("sections", "sections", "section_source_id", {
            "$.name": ("section_name", "name"), "$.sis_id": ("sis_id", "sis_id"),
            "$.school": ("school_source_id", "school"),
            "$.course": ("course_source_id", "course"),
            "$.term_id": ("term_source_id", "term"), "$.subject": ("subject", "subject")}),
        *_clever("terms", "terms", "term_source_id", {
            "$.name": ("term_name", "name"), "$.start_date": ("start_date", "start_date"),
            "$.end_date": ("end_date", "end_date")}),
        *_clever("courses", "courses", "course_source_id", {
            "$.name": ("course_name", "name"), "$.number": ("course_code", "course_code")}),
    ],
}


def oneroster_bundles() -> list[Path]:
    if not SAMPLES_DIR.is_dir():
        return []
    folders = {p.parent for p in SAMPLES_DIR.rglob("*.csv")}
    return sorted(folders | set(SAMPLES_DIR.rglob("*.zip")))


@dataclass(frozen=True)
class SampleSync:
    name: str
    provider: str
    district: District
    run_id: str


def _recorded(endpoint: str) -> list[dict]:
    (path,) = sorted((RECORDINGS / endpoint).glob("00_*.json"))
    return [row["data"] for row in json.loads(path.read_text(encoding="utf-8"))["body"]["data"]]


def _clever_sync(root: Path, server: CleverServer) -> tuple[District, str]:
    source = {"type": "clever_api", "base_url": server.base_url, "token_env": "RS_SAMPLES_TOKEN",
              "page_limit": 1000, "timeout_s": 10, "retry_max_attempts": 2,
              "retry_backoff_s": 0.01}
    write_district_config(root / "config", "district-a", root / "unused", source=source,
                          schools={"create_unmatched": True})
    district = District("district-a", root / "config", root / "warehouse")
    outcome = district.sync()
    assert outcome.success and outcome.failure is None, outcome.failure
    return district, outcome.run_id


SAMPLE_NAMES = [str(p.relative_to(SAMPLES_DIR)) for p in oneroster_bundles()] + [
    "clever-v3-demo-district (fake Clever API)", "clever-v3-sdk-recordings (fake Clever API)"]


@pytest.fixture(scope="module", params=SAMPLE_NAMES)
def sample(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           session_cache: Path) -> Iterator[SampleSync]:
    """The sample synced (a OneRoster bundle once per session, shared with the other sample
    tests; this module's copy)."""
    root = tmp_path_factory.mktemp("sample")
    name = request.param
    if name.startswith("clever-v3"):
        with pytest.MonkeyPatch.context() as mp, CleverServer(token=TOKEN) as server:
            mp.setenv("RS_SAMPLES_TOKEN", TOKEN)
            if "recordings" in name:
                for endpoint in ("districts", "schools", "users", "sections", "terms",
                                 "courses"):
                    server.collections[endpoint] = _recorded(endpoint)
            district, run_id = _clever_sync(root, server)
        yield SampleSync(name, "clever", district, run_id)
        return
    district, outcome = synced_sample(session_cache, SAMPLES_DIR / name)
    assert outcome.success and outcome.failure is None, outcome.failure
    yield SampleSync(name, "oneroster", district.copy_to(root), outcome.run_id)


def lost_values(district: District, run_id: str, provider: str) -> list[tuple]:
    """(raw table, field, record id, raw value, file, row) of every non-empty raw value that is
    NULL (or absent) in core, has no error row of this run for its record and field, and no
    rule explains."""
    explained = " or ".join(f"({condition})" for condition in RULES.values())
    found: list[tuple] = []
    with district_connection(district.warehouse_dir, district.district_id) as con:
        for m in MAPPINGS[provider]:
            empty_list = (f" or len(landed.{m.core_column}) = 0"
                          if m.core_column in LIST_COLUMNS else "")
            found += con.execute(f"""
                with raw_values as (
                    select
                        '{m.raw_table}' as raw_table,
                        nullif(trim({m.record_id}), '') as record_id,
                        {m.value} as raw_value,
                        _source_file as source_file,
                        _source_row as source_row
                    from raw.{m.raw_table}
                    where nullif(trim({m.value}), '') is not null
                ),
                lost as (
                    select raw_values.*
                    from raw_values
                    left join core.{m.core_table} as landed
                        on landed.{m.core_key} = raw_values.record_id
                    where landed.{m.core_column} is null{empty_list}
                )
                select raw_table, '{m.field}', record_id, raw_value, source_file, source_row
                from lost
                where not exists (
                    select 1 from sync.sync_errors as errors
                    where errors.run_id = $run_id
                        and errors.source_id = lost.record_id
                        and errors.field = '{m.field}'
                )
                and not ({explained})
            """, {"run_id": run_id}).fetchall()
    return found


def test_the_sample_syncs_with_no_value_lost_in_silence(sample: SampleSync) -> None:
    assert lost_values(sample.district, sample.run_id, sample.provider) == []


def test_every_error_row_has_a_code_file_and_remediation(sample: SampleSync) -> None:
    for row in sample.district.errors(sample.run_id):
        assert row["error_code"] and row["remediation"], row
        if row["record_type"] not in ("file", "endpoint"):
            assert row["source_file"] and row["source_row"], row


def test_the_check_reports_a_value_nulled_in_core(sample: SampleSync, tmp_path: Path) -> None:
    """The check can fail: a copy of the synced district with one landed value set to NULL in
    core (what a ``try_cast`` once did) is reported."""
    if not lost_values(sample.district, sample.run_id, sample.provider) == []:
        pytest.skip("the sample already loses values (see the test above)")
    shutil.copytree(sample.district.warehouse_dir, tmp_path / "warehouse")
    copy = District(sample.district.district_id, sample.district.config_dir,
                    tmp_path / "warehouse")
    with district_connection(copy.warehouse_dir, copy.district_id) as con:
        nulled = con.execute(
            "update core.users set last_name = null where user_source_id = "
            "(select min(user_source_id) from core.users where last_name is not null) "
            "returning user_source_id").fetchall()
    if not nulled:
        pytest.skip("the sample lands no user with a last name")
    lost = lost_values(copy, sample.run_id, sample.provider)
    assert [(row[1], row[2]) for row in lost] == [("last_name", nulled[0][0])]
