"""OneRoster REST 1.1 (OAuth 1.0a) and 1.2 (OAuth 2) against a local OneRoster stand-in."""

from __future__ import annotations

import logging

import duckdb
import pytest

from rostersync_pipeline.lib.ingest.http import RetryPolicy
from rostersync_pipeline.lib.ingest.providers import fetch_and_land, oneroster_rest
from rostersync_pipeline.lib.ingest.providers.base import LandingContext
from rostersync_pipeline.lib.ingest.providers.oneroster_csv import SPEC_COLUMNS
from rostersync_pipeline.lib.ingest.providers.oneroster_rest import OneRosterRestSource
from rostersync_pipeline.lib.storage.warehouse import ensure_schemas
from rostersync_pipeline_tests.fakes import create_staging_views
from rostersync_pipeline_tests.fakes.oneroster_server import MODIFIED, OneRosterServer

KEY, SECRET = "district-key", "district-secret"
FAST = RetryPolicy(max_attempts=3, backoff_initial_s=0.001, backoff_max_s=0.01,
                   rate_limit_max_waits=3, rate_limit_max_wait_s=0.5)
EXPECTED = {"oneroster_orgs": 6, "oneroster_users": 1093, "oneroster_classes": 378,
            "oneroster_enrollments": 9406, "oneroster_academicsessions": 5,
            "oneroster_courses": 343}


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    ensure_schemas(connection)
    yield connection
    connection.close()


def fetch(con, server: OneRosterServer, **options):
    options = {"page_limit": 2000, "timeout_s": 5.0, "retry": FAST, "client_id": KEY,
               "client_secret": SECRET, "oneroster_version": server.version, **options}
    return oneroster_rest.fetch_and_land(con, run_id="run-1", base_url=server.base_url,
                                         **options)


def raw_counts(con) -> dict[str, int]:
    return {t: con.execute(f"select count(*) from raw.{t}").fetchall()[0][0] for t in EXPECTED}


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_full_fetch_lands_the_csv_shaped_raw_tables(con, version: str) -> None:
    with OneRosterServer(version=version) as server:
        result = fetch(con, server)
    assert result.complete and result.mode == "bulk"
    assert raw_counts(con) == EXPECTED
    assert server.rejected_signatures == 0
    assert server.tokens_issued == (1 if version == "1.2" else 0)
    user = con.execute(
        "select role, orgSourcedIds, userIds, grades, enabledUser, _ext->>'$.sourcedId' "
        "from raw.oneroster_users where sourcedId = '5a25ffb0c1bc2a00360003ee'").fetchall()
    assert user == [("student", "5a25ff950a5f621109000004,5a25ff950a5f621109000005",
                     "{SIS:101565758}", "9", "true", "5a25ffb0c1bc2a00360003ee")]
    columns = [r[0] for r in con.execute("describe raw.oneroster_users").fetchall()]
    assert columns[: len(SPEC_COLUMNS["users"])] == list(SPEC_COLUMNS["users"])
    roles = con.execute("select count(*) from raw.oneroster_roles").fetchall()[0][0]
    assert (roles > 0) == (version == "1.2")


def test_oauth1_wrong_secret_is_rejected_and_fails_closed(con) -> None:
    with OneRosterServer(version="1.1") as server:
        result = fetch(con, server, client_secret="wrong")
    assert not result.complete
    assert result.problems[0].location == "oneroster orgs page 1"
    assert "401" in result.problems[0].reason
    assert server.rejected_signatures == 1


def test_delta_filter_is_signed_and_marks_entities_delta(con) -> None:
    with OneRosterServer(version="1.1") as server:
        server.collections["users"][0]["dateLastModified"] = "2025-02-01T00:00:00.000Z"
        result = fetch(con, server, modified_since="2025-01-01T00:00:00Z")
    assert result.complete and result.mode == "delta"
    assert server.rejected_signatures == 0
    assert server.filters_seen[0] == "dateLastModified>'2025-01-01T00:00:00Z'"
    assert result.row_counts["users"] == 1 and result.row_counts["sections"] == 0
    assert MODIFIED < "2025-01-01"


def test_oauth2_token_refreshed_after_401_midway(con) -> None:
    with OneRosterServer(version="1.2") as server:
        server.expire_tokens_at = ("enrollments", 3)
        result = fetch(con, server, page_limit=2000)
    assert result.complete
    assert server.tokens_issued == 2
    assert server.requests[("enrollments", 3)] == 2
    assert raw_counts(con) == EXPECTED


def test_failed_page_3_of_5_makes_the_fetch_incomplete(con) -> None:
    with OneRosterServer(version="1.2") as server:
        server.faults.server_errors[("enrollments", 3)] = 99
        result = fetch(con, server)
    assert not result.complete
    blocking = [p for p in result.problems if p.blocks_deactivation]
    assert [p.location for p in blocking] == ["oneroster enrollments page 3"]
    assert result.entity_modes["enrollments"] == "bulk"
    assert raw_counts(con)["oneroster_enrollments"] == 4000


def test_429_resumes_the_same_offset(con) -> None:
    with OneRosterServer(version="1.1") as server:
        server.faults.rate_limited[("users", 1)] = 1
        result = fetch(con, server, page_limit=500)
    assert result.complete
    assert [server.requests[("users", n)] for n in (1, 2, 3)] == [2, 1, 1]


@pytest.mark.parametrize(("send_total", "send_link"), [(False, True), (False, False),
                                                       (True, False)])
def test_paging_with_total_count_link_header_or_neither(con, send_total, send_link) -> None:
    with OneRosterServer(version="1.1", send_total=send_total, send_link=send_link) as server:
        result = fetch(con, server, page_limit=1000)
    assert result.complete
    assert raw_counts(con) == EXPECTED
    assert server.rejected_signatures == 0


def test_secrets_never_logged(con, caplog, tmp_path) -> None:
    caplog.set_level(logging.DEBUG)
    with OneRosterServer(version="1.2") as server:
        server.expire_tokens_at = ("users", 1)
        source = OneRosterRestSource(base_url=server.base_url, client_id_env="KEY_ENV",
                                     client_secret_env="SECRET_ENV", oneroster_version="1.2",
                                     page_limit=1000, retry_max_attempts=FAST.max_attempts,
                                     retry_backoff_s=FAST.backoff_initial_s)
        result = fetch_and_land(con, source, LandingContext(
            run_id="r", work_dir=tmp_path, secrets={"client_id": KEY, "client_secret": SECRET}))
        tokens = set(server.tokens)
    assert result.complete
    assert SECRET not in caplog.text
    assert not any(token in caplog.text for token in tokens)


def test_oneroster_staging_models_read_rest_landing(con) -> None:
    # a staging model that cannot read the landing is an error here, never a skip
    with OneRosterServer(version="1.2") as server:
        assert fetch(con, server).complete
    create_staging_views(con, "oneroster")
    roles = dict(con.execute("select role, count(*) from staging.stg_oneroster__users "
                             "group by role").fetchall())
    assert roles == {"student": 1004, "educator": 89}
    assert con.execute("select count(*) from staging.stg_oneroster__enrollments"
                       ).fetchall() == [(9406,)]
