"""Clever Secure Sync API v3.0 / v3.1, landed into ``raw.clever_*`` (``id``, ``data`` JSON).

- The district comes first: a district whose ``state`` is not healthy (``paused``, ``error``,
  ``pending``…) lands nothing and returns that state, so nothing is deactivated.
- Then schools, users (every role), sections (their ``students[]`` / ``teachers[]`` become
  enrollments in staging), terms and courses, ``limit`` up to 10,000 per page, following the
  body's ``links`` (``rel: next`` with ``starting_after``).
- Every page is checked against the v3 response shape before it lands
  (:mod:`clever_shapes`): a page in another shape (an older API version, an HTML page with
  status 200, no ``data`` list, a record without its ``id``) lands nothing of itself, stops its
  endpoint and is one ``UNSUPPORTED_RESPONSE`` problem naming endpoint, page and what is wrong.
- Fail closed: a page that still fails after retries, an auth failure midway, a truncated or
  invalid JSON body, or a broken cursor is a :class:`FetchProblem` naming the endpoint and the
  page; the entity stays marked as fetched (``bulk``) and the result is incomplete.
- Only counts and Clever IDs are logged; the bearer token never is.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import duckdb
from pydantic import Field, model_validator

from rostersync_pipeline.lib.ingest.http import (
    BearerAuth,
    HttpClient,
    HttpError,
    JsonLinksCursorPaginator,
    PageError,
    RetryPolicy,
)
from rostersync_pipeline.lib.ingest.landing import EntityMode, FetchProblem, FetchResult
from rostersync_pipeline.lib.ingest.providers import clever_events, clever_shapes
from rostersync_pipeline.lib.ingest.providers.base import (
    ApiSourceSettings,
    LandingContext,
    ProviderAdapter,
    register,
)
from rostersync_pipeline.lib.ingest.providers.clever_records import land_records

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.clever.com"
API_VERSIONS = ("v3.0", "v3.1")
MAX_PAGE_LIMIT = 10_000
HEALTHY_DISTRICT_STATES = frozenset({"running", "success"})

# Clever endpoint -> the canonical entity it feeds.
ENDPOINT_ENTITY = {
    "schools": "schools",
    "users": "users",
    "sections": "sections",
    "terms": "terms",
    "courses": "courses",
}
RAW_COLUMNS = ("id", "data")
RAW_TABLES: dict[str, tuple[str, ...]] = {
    f"clever_{endpoint}": RAW_COLUMNS for endpoint in ("districts", *ENDPOINT_ENTITY, "events")
}
RAW_COLUMN_TYPES: dict[str, dict[str, str]] = {table: {"data": "json"} for table in RAW_TABLES}
ID_COLUMNS: dict[str, tuple[str, ...]] = {table: ("id",) for table in RAW_TABLES}


def api_root(base_url: str | None, api_version: str = "v3.0") -> str:
    """``https://api.clever.com/v3.0`` from a base URL with or without the version."""
    root = (base_url or DEFAULT_BASE_URL).rstrip("/")
    if root.rsplit("/", 1)[-1] in API_VERSIONS:
        return root
    if api_version not in API_VERSIONS:
        raise ValueError(f"Clever api_version must be one of {API_VERSIONS}, not {api_version!r}")
    return f"{root}/{api_version}"


def checked_records(endpoint: str, page_number: int, body: Any, version: str) -> list[dict]:
    """The objects of one list page, once the page has the v3 shape; raises an unsupported
    :class:`PageError` (nothing of the page is landed) when it has not."""
    problem = clever_shapes.page_problem(endpoint, body, version)
    if problem:
        raise PageError(endpoint, page_number, problem, unsupported=True)
    return [row["data"] for row in body["data"]]


def _problem(endpoint: str, exc: PageError) -> FetchProblem:
    return FetchProblem(
        location=f"clever {endpoint} page {exc.page}",
        reason=exc.reason,
        error_code=exc.error_code,
        record_type="endpoint",
    )


