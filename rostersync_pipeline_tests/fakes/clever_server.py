"""A Clever API v3 stand-in serving the shared #DEMO district with real cursor pagination.

Users, sections and the district come from ``clever-v3-demo-district``; schools, terms and
courses (which that sample lacks) are derived from the IDs the users and sections refer to.
``CleverServer(collections=...)`` serves given objects instead (``districts``, ``schools``,
``users``, ``sections``, ``terms``, ``courses``: lists of Clever objects), e.g. a district a
test generated.
Pages follow Clever: ``limit`` and ``starting_after``, a ``links`` list with ``self`` and
``next``. Every request is counted per (endpoint, page); faults come from :class:`Faults`.

``/events`` serves the events raised with :meth:`CleverServer.emit` (shaped like the recorded
``clever-v3-sdk-recordings`` bodies, with ``previous_attributes``), oldest first;
``ending_before=last`` answers the newest; an unknown or expired ``starting_after`` is a 404.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
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
                 district_state: str | None = None,
                 collections: dict[str, list[dict]] | None = None) -> None:
        super().__init__()
        self.token = token
        if collections is not None:
            self.collections: dict[str, list[dict]] = {k: list(v) for k, v in collections.items()}
        else:
            users = _load("users.json", data_dir)
            sections = _load("sections.json", data_dir)
            districts = _load("districts.json", data_dir)
            self.collections = {
                "districts": districts, "users": users, "sections": sections,
                **derived_objects(users, sections, districts[0]["id"]),
            }
        if district_state is not None:
            self.collections["districts"] = [{**d, "state": district_state}
                                             for d in self.collections["districts"]]
        self.seen_limits: list[int] = []
        self.events: list[dict] = []
        self._event_seq = 0x64206E4431F12F05CC490000
        self._events_next_page: dict[str, int] = {}

    def emit(self, event_type: str, obj: dict, previous_attributes: dict | None = None) -> str:
        """Raise a Clever event (``users.updated``…) and change the served data to match."""
        endpoint, action = event_type.split(".")
        rows = self.collections[endpoint]
        index = next((i for i, r in enumerate(rows) if r["id"] == obj["id"]), None)
        if action == "deleted" and index is not None:
            rows.pop(index)
        elif action in ("created", "updated"):
            if index is None:
                rows.append(obj)
            else:
                rows[index] = obj
        self._event_seq += 1
        event_id = f"{self._event_seq:024x}"
        data = {"object": obj}
        if previous_attributes is not None:
            data["previous_attributes"] = previous_attributes
        self.events.append({"created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                            "data": data, "id": event_id, "type": event_type})
        return event_id

    def expire_events(self) -> None:
        """Clever's retention: every event raised so far is gone."""
        self.events.clear()

    def events_page(self, version: str, query: dict[str, str], limit: int
                    ) -> tuple[int, bytes] | None:
        """(page number, body) of ``/events``, or None for an unknown ``starting_after``."""
        ids = [e["id"] for e in self.events]
        after = query.get("starting_after")
        if query.get("ending_before") == "last":
            start = max(len(ids) - limit, 0)
        elif after:
            if after not in ids:
                return None
            start = ids.index(after) + 1
        else:
            start = 0
        rows = self.events[start:start + limit]
        base = f"/{version}/events?limit={limit}"
        links = [{"rel": "self", "uri": base}]
        if query.get("ending_before") != "last" and start + limit < len(ids):
            links.append({"rel": "next", "uri": f"{base}&starting_after={rows[-1]['id']}"})
        body = {"data": [{"data": e, "uri": f"/{version}/events/{e['id']}"} for e in rows],
                "links": links}
        # page numbers count from the first page of each fetch (a fetch follows its next links)
        number = self._events_next_page.get(after, 1) if after else 1
        if len(links) > 1:
            self._events_next_page[rows[-1]["id"]] = number + 1
        return number, json.dumps(body).encode()

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
                or segments[1] not in (*self.collections, "events"):
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
        if endpoint == "events":
            found = self.events_page(version, query, limit)
            if found is None:
                self.send(handler, 404, b'{"error":"Resource not found"}')
                return
            self.apply_faults(handler, ("events", found[0]), found[1], {})
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
