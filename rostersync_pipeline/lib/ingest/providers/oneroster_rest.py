"""OneRoster REST 1.1 (OAuth 1.0a) and 1.2 (OAuth 2 client credentials), landed into the SAME
``raw.oneroster_*`` tables the CSV adapter fills, so the OneRoster staging models serve both.

- 1.1: every request is signed with OAuth 1.0a HMAC-SHA256 (``requests-oauthlib``); the
  signature covers every query parameter (``limit``, ``offset``, ``filter``).
- 1.2: a client-credentials token is fetched, cached, and refreshed before expiry or after a 401.
- Pages: ``limit`` / ``offset``, honouring ``X-Total-Count`` and ``Link: rel=next``.
- Deltas: ``modified_since`` adds ``filter=dateLastModified>'…'`` and marks entities ``delta``.
- Each JSON object is flattened to the CSV spec columns (references -> sourcedIds, lists
  comma-joined, ``userIds`` as ``{type:identifier}``) and kept whole in ``_ext``. In 1.2 a
  user's orgs and role come from its ``roles`` (primary first), which also land in
  ``raw.oneroster_roles``.
- Every page is checked against the version's response shape before it lands
  (:mod:`oneroster_shapes`): a page in another shape (the other version's users, an HTML page
  with status 200, no collection list, a record without its ``sourcedId``) lands nothing of
  itself, stops its collection and is one ``UNSUPPORTED_RESPONSE`` problem.
- Passwords are never kept unless ``keep_passwords``: a user's ``password`` is not landed, and
  every key holding "password" (``userProfiles[].credentials[].password`` included) is removed
  from the JSON kept in ``_ext``.
- Fail closed, as for Clever: a page that fails after retries is a problem naming endpoint and
  page, and the result is incomplete.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Literal

import duckdb
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256
from pydantic import Field, model_validator
from requests_oauthlib import OAuth1

from rostersync_pipeline.lib.ingest.http import (
    HttpClient,
    OAuth2ClientCredentials,
    OffsetPaginator,
    PageError,
    RetryPolicy,
)
from rostersync_pipeline.lib.ingest.landing import (
    EntityMode,
    FetchProblem,
    FetchResult,
    last_good_run_start,
)
from rostersync_pipeline.lib.ingest.providers import oneroster_shapes
from rostersync_pipeline.lib.ingest.providers.base import (
    ApiSourceSettings,
    LandingContext,
    ProviderAdapter,
    register,
)
from rostersync_pipeline.lib.ingest.providers.csv_columns import is_password_column
from rostersync_pipeline.lib.ingest.providers.oneroster_csv import (
    FILE_ENTITY,
    ID_COLUMNS,
    RAW_TABLES,
    SPEC_COLUMNS,
)

log = logging.getLogger(__name__)

OneRosterVersion = Literal["1.1", "1.2"]
SERVICE_PATHS = {"1.1": "ims/oneroster/v1p1", "1.2": "ims/oneroster/rostering/v1p2"}
ENDPOINTS = ("orgs", "academicSessions", "courses", "classes", "users", "enrollments")
OPTIONAL_ENDPOINTS = ("demographics",)

# (file, spec column) -> (JSON key, how to flatten it) where the two differ.
FLATTEN: dict[tuple[str, str], tuple[str, str]] = {
    ("orgs", "parentSourcedId"): ("parent", "ref"),
    ("users", "orgSourcedIds"): ("orgs", "refs"),
    ("users", "agentSourcedIds"): ("agents", "refs"),
    ("users", "userIds"): ("userIds", "user_ids"),
    ("users", "primaryOrgSourcedId"): ("primaryOrg", "ref"),
    ("users", "preferredGivenName"): ("preferredFirstName", "value"),
    ("users", "preferredFamilyName"): ("preferredLastName", "value"),
    ("classes", "courseSourcedId"): ("course", "ref"),
    ("classes", "schoolSourcedId"): ("school", "ref"),
    ("classes", "termSourcedIds"): ("terms", "refs"),
    ("courses", "schoolYearSourcedId"): ("schoolYear", "ref"),
    ("courses", "orgSourcedId"): ("org", "ref"),
    ("enrollments", "classSourcedId"): ("class", "ref"),
    ("enrollments", "schoolSourcedId"): ("school", "ref"),
    ("enrollments", "userSourcedId"): ("user", "ref"),
    ("academicSessions", "parentSourcedId"): ("parent", "ref"),
}


def _scalar(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return value.get("sourcedId") if "sourcedId" in value else json.dumps(value)
    if isinstance(value, list):
        return ",".join(s for s in (_scalar(v) for v in value) if s is not None)
    return str(value)


def _ref(value: Any) -> str | None:
    return value.get("sourcedId") if isinstance(value, dict) else _scalar(value)


def _flatten_value(obj: dict, file: str, column: str) -> str | None:
    key, kind = FLATTEN.get((file, column), (column, "value"))
    value = obj.get(key)
    if value is None and kind == "value" and column.startswith("preferred"):
        value = obj.get(column)
    if kind == "ref":
        return _ref(value)
    if kind == "refs":
        return ",".join(r for r in (_ref(v) for v in value or []) if r) or None
    if kind == "user_ids":
        return ",".join(f"{{{u.get('type', '')}:{u.get('identifier', '')}}}"
                        for u in value or [] if isinstance(u, dict)) or None
    return _scalar(value)


def _roles_of(user: dict) -> list[dict]:
    roles = [r for r in user.get("roles") or [] if isinstance(r, dict)]
    return sorted(roles, key=lambda r: r.get("roleType") != "primary")


def flatten(obj: dict, file: str, version: OneRosterVersion) -> dict[str, str | None]:
    """One OneRoster JSON object -> the CSV spec columns of its file."""
    row = {column: _flatten_value(obj, file, column) for column in SPEC_COLUMNS[file]}
    if file == "users" and version == "1.2":
        roles = _roles_of(obj)
        orgs = [_ref(r.get("org")) for r in roles]
        row["orgSourcedIds"] = ",".join(dict.fromkeys(o for o in orgs if o)) or None
        if roles and not row.get("role"):
            row["role"] = _scalar(roles[0].get("role"))
        if not row.get("primaryOrgSourcedId") and orgs:
            row["primaryOrgSourcedId"] = orgs[0]
    return row


def without_passwords(value: Any) -> Any:
    """``value`` with every key whose name holds "password" removed, at any depth."""
    if isinstance(value, dict):
        return {k: without_passwords(v) for k, v in value.items()
                if not (isinstance(k, str) and is_password_column(k))}
    if isinstance(value, list):
        return [without_passwords(v) for v in value]
    return value


def role_rows(user: dict) -> list[dict[str, str | None]]:
    """OneRoster 1.2 ``user.roles[]`` as ``roles.csv`` rows (their ID is user:org:role)."""
    rows = []
    for role in _roles_of(user):
        org = _ref(role.get("org"))
        rows.append({
            "sourcedId": f"{user.get('sourcedId')}:{org}:{role.get('role')}",
            "status": _scalar(user.get("status")),
            "dateLastModified": _scalar(user.get("dateLastModified")),
            "userSourcedId": _scalar(user.get("sourcedId")),
            "roleType": _scalar(role.get("roleType")),
            "role": _scalar(role.get("role")),
            "beginDate": _scalar(role.get("beginDate")),
            "endDate": _scalar(role.get("endDate")),
            "orgSourcedId": org,
            "userProfileSourcedId": _ref(role.get("userProfile")),
        })
    return rows


def land_rows(con: duckdb.DuckDBPyConnection, file: str, rows: list[dict],
              ext: list[str | None], *, run_id: str, source_file: str, first_row: int) -> int:
    if not rows:
        return 0
    columns = SPEC_COLUMNS[file]
    import pyarrow as pa  # only a REST landing needs it: not imported by every process

    table = pa.table({
        **{c: pa.array([r.get(c) for r in rows], pa.string()) for c in columns},
        "rs_ext": pa.array(ext, pa.string()),
        "rs_row": pa.array(range(first_row, first_row + len(rows)), pa.int64()),
    })
    con.register("rs_oneroster_page", table)
    quoted = ", ".join(f'"{c}"' for c in columns)
    try:
        con.execute(
            f"insert into raw.oneroster_{file.lower()} ({quoted}, _run_id, _source_file, "
            f"_source_row, _ext) select {quoted}, $run_id, $file, rs_row, rs_ext::json "
            "from rs_oneroster_page",
            {"run_id": run_id, "file": source_file},
        )
    finally:
        con.unregister("rs_oneroster_page")
    return len(rows)


def make_client(base_url: str, version: OneRosterVersion, client_id: str, client_secret: str,
                *, token_url: str | None = None, scope: str | None = None,
                timeout_s: float = 60.0, retry: RetryPolicy | None = None) -> HttpClient:
    root = base_url.rstrip("/")
    timeout = (min(10.0, timeout_s), timeout_s)
    if version == "1.1":
        auth: Any = OAuth1(client_id, client_secret=client_secret,
                           signature_method=SIGNATURE_HMAC_SHA256)
    elif version == "1.2":
        auth = OAuth2ClientCredentials(token_url or f"{root}/token", client_id, client_secret,
                                       scope=scope, timeout=timeout)
    else:
        raise ValueError(f"oneroster_version must be '1.1' or '1.2', not {version!r}")
    return HttpClient(base_url=f"{root}/{SERVICE_PATHS[version]}", auth=auth,
                      timeout=timeout, retry=retry or RetryPolicy())


def land_endpoint(con: duckdb.DuckDBPyConnection, client: HttpClient, endpoint: str, *,
                  version: OneRosterVersion, run_id: str, page_limit: int,
                  params: dict[str, str], keep_passwords: bool = False,
                  ) -> tuple[int, int, PageError | None]:
    """Land one collection (and, for 1.2 users, their roles): (rows, role rows, failure)."""
    landed = roles_landed = 0
    try:
        for page in client.paginate(endpoint, OffsetPaginator(page_limit, items_key=endpoint),
                                    params=params):
            problem = oneroster_shapes.page_problem(endpoint, page.data, version)
            if problem:
                raise PageError(endpoint, page.number, problem, unsupported=True)
            objects = page.data[endpoint]
            if not keep_passwords and endpoint == "users":
                objects = [without_passwords(o) for o in objects]
            rows = [flatten(o, endpoint, version) for o in objects]
            ext = [json.dumps(o, separators=(",", ":")) for o in objects]
            landed += land_rows(con, endpoint, rows, ext, run_id=run_id, source_file=endpoint,
                                first_row=landed + 1)
            if endpoint == "users" and version == "1.2":
                roles = [r for o in objects for r in role_rows(o)]
                roles_landed += land_rows(con, "roles", roles, [None] * len(roles),
                                          run_id=run_id, source_file="users.roles",
                                          first_row=roles_landed + 1)
    except PageError as exc:
        log.warning("oneroster %s: page %s failed (%s); %d rows landed before it",
                    endpoint, exc.page, exc.reason, landed)
        return landed, roles_landed, exc
    log.info("oneroster %s: %d rows landed", endpoint, landed)
    return landed, roles_landed, None


def fetch_and_land(
    con: duckdb.DuckDBPyConnection, *, run_id: str, base_url: str, client_id: str,
    client_secret: str, oneroster_version: OneRosterVersion = "1.1", page_limit: int = 1000,
    modified_since: str | None = None, token_url: str | None = None, scope: str | None = None,
    timeout_s: float = 60.0, retry: RetryPolicy | None = None, keep_passwords: bool = False,
) -> FetchResult:
    """Fetch one district from a OneRoster REST service into ``raw.oneroster_*``."""
    if not (base_url and client_id and client_secret):
        raise ValueError("oneroster_rest needs base_url, client_id and client_secret")
    client = make_client(base_url, oneroster_version, client_id, client_secret,
                         token_url=token_url, scope=scope, timeout_s=timeout_s, retry=retry)
    params = {"filter": f"dateLastModified>'{modified_since}'"} if modified_since else {}
    mode: EntityMode = "delta" if modified_since else "bulk"
    for file in SPEC_COLUMNS:
        con.execute(f"delete from raw.oneroster_{file.lower()}")
    result = FetchResult(provider="oneroster_rest",
                         entity_modes={e: "absent" for e in FILE_ENTITY.values()})
    auth_failed = False
    for endpoint in (*ENDPOINTS, *OPTIONAL_ENDPOINTS):
        if auth_failed:
            result.problems.append(FetchProblem(
                f"oneroster {endpoint}", "not fetched: credentials were rejected earlier",
                record_type="endpoint"))
            continue
        landed, roles, failure = land_endpoint(con, client, endpoint, version=oneroster_version,
                                               run_id=run_id, page_limit=page_limit,
                                               params=params, keep_passwords=keep_passwords)
        result.row_counts[f"oneroster_{endpoint.lower()}"] = landed
        if endpoint == "users" and oneroster_version == "1.2":
            result.row_counts["oneroster_roles"] = roles
        if endpoint in FILE_ENTITY:
            result.entity_modes[FILE_ENTITY[endpoint]] = mode
            result.row_counts[FILE_ENTITY[endpoint]] = landed
        if failure is None:
            continue
        optional_missing = endpoint in OPTIONAL_ENDPOINTS and failure.status in (403, 404)
        result.problems.append(FetchProblem(
            f"oneroster {endpoint} page {failure.page}", failure.reason,
            record_type="endpoint", blocks_deactivation=not optional_missing,
            error_code="ENDPOINT_NOT_OFFERED" if optional_missing else failure.error_code,
        ))
        auth_failed = failure.status in (401, 403) and not optional_missing
    client.close()
    return result


class OneRosterRestSource(ApiSourceSettings):
    """``source: {type: oneroster_rest, base_url, client_id_env, client_secret_env, ...}``."""

    type: Literal["oneroster_rest"] = "oneroster_rest"
    client_id_env: str | None = None
    client_secret_env: str | None = None
    oneroster_version: OneRosterVersion = "1.1"
    token_url: str | None = Field(default=None, description="OneRoster 1.2 OAuth2 token URL.")
    scope: str | None = None
    delta: bool = Field(default=False, description="OneRoster REST: dateLastModified deltas.")
    keep_passwords: bool = Field(
        default=False,
        description="Land users' passwords (a risk: they then sit in raw tables and archives). "
        "Only for an app that sets initial passwords from the SIS.",
    )

    @model_validator(mode="after")
    def _names_its_service(self) -> OneRosterRestSource:
        missing = [key for key in ("base_url", "client_id_env", "client_secret_env")
                   if not getattr(self, key)]
        if missing:
            raise ValueError(f"a oneroster_rest source needs {', '.join(missing)}")
        return self


@register
class OneRosterRestAdapter(ProviderAdapter):
    source_type = "oneroster_rest"
    config_model = OneRosterRestSource
    raw_tables = RAW_TABLES
    id_columns = ID_COLUMNS

    def secret_envs(self, source: OneRosterRestSource) -> dict[str, str]:
        return {name: env for name, env in (("client_id", source.client_id_env),
                                             ("client_secret", source.client_secret_env)) if env}

    def land(self, con: duckdb.DuckDBPyConnection, source: OneRosterRestSource,
             context: LandingContext) -> FetchResult:
        return fetch_and_land(
            con, run_id=context.run_id, base_url=source.base_url or "",
            client_id=context.secrets.get("client_id", ""),
            client_secret=context.secrets.get("client_secret", ""),
            oneroster_version=source.oneroster_version, page_limit=source.page_limit,
            modified_since=last_good_run_start(con) if source.delta else None,
            token_url=source.token_url, scope=source.scope, timeout_s=source.timeout_s,
            retry=source.retry_policy(), keep_passwords=source.keep_passwords,
        )
