"""A Clever API v3 stand-in serving the shared #DEMO district with real cursor pagination.

Users, sections and the district come from ``clever-v3-demo-district``; schools, terms and
courses (which that sample lacks) are derived from the IDs the users and sections refer to.
Pages follow Clever: ``limit`` and ``starting_after``, a ``links`` list with ``self`` and
``next``. Every request is counted per (endpoint, page); faults come from :class:`Faults`.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from rostersync_pipeline_tests.fakes import CLEVER_DEMO_DIR, FakeServer

MAX_LIMIT = 10_000


def _load(name: str, data_dir: Path) -> list[dict]:
    body = json.loads((data_dir / name).read_text(encoding="utf-8"))
    return [row["data"] for row in body["data"]]


def derived_objects(users: list[dict], sections: list[dict], district_id: str) -> dict:
    school_ids = sorted({s for u in users for role in u["roles"].values()
                         for s in role.get("schools", [])} | {s["school"] for s in sections})
    term_ids = sorted({s["term_id"] for s in sections if s.get("term_id")})
    course_ids = sorted({s["course"] for s in sections if s.get("course")})
    return {
        "schools": [{"id": sid, "district": district_id, "name": f"Demo School {n}",
                     "sis_id": f"SCH{n}", "state_id": f"ST{n}", "nces_id": f"NCES{n}",
                     "school_number": str(n)} for n, sid in enumerate(school_ids, 1)],
        "terms": [{"id": tid, "district": district_id, "name": f"Term {n}",
                   "start_date": "2020-08-01", "end_date": "2021-06-30"}
                  for n, tid in enumerate(term_ids, 1)],
        "courses": [{"id": cid, "district": district_id, "name": f"Course {n}",
                     "number": str(100 + n)} for n, cid in enumerate(course_ids, 1)],
    }


class CleverServer(FakeServer):
    """Serve ``/v3.0/<endpoint>`` (and ``/v3.1``) for one bearer token."""

    def __init__(self, token: str = "demo-token", data_dir: Path = CLEVER_DEMO_DIR,
                 district_state: str | None = None) -> None:
        super().__init__()
        self.token = token
        districts = _load("districts.json", data_dir)
        if district_state is not None:
            districts = [{**d, "state": district_state} for d in districts]
        users = _load("users.json", data_dir)
        sections = _load("sections.json", data_dir)
        self.collections: dict[str, list[dict]] = {
            "districts": districts, "users": users, "sections": sections,
            **derived_objects(users, sections, districts[0]["id"]),
        }
        self.seen_limits: list[int] = []

    def page_of(self, endpoint: str, limit: int, starting_after: str | None) -> tuple[int, int]:
        """(page number, index of its first row) for a cursor."""
        rows = self.collections[endpoint]
        start = 0
        if starting_after:
            ids = [r["id"] for r in rows]
            start = ids.index(starting_after) + 1 if starting_after in ids else -1
        return (start // limit + 1 if start >= 0 else 0), start

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        segments = parts.path.strip("/").split("/")
        if len(segments) != 2 or segments[0] not in ("v3.0", "v3.1") \
                or segments[1] not in self.collections:
            self.send(handler, 404, b'{"error":"not found"}')
            return
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            self.send(handler, 401, b'{"error":"invalid token"}')
            return
        version, endpoint = segments
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        limit = int(query.get("limit", 100))
        self.seen_limits.append(limit)
        if not 1 <= limit <= MAX_LIMIT:
            self.send(handler, 400, b'{"error":"limit out of range"}')
            return
        page, start = self.page_of(endpoint, limit, query.get("starting_after"))
        if start < 0:
            self.send(handler, 400, b'{"error":"unknown starting_after"}')
            return
        rows = self.collections[endpoint][start:start + limit]
        base = f"/{version}/{endpoint}?limit={limit}"
        self_uri = base + (f"&starting_after={query['starting_after']}"
                           if query.get("starting_after") else "")
        links = [{"rel": "self", "uri": self_uri}]
        if start + limit < len(self.collections[endpoint]):
            links.append({"rel": "next", "uri": f"{base}&starting_after={rows[-1]['id']}"})
        body = json.dumps({
            "data": [{"data": row, "uri": f"/{version}/{endpoint}/{row['id']}"} for row in rows],
            "links": links,
        }).encode()
        self.apply_faults(handler, (endpoint, page), body, {})
