"""A ``requests`` session wrapper for provider APIs: timeouts, bounded retries, rate limits.

- Every call has a timeout (connect, read).
- 5xx answers, connection errors, timeouts and unparseable JSON bodies are retried with bounded
  exponential backoff (``tenacity``); 4xx answers other than 429 are not. An answer that is not
  JSON at all (an HTML error or sign-in page, even with status 200) is not retried either: it
  is an :class:`HttpError` with ``unsupported`` set (the adapter reports
  ``UNSUPPORTED_RESPONSE``).
- 429 waits until ``Retry-After`` (seconds or HTTP date) or ``X-RateLimit-Reset`` (epoch
  seconds), capped, then repeats the same request.
- A 401 asks the auth object to refresh once (OAuth2 tokens) before it is reported.
- URLs are redacted before logging (query values other than paging keys are masked, user-info
  removed); headers and tokens are never logged.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests
import requests.auth
from tenacity import RetryCallState, Retrying, retry_if_exception_type

from rostersync_pipeline.lib.ingest.http.paginators import BasePaginator, PageRequest, PaginationError

log = logging.getLogger(__name__)

SAFE_QUERY_KEYS = frozenset({"limit", "offset", "starting_after", "ending_before", "count",
                             "sort", "orderBy", "page", "per_page"})


def redact_url(url: str) -> str:
    """The URL with user-info removed and every query value masked except paging keys."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    query = urlencode(
        [(k, v if k in SAFE_QUERY_KEYS else "***")
         for k, v in parse_qsl(parts.query, keep_blank_values=True)],
        safe="*",
    )
    return urlunsplit((parts.scheme, host, parts.path, query, ""))


class _RedactUrllib3Paths(logging.Filter):
    """urllib3 logs each request path with its query at DEBUG; mask the query values."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 5 \
                and isinstance(record.args[4], str) and "?" in record.args[4]:
            args = list(record.args)
            path, query = args[4].split("?", 1)
            args[4] = redact_url(f"http://h{path}?{query}")[len("http://h"):]
            record.args = tuple(args)
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactUrllib3Paths())


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. Tests use tiny waits; production keeps the defaults."""

    max_attempts: int = 5
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    rate_limit_max_waits: int = 10
    rate_limit_max_wait_s: float = 300.0
    rate_limit_default_wait_s: float = 5.0


class HttpError(Exception):
    """A request that did not succeed after retries; ``url`` is already redacted.

    ``unsupported``: the server answered, but not in a shape the client can read (not JSON).
    """

    def __init__(self, url: str, reason: str, status: int | None = None, *,
                 unsupported: bool = False) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status
        self.unsupported = unsupported


class _Transient(Exception):
    """Worth retrying with backoff."""


class _RateLimited(Exception):
    def __init__(self, wait_s: float) -> None:
        super().__init__(f"rate limited, retry in {wait_s:.1f}s")
        self.wait_s = wait_s


class RefreshableAuth(Protocol):
    """A ``requests`` auth that can obtain a fresh credential after a 401."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest: ...

    def refresh(self) -> bool: ...


def rate_limit_wait(response: requests.Response, policy: RetryPolicy,
                    now: Callable[[], float] = time.time) -> float:
    """Seconds to wait before repeating a 429'd request, from its headers."""
    retry_after = response.headers.get("Retry-After")
    wait: float | None = None
    if retry_after:
        try:
            wait = float(retry_after)
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(retry_after)
            wait = parsed.timestamp() - now() if parsed else None
    reset = response.headers.get("X-RateLimit-Reset")
    if wait is None and reset:
        try:
            wait = float(reset) - now()
        except ValueError:
            wait = None
    if wait is None:
        wait = policy.rate_limit_default_wait_s
    return min(max(wait, 0.0), policy.rate_limit_max_wait_s)


@dataclass
class Page:
    number: int
    url: str
    response: requests.Response
    data: Any