def fetch_district_state(client: HttpClient, version: str = "v3.0") -> tuple[str, list[dict]]:
    """The district's sync state and its records (a token sees exactly one district)."""
    try:
        body = client.get_json("districts")
    except HttpError as exc:
        raise PageError("districts", 1, exc.reason, exc.status,
                        unsupported=exc.unsupported) from exc
    districts = checked_records("districts", 1, body, version)
    if not districts:
        return "missing", []
    states = {str(d.get("state") or "running").lower() for d in districts}
    unhealthy = sorted(states - HEALTHY_DISTRICT_STATES)
    return (unhealthy[0] if unhealthy else "healthy"), districts


def land_endpoint(
    con: duckdb.DuckDBPyConnection, client: HttpClient, endpoint: str, *,
    run_id: str, page_limit: int, version: str = "v3.0",
) -> tuple[int, PageError | None]:
    """Land every page of one list endpoint; returns rows landed and the failure, if any."""
    table = f"clever_{endpoint}"
    landed = 0
    paginator = JsonLinksCursorPaginator(limit=page_limit)
    try:
        for page in client.paginate(endpoint, paginator):
            records = checked_records(endpoint, page.number, page.data, version)
            landed += land_records(con, table, records, run_id=run_id, source_file=endpoint,
                                   first_row=landed + 1)
    except PageError as exc:
        log.warning("clever %s: page %s failed (%s); %d rows landed before it",
                    endpoint, exc.page, exc.reason, landed)
        return landed, exc
    log.info("clever %s: %d rows landed", endpoint, landed)
    return landed, None


def enrollment_count(con: duckdb.DuckDBPyConnection) -> int:
    rows = con.execute(
        "select coalesce(sum(coalesce(json_array_length(data, '$.students'), 0) "
        "+ coalesce(json_array_length(data, '$.teachers'), 0)), 0) from raw.clever_sections"
    ).fetchall()
    return int(rows[0][0])


def fetch_and_land(
    con: duckdb.DuckDBPyConnection, *, run_id: str, token: str, base_url: str | None = None,
    api_version: str = "v3.0", page_limit: int = 1000, timeout_s: float = 60.0,
    retry: RetryPolicy | None = None, client: HttpClient | None = None,
    events: bool = False, full_sync_every_days: float = 7.0,
) -> FetchResult:
    """Fetch one Clever district with its bearer token and land it into ``raw.clever_*``."""
    if not token:
        raise ValueError("a Clever district bearer token is required (source.token_env)")
    if not 1 <= page_limit <= MAX_PAGE_LIMIT:
        raise ValueError(f"page_limit must be between 1 and {MAX_PAGE_LIMIT}")
    root = api_root(base_url, api_version)
    version = root.rsplit("/", 1)[-1]
    client = client or HttpClient(
        base_url=root, auth=BearerAuth(token),
        timeout=(min(10.0, timeout_s), timeout_s), retry=retry or RetryPolicy(),
    )
    entity_modes: dict[str, EntityMode] = {e: "absent" for e in (*ENDPOINT_ENTITY.values(),
                                                                  "enrollments")}
    result = FetchResult(provider="clever_api", entity_modes=entity_modes)
    try:
        state, districts = fetch_district_state(client, version)
    except PageError as exc:
        state, districts = "unreachable", []
        result.problems.append(_problem("districts", exc))
    if state != "healthy":
        return _unhealthy(con, result, state)
    if events:
        cursor = clever_events.read_cursor(con)
        reason = clever_events.full_sync_reason(cursor, full_sync_every_days)
        if reason is None and cursor is not None:
            try:
                return _events_run(con, client, cursor, result, run_id=run_id,
                                   page_limit=page_limit, version=version)
            except clever_events.CursorRejected as exc:
                reason = f"Clever rejected the event cursor ({exc})"
        log.info("clever: full sync (%s)", reason)
    newest_read, newest = clever_events.newest_event_or_none(client) if events else (False, None)
    full_sync_started = clever_events.utc_now()
    for table in RAW_TABLES:
        con.execute(f"delete from raw.{table}")
    land_records(con, "clever_districts", districts, run_id=run_id, source_file="districts",
                 first_row=1)
    _land_all(con, client, result, run_id=run_id, page_limit=page_limit, version=version)
    if events and newest_read and result.complete:
        clever_events.save_cursor(con, run_id, newest, full_sync_at=full_sync_started)
    elif events:
        clever_events.reset_cursor(con)
    return result


