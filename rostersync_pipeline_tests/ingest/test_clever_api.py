"""Clever API v3 landing and staging, end to end against a local Clever stand-in."""

from __future__ import annotations

import json
import logging

import duckdb
import pytest

from rostersync_pipeline.lib.ingest.http import RetryPolicy
from rostersync_pipeline.lib.ingest.providers import clever_api, fetch_and_land
from rostersync_pipeline.lib.ingest.providers.base import LandingContext
from rostersync_pipeline.lib.ingest.providers.clever_api import CleverApiSource
from rostersync_pipeline.lib.storage.warehouse import ensure_schemas
from rostersync_pipeline_tests.fakes import CLEVER_DEMO_DIR, create_staging_views
from rostersync_pipeline_tests.fakes.clever_server import CleverServer

TOKEN = "demo-token"
FAST = RetryPolicy(max_attempts=3, backoff_initial_s=0.001, backoff_max_s=0.01,
                   rate_limit_max_waits=3, rate_limit_max_wait_s=0.5)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    ensure_schemas(connection)
    yield connection
    connection.close()


def fetch(con: duckdb.DuckDBPyConnection, server: CleverServer, **options):
    options = {"page_limit": 500, "timeout_s": 5.0, "retry": FAST, **options}
    return clever_api.fetch_and_land(con, run_id="run-1", token=TOKEN,
                                     base_url=server.base_url, **options)


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    return con.execute(sql).fetchall()[0][0]


def expected_enrollments() -> int:
    """Counted straight from the sample file, not through the adapter or SQL."""
    sections = json.loads((CLEVER_DEMO_DIR / "sections.json").read_text())["data"]
    pairs = {(s["data"]["id"], uid, role) for s in sections
             for role, key in (("student", "students"), ("teacher", "teachers"))
             for uid in s["data"].get(key, [])}
    return len(pairs)


def test_demo_district_lands_and_stages_to_canonical_counts(con) -> None:
    with CleverServer() as server:
        result = fetch(con, server)
    assert result.complete and result.provider_state == "healthy"
    assert result.mode == "bulk"
    assert {t: scalar(con, f"select count(*) from raw.{t}") for t in clever_api.RAW_TABLES} == {
        "clever_districts": 1, "clever_schools": 5, "clever_users": 2098,
        "clever_sections": 378, "clever_terms": 5, "clever_courses": 343, "clever_events": 0,
    }
    assert scalar(con, "select count(distinct _source_row) from raw.clever_users") == 2098
    create_staging_views(con, "clever")
    roles = dict(con.execute(
        "select role, count(*) from staging.stg_clever__users group by role").fetchall())
    assert roles == {"student": 1004, "educator": 89, "guardian": 1002, "other": 3}
    assert scalar(con, "select count(*) from staging.stg_clever__sections") == 378
    enrollments = expected_enrollments()
    assert enrollments == 9406
    assert result.row_counts["enrollments"] == enrollments
    assert scalar(con, "select count(distinct enrollment_source_id) "
                       "from staging.stg_clever__enrollments") == enrollments
    assert scalar(con, "select count(*) from staging.stg_clever__enrollments e "
                       "join staging.stg_clever__users u using (user_source_id)") == enrollments
    student = con.execute(
        "select sis_id, grade_raw, birth_date::varchar, school_source_ids, program_names "
        "from staging.stg_clever__users where user_source_id = '5a25ffb0c1bc2a00360003ee'"
    ).fetchall()[0]
    assert student == ("101565758", "9", "1998-06-18",
                       ["5a25ff950a5f621109000004", "5a25ff950a5f621109000005"], [])


def test_limit_up_to_10000_means_one_page_per_endpoint(con) -> None:
    with CleverServer() as server:
        result = fetch(con, server, page_limit=10_000)
    assert result.complete
    assert set(server.seen_limits) == {100, 10_000}  # districts is not paged
    assert all(page == 1 for _, page in server.requests)
    with pytest.raises(ValueError):
        fetch(con, server, page_limit=10_001)