@dataclass
class HttpClient:
    """A base URL, an auth, a timeout and a retry policy around one ``requests.Session``."""

    base_url: str
    auth: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    timeout: tuple[float, float] = (5.0, 60.0)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    session: requests.Session = field(default_factory=requests.Session)

    def url_for(self, path_or_url: str) -> str:
        return urljoin(self.base_url.rstrip("/") + "/", path_or_url.lstrip("/")) \
            if not path_or_url.startswith(("http://", "https://")) else path_or_url

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _RateLimited):
            return exc.wait_s
        backoff = self.retry.backoff_initial_s * (2 ** max(self._transient_count - 1, 0))
        return min(backoff, self.retry.backoff_max_s)

    def _stop(self, state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _RateLimited):
            self._rate_limited_count += 1
            return self._rate_limited_count > self.retry.rate_limit_max_waits
        self._transient_count += 1
        return self._transient_count >= self.retry.max_attempts

    def _send_once(self, method: str, url: str, params: dict | None, data: Any,
                   parse_json: bool, auth_state: dict) -> tuple[requests.Response, Any]:
        safe_url = redact_url(url)
        try:
            response = self.session.request(
                method, url, params=params, data=data, headers=self.headers,
                auth=self.auth, timeout=self.timeout,
            )
        except requests.Timeout as exc:
            log.warning("timeout on %s %s", method, safe_url)
            raise _Transient("timed out") from exc
        except requests.ConnectionError as exc:
            log.warning("connection error on %s %s", method, safe_url)
            raise _Transient("connection error") from exc
        safe_url = redact_url(response.url or url)
        if response.status_code == 429:
            wait = rate_limit_wait(response, self.retry)
            log.warning("429 on %s, waiting %.1fs", safe_url, wait)
            raise _RateLimited(wait)
        if response.status_code >= 500:
            log.warning("HTTP %s on %s", response.status_code, safe_url)
            raise _Transient(f"HTTP {response.status_code}")
        if response.status_code == 401 and not auth_state["refreshed"] and \
                hasattr(self.auth, "refresh") and self.auth.refresh():
            auth_state["refreshed"] = True
            log.info("401 on %s, credential refreshed, repeating", safe_url)
            raise _RateLimited(0.0)
        if response.status_code >= 400:
            raise HttpError(safe_url, f"HTTP {response.status_code}", response.status_code)
        if not parse_json:
            return response, None
        try:
            return response, response.json()
        except ValueError as exc:
            content_type = response.headers.get("Content-Type", "")
            if _not_json(response.content, content_type):
                log.warning("non-JSON answer (%s, %d bytes) on %s", content_type or "no type",
                            len(response.content), safe_url)
                raise HttpError(
                    safe_url, f"the answer is not JSON (HTTP {response.status_code}, Content-Type "
                    f"{content_type.split(';')[0].strip() or 'none'}, {len(response.content)} "
                    "bytes): an error or sign-in page, not the API", response.status_code,
                    unsupported=True) from exc
            log.warning("invalid JSON body (%d bytes) on %s", len(response.content), safe_url)
            raise _Transient("truncated or invalid JSON body") from exc

    def request(self, method: str, path_or_url: str, *, params: dict | None = None,
                data: Any = None, parse_json: bool = True) -> tuple[requests.Response, Any]:
        """Send with retries; returns the response and its parsed JSON (or None)."""
        url = self.url_for(path_or_url)
        self._transient_count = 0
        self._rate_limited_count = 0
        auth_state = {"refreshed": False}
        retrying = Retrying(
            retry=retry_if_exception_type((_Transient, _RateLimited)),
            stop=self._stop, wait=self._wait, sleep=self.sleep, reraise=True,
        )
        try:
            return retrying(self._send_once, method, url, params, data, parse_json, auth_state)
        except _Transient as exc:
            raise HttpError(redact_url(url), f"{exc} (after {self._transient_count} attempts)") \
                from exc
        except _RateLimited as exc:
            raise HttpError(redact_url(url), "still rate limited after "
                            f"{self.retry.rate_limit_max_waits} waits", 429) from exc

    def get_json(self, path_or_url: str, params: dict | None = None) -> Any:
        return self.request("GET", path_or_url, params=params)[1]

    def paginate(self, path: str, paginator: BasePaginator, *, params: dict | None = None,
                 max_pages: int = 100_000) -> Iterator[Page]:
        """Yield pages until the paginator says there are no more; errors name the page."""
        request = PageRequest(url=self.url_for(path), params=dict(params or {}))
        paginator.init_request(request)
        for number in range(1, max_pages + 1):
            try:
                response, data = self.request("GET", request.url, params=request.params)
            except HttpError as exc:
                raise PageError(path, number, exc.reason, exc.status,
                                unsupported=exc.unsupported) from exc
            try:
                paginator.update_state(response, data)
            except PaginationError as exc:
                raise PageError(path, number, str(exc)) from exc
            yield Page(number, redact_url(response.url), response, data)
            if not paginator.has_next_page:
                return
            paginator.update_request(request)
            request.url = self.url_for(request.url)
        raise PageError(path, max_pages + 1, f"more than {max_pages} pages; stopped")

    def close(self) -> None:
        self.session.close()


