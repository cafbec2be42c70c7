"""Every API page is checked against the response shape of the API version the adapter speaks
before it lands. A page in another shape (an older version, an HTML page with status 200, no
list of records, a record without its ID, a field of the wrong type) lands nothing of itself,
stops its endpoint and is one UNSUPPORTED_RESPONSE problem naming endpoint and page; the fetch
is incomplete, so nothing is deactivated. Against the local Clever and OneRoster stand-ins."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from rostersync_pipeline.lib.ingest.providers import clever_api, clever_events, oneroster_rest
from rostersync_pipeline.lib.storage.warehouse import ensure_schemas
from rostersync_pipeline_tests.fakes.clever_server import CleverServer
from rostersync_pipeline_tests.fakes.oneroster_server import OneRosterServer, demo_roster
from rostersync_pipeline_tests.helpers import District
from rostersync_pipeline_tests.ingest.test_clever_api import FAST, TOKEN
from rostersync_pipeline_tests.ingest.test_live_providers_e2e import (
    CLEVER_TOKEN,
    active_ids,
    assert_nothing_deactivated,
    clever_source,
    clever_synced_copy,
    copy_district,
)

CLEVER_LIMIT = 500
HTML = b"<!DOCTYPE html><html><body><h1>Service temporarily unavailable</h1></body></html>"


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    ensure_schemas(connection)
    yield connection
    connection.close()


def clever_page(server: CleverServer, endpoint: str, page: int) -> dict:
    """The body the stand-in serves for ``endpoint`` page ``page`` (limit 500)."""
    rows = server.collections[endpoint]
    start = (page - 1) * CLEVER_LIMIT
    chunk = copy.deepcopy(rows[start:start + CLEVER_LIMIT])
    base = f"/v3.0/{endpoint}?limit={CLEVER_LIMIT}"
    links = [{"rel": "self", "uri": base}]
    if start + CLEVER_LIMIT < len(rows):
        links.append({"rel": "next", "uri": f"{base}&starting_after={chunk[-1]['id']}"})
    return {"data": [{"data": r, "uri": f"/v3.0/{endpoint}/{r['id']}"} for r in chunk],
            "links": links}


def as_clever_v2(body: dict) -> dict:
    """A v3 users page re-expressed as Clever v2 ``/students`` / ``/teachers`` records: the role's
    fields at the top level, no ``roles`` (the shape before v3's multi-role users)."""
    items = []
    for item in body["data"]:
        user = item["data"]
        role_name, role = next(iter(user["roles"].items()))
        flat = {k: v for k, v in user.items() if k != "roles"} | role
        items.append({"data": flat, "uri": f"/v2.1/{role_name}s/{user['id']}"})
    return {**body, "data": items}


def without(body: dict, index: int, key: str) -> dict:
    body["data"][index]["data"].pop(key)
    return body


def with_field(body: dict, index: int, key: str, value: object) -> dict:
    body["data"][index]["data"][key] = value
    return body


def with_contact_relationships(body: dict, value: object) -> dict:
    """The page's first contact with ``student_relationships`` replaced by ``value``."""
    contact = next(item["data"]["roles"]["contact"] for item in body["data"]
                   if "contact" in item["data"]["roles"])
    contact["student_relationships"] = value
    return body


@dataclass(frozen=True)
class Shape:
    description: str
    endpoint: str
    page: int
    answer: Callable[[CleverServer], tuple[bytes, str]]
    reason_has: str
    landed_before: int


def json_answer(make: Callable[[CleverServer], object]) -> Callable:
    return lambda server: (json.dumps(make(server)).encode(), "application/json")


CLEVER_SHAPES = [
    Shape("Clever v2 users (no roles) on page 2", "users", 2,
          json_answer(lambda s: as_clever_v2(clever_page(s, "users", 2))),
          "roles: missing", CLEVER_LIMIT),
    Shape("an HTML page with status 200", "users", 1, lambda s: (HTML, "text/html"),
          "not JSON (HTTP 200, Content-Type text/html", 0),
    Shape("an HTML page that claims to be JSON", "users", 3,
          lambda s: (HTML, "application/json"), "not JSON", 2 * CLEVER_LIMIT),
    Shape("JSON without the data list", "sections", 1,
          json_answer(lambda s: {"error": "upstream unavailable", "links": []}),
          "the body has no 'data' list", 0),
    Shape("a JSON list instead of an object", "schools", 1,
          json_answer(lambda s: [r["id"] for r in s.collections["schools"]]),
          "the body is a JSON list", 0),
    Shape("a record without its id", "sections", 1,
          json_answer(lambda s: without(clever_page(s, "sections", 1), 2, "id")),
          "record 3: id: missing", 0),
    Shape("a record whose id is a number", "terms", 1,
          json_answer(lambda s: with_field(clever_page(s, "terms", 1), 0, "id", 42)),
          "record 1: id: should be a string", 0),
    Shape("students as a comma-separated string", "sections", 1,
          json_answer(lambda s: with_field(clever_page(s, "sections", 1), 4, "students",
                                           "a,b,c")), "students: should be a list", 0),
    Shape("an object where a name is expected", "courses", 1,
          json_answer(lambda s: with_field(clever_page(s, "courses", 1), 0, "name",
                                           {"en": "Math"})), "name: wrong type", 0),
    Shape("a contact's student relationships as a string", "users", 3,
          json_answer(lambda s: with_contact_relationships(clever_page(s, "users", 3),
                                                           "5a25ffb2c1bc2a00360007bf")),
          "student_relationships: should be a list", 2 * CLEVER_LIMIT),
]


@pytest.mark.parametrize("shape", CLEVER_SHAPES, ids=lambda s: s.description)
def test_a_clever_page_in_another_shape_stops_its_endpoint(con, shape: Shape) -> None:
    with CleverServer() as server:
        server.faults.replaced[(shape.endpoint, shape.page)] = (200, *shape.answer(server))
        result = clever_api.fetch_and_land(con, run_id="r1", token=TOKEN,
                                           base_url=server.base_url, page_limit=CLEVER_LIMIT,
                                           timeout_s=5.0, retry=FAST)
        requests = server.requests[(shape.endpoint, shape.page)]
    [problem] = [p for p in result.problems if p.error_code == "UNSUPPORTED_RESPONSE"]
    assert problem.location == f"clever {shape.endpoint} page {shape.page}"
    assert (problem.record_type, problem.blocks_deactivation) == ("endpoint", True)
    assert shape.reason_has in problem.reason
    assert not result.complete
    assert con.execute(f"select count(*) from raw.clever_{shape.endpoint}").fetchall() == [
        (shape.landed_before,)]
    assert requests == 1  # not retried: another attempt would get the same answer
    assert len(result.problems) == 1  # the other endpoints were fetched as usual


def test_a_district_answer_in_another_shape_lands_nothing(con) -> None:
    with CleverServer() as server:
        server.faults.replaced[("districts", 1)] = (200, HTML, "text/html; charset=utf-8")
        result = clever_api.fetch_and_land(con, run_id="r1", token=TOKEN,
                                           base_url=server.base_url, page_limit=CLEVER_LIMIT,
                                           timeout_s=5.0, retry=FAST)
    assert [(p.location, p.error_code) for p in result.problems] == [
        ("clever districts page 1", "UNSUPPORTED_RESPONSE")]
    assert result.provider_state == "unreachable" and not result.complete
    assert con.execute("select count(*) from raw.clever_users").fetchall() == [(0,)]


def test_an_events_page_in_another_shape_applies_nothing_and_keeps_the_cursor(con) -> None:
    with CleverServer() as server:
        server.emit("districts.updated", server.collections["districts"][0])
        options = {"run_id": "r1", "token": TOKEN, "base_url": server.base_url,
                   "page_limit": CLEVER_LIMIT, "timeout_s": 5.0, "retry": FAST, "events": True}
        assert clever_api.fetch_and_land(con, **options).complete
        cursor = clever_events.read_cursor(con)
        user = copy.deepcopy(server.collections["users"][0])
        server.emit("users.updated", {**user, "roles": "student"})
        result = clever_api.fetch_and_land(con, **{**options, "run_id": "r2"})
    [problem] = result.problems
    assert (problem.location, problem.error_code) == ("clever events page 1",
                                                      "UNSUPPORTED_RESPONSE")
    assert "record 1" in problem.reason and "roles" in problem.reason
    assert clever_events.read_cursor(con).last_event_id == cursor.last_event_id
    assert not result.complete and result.mode == "delta"


# OneRoster REST

@dataclass(frozen=True)
class OneRosterShape:
    description: str
    version: str
    collection: str
    page: int
    answer: Callable[[], tuple[bytes, str]]
    reason_has: str
    landed_before: int


OR_LIMIT = 2000


def or_page(version: str, collection: str, page: int) -> list[dict]:
    rows = demo_roster(version)[collection]
    return copy.deepcopy(rows[(page - 1) * OR_LIMIT: page * OR_LIMIT])


def enrollment_without_id() -> list[dict]:
    rows = or_page("1.1", "enrollments", 2)
    rows[7].pop("sourcedId")
    return rows


ONEROSTER_SHAPES = [
    OneRosterShape("1.1 users to a 1.2 client", "1.2", "users", 1,
                   lambda: (json.dumps({"users": or_page("1.1", "users", 1)}).encode(),
                            "application/json"), "records are not OneRoster 1.2 users", 0),
    OneRosterShape("1.2 users to a 1.1 client", "1.1", "users", 1,
                   lambda: (json.dumps({"users": or_page("1.2", "users", 1)}).encode(),
                            "application/json"), "role: missing", 0),
    OneRosterShape("an HTML sign-in page with status 200", "1.2", "enrollments", 2,
                   lambda: (HTML, "text/html"), "not JSON", OR_LIMIT),
    OneRosterShape("no collection list", "1.1", "classes", 1,
                   lambda: (b'{"classList": []}', "application/json"),
                   "the body has no 'classes' list", 0),
    OneRosterShape("an enrollment without its sourcedId", "1.1", "enrollments", 2,
                   lambda: (json.dumps({"enrollments": enrollment_without_id()}).encode(),
                            "application/json"), "record 8: sourcedId: missing", OR_LIMIT),
    OneRosterShape("a reference that is a bare string", "1.2", "classes", 1,
                   lambda: (json.dumps({"classes": [
                       {**c, "school": c["school"]["sourcedId"]}
                       for c in or_page("1.2", "classes", 1)]}).encode(), "application/json"),
                   "school: should be an object", 0),
]


@pytest.mark.parametrize("shape", ONEROSTER_SHAPES, ids=lambda s: s.description)
def test_a_oneroster_page_in_another_shape_stops_its_collection(con, shape) -> None:
    with OneRosterServer(version=shape.version) as server:
        server.faults.replaced[(shape.collection, shape.page)] = (200, *shape.answer())
        result = oneroster_rest.fetch_and_land(
            con, run_id="r1", base_url=server.base_url, client_id="district-key",
            client_secret="district-secret", oneroster_version=shape.version,
            page_limit=OR_LIMIT, timeout_s=5.0, retry=FAST)
        requests = server.requests[(shape.collection, shape.page)]
    [problem] = [p for p in result.problems if p.error_code != "ENDPOINT_NOT_OFFERED"]
    assert (problem.location, problem.error_code, problem.blocks_deactivation) == (
        f"oneroster {shape.collection} page {shape.page}", "UNSUPPORTED_RESPONSE", True)
    assert shape.reason_has in problem.reason
    assert not result.complete and requests == 1
    assert con.execute(f"select count(*) from raw.oneroster_{shape.collection.lower()}"
                       ).fetchall() == [(shape.landed_before,)]


def test_no_record_value_appears_in_the_problem(con) -> None:
    """The message names where and what, never a value (names, emails stay out of it)."""
    with CleverServer() as server:
        body = clever_page(server, "users", 1)
        for item in body["data"]:
            item["data"]["name"]["first"] = ["Zelda"]
            item["data"]["email"] = {"address": "zelda@example.org"}
        server.faults.replaced[("users", 1)] = (200, json.dumps(body).encode(),
                                                "application/json")
        result = clever_api.fetch_and_land(con, run_id="r1", token=TOKEN,
                                           base_url=server.base_url, page_limit=CLEVER_LIMIT,
                                           timeout_s=5.0, retry=FAST)
    [problem] = result.problems
    assert "500 of 500 records" in problem.reason
    assert "Zelda" not in problem.reason and "zelda@" not in problem.reason


# Through the whole job: a good first sync, then a night whose users page 2 is Clever v2.

@pytest.fixture(scope="module")
def clever_synced(tmp_path_factory: pytest.TempPathFactory, session_cache: Path) -> District:
    district, outcome = clever_synced_copy(tmp_path_factory.mktemp("clever"), session_cache)
    assert outcome.success and outcome.summary.fetch_complete, outcome.failure
    return district


def test_an_old_shape_after_a_good_sync_deactivates_nobody(
        clever_synced, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RS_E2E_CLEVER", CLEVER_TOKEN)
    with CleverServer(token=CLEVER_TOKEN) as server:
        server.faults.replaced[("users", 2)] = (
            200, json.dumps(as_clever_v2(clever_page(server, "users", 2))).encode(),
            "application/json")
        night = copy_district(clever_synced, tmp_path, clever_source(server))
        before = active_ids(night)
        outcome = night.sync()
    assert outcome.success, outcome.failure
    assert not outcome.summary.fetch_complete
    [error] = night.errors(outcome.run_id, "UNSUPPORTED_RESPONSE")
    assert (error["record_type"], error["source_file"]) == ("endpoint", "clever users page 2")
    assert "roles: missing" in error["message"] and error["remediation"]
    assert_nothing_deactivated(night, before, outcome)