def _unhealthy(con: duckdb.DuckDBPyConnection, result: FetchResult, state: str) -> FetchResult:
    """A district Clever does not report healthy: nothing landed, the next run syncs in full."""
    for table in RAW_TABLES:
        con.execute(f"delete from raw.{table}")
    clever_events.reset_cursor(con)
    result.provider_state = state
    if state != "unreachable":
        log.warning("clever district state is %r: nothing landed", state)
        result.problems.append(FetchProblem(
            "clever districts", f"district sync state is {state!r}; nothing was landed",
            error_code="PROVIDER_NOT_HEALTHY", record_type="endpoint",
        ))
    return result


def _land_all(con: duckdb.DuckDBPyConnection, client: HttpClient, result: FetchResult, *,
              run_id: str, page_limit: int, version: str) -> None:
    entity_modes = result.entity_modes
    auth_failed = False
    for endpoint, entity in ENDPOINT_ENTITY.items():
        if auth_failed:
            result.problems.append(FetchProblem(
                f"clever {endpoint}", "not fetched: the token was rejected earlier in this run",
                record_type="endpoint"))
            continue
        landed, failure = land_endpoint(con, client, endpoint, run_id=run_id,
                                        page_limit=page_limit, version=version)
        entity_modes[entity] = "bulk"
        result.row_counts[entity] = landed
        result.row_counts[f"clever_{endpoint}"] = landed
        if failure is not None:
            result.problems.append(_problem(endpoint, failure))
            auth_failed = failure.status in (401, 403)
    if entity_modes["sections"] == "bulk":
        entity_modes["enrollments"] = "bulk"
        result.row_counts["enrollments"] = enrollment_count(con)


def _events_run(con: duckdb.DuckDBPyConnection, client: HttpClient,
                cursor: clever_events.Cursor, result: FetchResult, *, run_id: str,
                page_limit: int, version: str) -> FetchResult:
    """Apply the events since the cursor onto the last landing; every entity is ``delta``."""
    applied, failure = clever_events.run_events(con, client, cursor, run_id=run_id,
                                                page_limit=page_limit, version=version)
    for entity in result.entity_modes:
        result.entity_modes[entity] = "delta"
        result.row_counts[entity] = applied.get(entity, 0)
    result.row_counts["clever_events"] = sum(applied.values())
    if failure is not None:
        result.problems.append(_problem("events", failure))
    return result


class CleverApiSource(ApiSourceSettings):
    """``source: {type: clever_api, token_env, ...}``: Clever Secure Sync API v3.0 / v3.1."""

    type: Literal["clever_api"] = "clever_api"
    token_env: str | None = Field(default=None, description="Env var holding a bearer token.")
    api_version: Literal["v3.0", "v3.1"] = "v3.0"
    events: bool = Field(default=False, description="Clever: events between full syncs.")
    full_sync_every_days: float = Field(default=7, gt=0, le=30)

    @model_validator(mode="after")
    def _names_its_token(self) -> CleverApiSource:
        if not self.token_env:
            raise ValueError("a clever_api source needs token_env (the environment variable "
                             "holding the district's bearer token)")
        return self


@register
class CleverApiAdapter(ProviderAdapter):
    source_type = "clever_api"
    config_model = CleverApiSource
    raw_tables = RAW_TABLES
    raw_column_types = RAW_COLUMN_TYPES
    id_columns = ID_COLUMNS

    def secret_envs(self, source: CleverApiSource) -> dict[str, str]:
        return {"token": source.token_env} if source.token_env else {}

    def land(self, con: duckdb.DuckDBPyConnection, source: CleverApiSource,
             context: LandingContext) -> FetchResult:
        return fetch_and_land(
            con, run_id=context.run_id, token=context.secrets.get("token", ""),
            base_url=source.base_url, api_version=source.api_version,
            page_limit=source.page_limit, timeout_s=source.timeout_s,
            retry=source.retry_policy(), events=source.events,
            full_sync_every_days=source.full_sync_every_days,
        )