def test_rate_limit_resumes_from_the_same_page(con) -> None:
    with CleverServer() as server:
        server.faults.rate_limited[("users", 2)] = 2
        result = fetch(con, server)
    assert result.complete
    assert [server.requests[("users", n)] for n in range(1, 6)] == [1, 3, 1, 1, 1]
    assert scalar(con, "select count(distinct id) from raw.clever_users") == 2098


def test_failed_page_3_of_5_makes_the_fetch_incomplete(con) -> None:
    with CleverServer() as server:
        server.faults.server_errors[("users", 3)] = 99
        result = fetch(con, server)
    assert not result.complete
    assert result.entity_modes["users"] == "bulk"
    [problem] = result.problems
    assert problem.location == "clever users page 3"
    assert problem.blocks_deactivation and "HTTP 500" in problem.reason
    assert scalar(con, "select count(*) from raw.clever_users") == 1000
    assert scalar(con, "select count(*) from raw.clever_sections") == 378


def test_token_rejected_midway_stops_and_blocks_deactivation(con) -> None:
    with CleverServer() as server:
        server.faults.unauthorized_from = ("users", 2)
        result = fetch(con, server)
    assert not result.complete
    assert result.problems[0].location == "clever users page 2"
    assert "401" in result.problems[0].reason
    assert [p.location for p in result.problems[1:]] == [
        "clever sections", "clever terms", "clever courses"]
    assert ("sections", 1) not in server.requests


def test_truncated_json_names_endpoint_and_page(con) -> None:
    with CleverServer() as server:
        server.faults.truncated[("sections", 2)] = 99
        result = fetch(con, server, page_limit=100)
    assert not result.complete
    [problem] = result.problems
    assert problem.location == "clever sections page 2"
    assert "JSON" in problem.reason


@pytest.mark.parametrize("state", ["paused", "error"])
def test_unhealthy_district_lands_nothing(con, state: str) -> None:
    with CleverServer() as server:
        assert fetch(con, server).complete
    with CleverServer(district_state=state) as server:
        result = fetch(con, server)
    assert result.provider_state == state and not result.complete
    assert result.mode == "absent"
    assert all(scalar(con, f"select count(*) from raw.{t}") == 0 for t in clever_api.RAW_TABLES)
    assert set(server.requests) == {("districts", 1)}


def test_v3_1_and_dispatch_through_fetch_and_land(con, caplog, tmp_path) -> None:
    caplog.set_level(logging.DEBUG)
    with CleverServer() as server:
        source = CleverApiSource(token_env="TOKEN_ENV", base_url=f"{server.base_url}/v3.1",
                                 page_limit=1000, retry_max_attempts=FAST.max_attempts,
                                 retry_backoff_s=FAST.backoff_initial_s)
        result = fetch_and_land(con, source, LandingContext(
            run_id="run-2", work_dir=tmp_path, secrets={"token": TOKEN}))
    assert result.complete and result.row_counts["users"] == 2098
    assert TOKEN not in caplog.text
    assert "example.net" not in caplog.text


def test_program_names_from_status_flags_and_ext(con) -> None:
    student = {"id": "u1", "name": {"first": "A", "last": "B"}, "roles": {"student": {
        "ell_status": "Y", "iep_status": "N", "frl_status": "Free", "school": "s1",
        "schools": ["s2", "s1"], "grade": "Kindergarten", "dob": "2015-09-01",
        "ext": {"programs": "Robotics, Art, Gifted"}}}}
    staff = {"id": "u2", "name": {"last": "C"}, "roles": {"staff": {"schools": ["s1"]}}}
    clever_api.land_records(con, "clever_users", [student, staff], run_id="r",
                            source_file="users", first_row=1)
    create_staging_views(con, "clever")
    rows = con.execute("select user_source_id, role, program_names, school_source_ids, "
                       "birth_date::varchar from staging.stg_clever__users order by 1").fetchall()
    # sorted, as every provider lists them
    assert rows == [("u1", "student", ["Art", "ELL", "FRL", "Gifted", "Robotics"], ["s1", "s2"],
                     "2015-09-01"),
                    ("u2", "other", [], ["s1"], None)]
