"""A OneRoster REST stand-in: 1.1 with OAuth 1.0a (signatures verified with oauthlib) and 1.2
with OAuth 2 client credentials (``POST /token``), limit/offset pages with ``X-Total-Count``
and ``Link`` headers, ``filter=dateLastModified>'…'``, and the faults of :class:`Faults`.

The roster is the shared Clever #DEMO district re-expressed as OneRoster objects: schools as
orgs, students and teachers as users (1.2: with ``roles``), sections as classes, their
members as enrollments, terms as academicSessions. ``OneRosterServer(collections=...)`` serves
given objects instead (collection name -> OneRoster JSON objects; a ``demographics`` collection
is then offered too).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlencode, urlsplit

from oauthlib.oauth1 import RequestValidator, SignatureOnlyEndpoint

from rostersync_pipeline_tests.fakes import CLEVER_DEMO_DIR, FakeServer
from rostersync_pipeline_tests.fakes.clever_server import _load, derived_objects

PATHS = {"v1p1": "1.1", "v1p2": "1.2"}
MODIFIED = "2024-01-10T00:00:00.000Z"
FILTER = re.compile(r"^dateLastModified>'([^']+)'$")


def _ref(sourced_id: str, kind: str) -> dict:
    return {"href": f"/{kind}/{sourced_id}", "sourcedId": sourced_id, "type": kind}


def demo_roster(version: str) -> dict[str, list[dict]]:
    users = _load("users.json", CLEVER_DEMO_DIR)
    sections = _load("sections.json", CLEVER_DEMO_DIR)
    district = _load("districts.json", CLEVER_DEMO_DIR)[0]
    derived = derived_objects(users, sections, district["id"])
    base = {"status": "active", "dateLastModified": MODIFIED}
    orgs = [{**base, "sourcedId": district["id"], "name": district["name"], "type": "district"}]
    orgs += [{**base, "sourcedId": s["id"], "name": s["name"], "type": "school",
              "identifier": s["sis_id"], "parent": _ref(district["id"], "org")}
             for s in derived["schools"]]
    people = []
    for user in users:
        role_name, role = next(iter(user["roles"].items()))
        if role_name not in ("student", "teacher"):
            continue
        person = {
            **base, "sourcedId": user["id"], "enabledUser": True,
            "username": role.get("credentials", {}).get("district_username", ""),
            "userIds": [{"type": "SIS", "identifier": role.get("sis_id", "")}],
            "givenName": user["name"].get("first", ""), "familyName": user["name"]["last"],
            "middleName": user["name"].get("middle", ""), "identifier": role.get("sis_id"),
            "email": user.get("email", ""), "grades": [role["grade"]] if "grade" in role else [],
        }
        schools = [role["school"], *[s for s in role["schools"] if s != role["school"]]]
        if version == "1.1":
            person |= {"role": role_name, "orgs": [_ref(s, "org") for s in schools]}
        else:
            person |= {"roles": [{"roleType": "primary" if i == 0 else "secondary",
                                  "role": role_name, "org": _ref(s, "org")}
                                 for i, s in enumerate(schools)],
                       "primaryOrg": _ref(schools[0], "org")}
        people.append(person)
    classes = [{**base, "sourcedId": s["id"], "title": s["name"], "classType": "scheduled",
                "classCode": s.get("section_number", ""), "grades": [s["grade"]],
                "subjects": [s["subject"]], "course": _ref(s["course"], "course"),
                "school": _ref(s["school"], "org"), "terms": [_ref(s["term_id"], "term")],
                "periods": [s["period"]]} for s in sections]
    enrollments = [{**base, "sourcedId": f"{s['id']}-{uid}-{role}", "role": role,
                    "primary": role == "teacher", "user": _ref(uid, "user"),
                    "class": _ref(s["id"], "class"), "school": _ref(s["school"], "org")}
                   for s in sections for role, key in (("student", "students"),
                                                       ("teacher", "teachers"))
                   for uid in s.get(key, [])]
    sessions = [{**base, "sourcedId": t["id"], "title": t["name"], "type": "term",
                 "startDate": t["start_date"], "endDate": t["end_date"], "schoolYear": "2021"}
                for t in derived["terms"]]
    courses = [{**base, "sourcedId": c["id"], "title": c["name"], "courseCode": c["number"],
                "org": _ref(district["id"], "org")} for c in derived["courses"]]
    return {"orgs": orgs, "users": people, "classes": classes, "enrollments": enrollments,
            "academicSessions": sessions, "courses": courses}


class _Validator(RequestValidator):
    enforce_ssl = False

    def __init__(self, client_key: str, client_secret: str) -> None:
        super().__init__()
        self.key, self.secret = client_key, client_secret

    @property
    def allowed_signature_methods(self) -> tuple[str, ...]:
        return ("HMAC-SHA256", "HMAC-SHA1")

    @property
    def dummy_client(self) -> str:
        return "dummy-client"

    def check_client_key(self, client_key: str) -> bool:
        return True

    def check_nonce(self, nonce: str) -> bool:
        return True

    def validate_client_key(self, client_key: str, request: object) -> bool:
        return client_key == self.key

    def get_client_secret(self, client_key: str, request: object) -> str:
        return self.secret if client_key == self.key else "dummy-secret"

    def validate_timestamp_and_nonce(self, *args: object, **kwargs: object) -> bool:
        return True


def password_of(sourced_id: str) -> str:
    """The password ``OneRosterServer(with_passwords=True)`` sends for a user."""
    return f"Pw-{sourced_id[-8:]}-s3cret"


def add_passwords(users: list[dict], version: str) -> None:
    """Give every user a ``password`` (and in 1.2 a userProfile credential holding it)."""
    for user in users:
        user["password"] = password_of(user["sourcedId"])
        if version == "1.2":
            user["userProfiles"] = [{
                "profileId": f"profile-{user['sourcedId']}", "profileType": "lms",
                "vendorId": "v1", "credentials": [{
                    "type": "password", "username": user["username"],
                    "password": password_of(user["sourcedId"])}]}]


class OneRosterServer(FakeServer):
    def __init__(self, version: str = "1.1", client_id: str = "district-key",
                 client_secret: str = "district-secret", send_total: bool = True,
                 send_link: bool = True, token_ttl_s: int = 3600,
                 with_passwords: bool = False,
                 collections: dict[str, list[dict]] | None = None) -> None:
        super().__init__()
        self.version = version
        self.client_id, self.client_secret = client_id, client_secret
        self.send_total, self.send_link = send_total, send_link
        self.token_ttl_s = token_ttl_s
        self.collections = ({k: list(v) for k, v in collections.items()}
                            if collections is not None else demo_roster(version))
        if with_passwords:
            add_passwords(self.collections["users"], version)
        self.oauth1 = SignatureOnlyEndpoint(_Validator(client_id, client_secret))
        self.tokens: set[str] = set()
        self.tokens_issued = 0
        self.expire_tokens_at: tuple[str, int] | None = None
        self.rejected_signatures = 0
        self.filters_seen: list[str] = []

    def _issue_token(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        form = parse_qs(handler.rfile.read(length).decode())
        basic = handler.headers.get("Authorization", "")
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if form.get("grant_type") != ["client_credentials"] or basic != f"Basic {expected}":
            self.send(handler, 401, b'{"error":"invalid_client"}')
            return
        token = secrets.token_urlsafe(16)
        with self.lock:
            self.tokens.add(token)
            self.tokens_issued += 1
        self.send(handler, 200, json.dumps({"access_token": token, "token_type": "bearer",
                                            "expires_in": self.token_ttl_s}).encode())

    def _authorized(self, handler: BaseHTTPRequestHandler) -> bool:
        if self.version == "1.2":
            header = handler.headers.get("Authorization", "")
            return header.startswith("Bearer ") and header[7:] in self.tokens
        uri = f"http://{handler.headers['Host']}{handler.path}"
        valid, _ = self.oauth1.validate_request(uri, http_method="GET",
                                                headers=dict(handler.headers))
        if not valid:
            self.rejected_signatures += 1
        return valid

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        if parts.path == "/token" and handler.command == "POST":
            self._issue_token(handler)
            return
        match = re.match(r"^/ims/oneroster/(?:rostering/)?(v1p1|v1p2)/(\w+)$", parts.path)
        if not match or PATHS[match.group(1)] != self.version \
                or match.group(2) not in self.collections:
            self.send(handler, 404, b'{"error":"not found"}')
            return
        endpoint = match.group(2)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        limit, offset = int(query.get("limit", 100)), int(query.get("offset", 0))
        key = (endpoint, offset // limit + 1)
        if self.expire_tokens_at == key:
            with self.lock:
                self.tokens.clear()
                self.expire_tokens_at = None
        if not self._authorized(handler):
            with self.lock:
                self.requests[key] += 1
            self.send(handler, 401, b'{"error":"unauthorized"}')
            return
        rows = self.collections[endpoint]
        if "filter" in query:
            self.filters_seen.append(query["filter"])
            found = FILTER.match(query["filter"])
            if not found:
                self.send(handler, 400, b'{"error":"bad filter"}')
                return
            rows = [r for r in rows if r["dateLastModified"] > found.group(1)]
        headers = {}
        if self.send_total:
            headers["X-Total-Count"] = str(len(rows))
        if self.send_link and offset + limit < len(rows):
            next_query = {**query, "offset": str(offset + limit)}
            headers["Link"] = f'<{parts.path}?{urlencode(next_query)}>; rel="next"'
        body = json.dumps({endpoint: rows[offset:offset + limit]}).encode()
        self.apply_faults(handler, key, body, headers)