class PageError(Exception):
    """A page that could not be fetched: names the endpoint and the 1-based page number.

    ``unsupported``: the page came, in a shape the adapter does not speak (not JSON, or not the
    API version's response schema); adapters report it as ``UNSUPPORTED_RESPONSE``.
    """

    def __init__(self, endpoint: str, page: int, reason: str, status: int | None = None, *,
                 unsupported: bool = False) -> None:
        super().__init__(f"{endpoint} page {page}: {reason}")
        self.endpoint = endpoint
        self.page = page
        self.reason = reason
        self.status = status
        self.unsupported = unsupported

    @property
    def error_code(self) -> str:
        return "UNSUPPORTED_RESPONSE" if self.unsupported else "FETCH_INCOMPLETE"


def _not_json(body: bytes, content_type: str) -> bool:
    """A body that is no attempt at JSON: markup, or a declared non-JSON type. (A JSON type
    whose body does not parse is taken as truncated and retried.)"""
    if body.lstrip()[:1] == b"<":
        return True
    media = content_type.split(";")[0].strip().lower()
    return bool(media) and "json" not in media


class BearerAuth(requests.auth.AuthBase):
    """``Authorization: Bearer <token>``; the token never appears in a repr or a log line."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(token=***)"


class OAuth2ClientCredentials(requests.auth.AuthBase):
    """OAuth 2 client-credentials bearer auth: token fetched once, cached, refreshed shortly
    before expiry or after a 401 (via :meth:`refresh`). Secrets never appear in logs or reprs.
    """

    def __init__(self, token_url: str, client_id: str, client_secret: str, *,
                 scope: str | None = None, timeout: tuple[float, float] = (5.0, 30.0),
                 expiry_margin_s: float = 30.0, clock: Callable[[], float] = time.monotonic,
                 ) -> None:
        self.token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self.scope = scope
        self.timeout = timeout
        self.expiry_margin_s = expiry_margin_s
        self.clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self.tokens_fetched = 0

    def _fetch(self) -> None:
        data = {"grant_type": "client_credentials"}
        if self.scope:
            data["scope"] = self.scope
        safe_url = redact_url(self.token_url)
        try:
            response = requests.post(self.token_url, data=data, timeout=self.timeout,
                                     auth=(self._client_id, self._client_secret))
        except requests.RequestException as exc:
            raise HttpError(safe_url, f"token request failed ({type(exc).__name__})") from exc
        if response.status_code != 200:
            raise HttpError(safe_url, f"token request answered HTTP {response.status_code}",
                            response.status_code)
        try:
            body = response.json()
            self._token = str(body["access_token"])
        except (ValueError, KeyError, TypeError) as exc:
            raise HttpError(safe_url, "token response has no access_token") from exc
        expires_in = float(body.get("expires_in") or 3600)
        self._expires_at = self.clock() + expires_in
        self.tokens_fetched += 1
        log.info("OAuth2 token obtained from %s (expires in %.0fs)", safe_url, expires_in)

    def refresh(self) -> bool:
        self._token = None
        self._fetch()
        return True

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._token is None or self.clock() >= self._expires_at - self.expiry_margin_s:
            self._fetch()
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return f"OAuth2ClientCredentials(token_url={redact_url(self.token_url)!r}, secret=***)"
