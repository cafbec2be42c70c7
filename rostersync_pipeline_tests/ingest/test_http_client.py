"""The HTTP client and paginators against a real local server (no mocked requests)."""

from __future__ import annotations

import logging

import pytest
import requests

from rostersync_pipeline.lib.ingest.http import (
    BearerAuth,
    HttpClient,
    JsonLinksCursorPaginator,
    PageError,
    PaginationError,
    RetryPolicy,
    redact_url,
)
from rostersync_pipeline_tests.fakes.clever_server import CleverServer

TOKEN = "demo-token"
FAST = RetryPolicy(max_attempts=3, backoff_initial_s=0.001, backoff_max_s=0.01,
                   rate_limit_max_waits=3, rate_limit_max_wait_s=0.5)


def client_for(server: CleverServer, timeout: float = 5.0) -> HttpClient:
    return HttpClient(base_url=f"{server.base_url}/v3.0", auth=BearerAuth(TOKEN),
                      timeout=(timeout, timeout), retry=FAST)


def fetch_users(server: CleverServer, limit: int = 500, timeout: float = 5.0) -> int:
    client = client_for(server, timeout)
    pages = client.paginate("users", JsonLinksCursorPaginator(limit=limit))
    return sum(len(page.data["data"]) for page in pages)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pw@api.example.com/v3.0/users?limit=5&access_token=abc",
         "https://api.example.com/v3.0/users?limit=5&access_token=***"),
        ("http://127.0.0.1:8080/x?starting_after=abc&filter=dateLastModified%3E%272024%27",
         "http://127.0.0.1:8080/x?starting_after=abc&filter=***"),
        ("https://api.example.com/v3.0/users", "https://api.example.com/v3.0/users"),
    ],
)
def test_redact_url_masks_secrets_and_keeps_paging(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_cursor_pagination_reads_every_page_once() -> None:
    with CleverServer() as server:
        assert fetch_users(server) == 2098
    assert server.requests == {("users", n): 1 for n in range(1, 6)}


@pytest.mark.parametrize("header", ["X-RateLimit-Reset", "Retry-After"])
def test_429_waits_then_repeats_the_same_page(header: str) -> None:
    with CleverServer() as server:
        server.faults.rate_limit_header = header
        server.faults.rate_limited[("users", 2)] = 2
        assert fetch_users(server) == 2098
    assert server.requests[("users", 2)] == 3
    assert [server.requests[("users", n)] for n in (1, 3, 4, 5)] == [1, 1, 1, 1]


def test_5xx_is_retried_with_backoff_then_succeeds() -> None:
    with CleverServer() as server:
        server.faults.server_errors[("users", 3)] = 2
        assert fetch_users(server) == 2098
    assert server.requests[("users", 3)] == 3


def test_persistent_5xx_names_the_page_after_bounded_attempts() -> None:
    with CleverServer() as server:
        server.faults.server_errors[("users", 3)] = 99
        with pytest.raises(PageError) as failure:
            fetch_users(server)
    assert (failure.value.endpoint, failure.value.page) == ("users", 3)
    assert "HTTP 500" in failure.value.reason
    assert server.requests[("users", 3)] == FAST.max_attempts
    assert ("users", 4) not in server.requests


def test_slow_response_beyond_timeout_is_retried() -> None:
    with CleverServer() as server:
        server.faults.slow[("users", 2)] = 0.6
        assert fetch_users(server, timeout=0.2) == 2098
    assert server.requests[("users", 2)] == 2


def test_truncated_body_is_retried_then_reported() -> None:
    with CleverServer() as server:
        server.faults.truncated[("users", 2)] = 1
        assert fetch_users(server) == 2098
        server.faults.truncated[("users", 2)] = 99
        with pytest.raises(PageError) as failure:
            fetch_users(server)
    assert failure.value.page == 2
    assert "JSON" in failure.value.reason


def test_401_is_not_retried() -> None:
    with CleverServer() as server:
        server.faults.unauthorized_from = ("users", 2)
        with pytest.raises(PageError) as failure:
            fetch_users(server)
    assert failure.value.status == 401
    assert server.requests[("users", 2)] == 1


def test_token_and_query_secrets_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with CleverServer() as server:
        server.faults.server_errors[("users", 2)] = 1
        server.faults.rate_limited[("users", 3)] = 1
        client = client_for(server)
        with pytest.raises(PageError):
            client.request("GET", "users?access_token=s3cr3t-query&limit=7")
            list(client.paginate("nope?api_key=s3cr3t-query", JsonLinksCursorPaginator(5)))
        fetch_users(server)
    assert "HTTP 500" in caplog.text and "429" in caplog.text
    assert TOKEN not in caplog.text
    assert "s3cr3t-query" not in caplog.text
    assert repr(BearerAuth(TOKEN)) == "BearerAuth(token=***)"


def test_cursor_paginator_refuses_a_repeating_cursor() -> None:
    paginator = JsonLinksCursorPaginator(limit=2)
    body = {"data": [{"data": {"id": "a"}}],
            "links": [{"rel": "next", "uri": "/v3.0/users?limit=2&starting_after=a"}]}
    paginator.update_state(requests.Response(), body)
    assert paginator.has_next_page
    with pytest.raises(PaginationError):
        paginator.update_state(requests.Response(), body)


def test_cursor_paginator_stops_without_next_link_or_rows() -> None:
    paginator = JsonLinksCursorPaginator()
    paginator.update_state(requests.Response(), {"data": [], "links": [
        {"rel": "next", "uri": "/v3.0/users?starting_after=z"}]})
    assert not paginator.has_next_page
    paginator = JsonLinksCursorPaginator()
    paginator.update_state(requests.Response(), {"data": [{"data": {"id": "z"}}],
                                                 "links": [{"rel": "self", "uri": "/x"}]})
    assert not paginator.has_next_page
