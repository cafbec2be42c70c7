"""One paginator per pagination style (after dlt's ``rest_client.paginators``).

The client calls ``init_request`` once, then for each page ``update_state(response, data)``;
while ``has_next_page`` it calls ``update_request(request)`` and fetches again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import requests


@dataclass
class PageRequest:
    url: str
    params: dict[str, Any] = field(default_factory=dict)


class PaginationError(Exception):
    """The server's paging answer cannot be followed safely (a loop, a missing cursor)."""


class BasePaginator:
    has_next_page: bool = True

    def init_request(self, request: PageRequest) -> None:
        """Set the first page's parameters."""

    def update_state(self, response: requests.Response, data: Any) -> None:
        raise NotImplementedError

    def update_request(self, request: PageRequest) -> None:
        raise NotImplementedError


def _split_url(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return base, dict(parse_qsl(parts.query, keep_blank_values=True))


class JsonLinksCursorPaginator(BasePaginator):
    """Clever v3: the body's ``links`` list carries ``rel: next`` with ``starting_after``.

    Stops when there is no next link or a page is empty; a next link that repeats the cursor
    already followed is an error (a server loop would otherwise never end).
    """

    def __init__(self, limit: int | None = None, links_key: str = "links",
                 cursor_param: str = "starting_after") -> None:
        self.limit = limit
        self.links_key = links_key
        self.cursor_param = cursor_param
        self.next_uri: str | None = None
        self.seen_cursors: set[str] = set()
        self.has_next_page = True

    def init_request(self, request: PageRequest) -> None:
        if self.limit:
            request.params.setdefault("limit", self.limit)

    def update_state(self, response: requests.Response, data: Any) -> None:
        links = data.get(self.links_key) if isinstance(data, dict) else None
        rows = data.get("data") if isinstance(data, dict) else None
        self.next_uri = next(
            (link.get("uri") for link in links or [] if isinstance(link, dict)
             and link.get("rel") == "next" and link.get("uri")),
            None,
        )
        self.has_next_page = bool(self.next_uri) and bool(rows)
        if self.has_next_page:
            cursor = _split_url(self.next_uri)[1].get(self.cursor_param)
            if cursor is not None and cursor in self.seen_cursors:
                raise PaginationError(f"next link repeats cursor {cursor}")
            if cursor is not None:
                self.seen_cursors.add(cursor)

    def update_request(self, request: PageRequest) -> None:
        if not self.next_uri:
            raise PaginationError("no next link to follow")
        if self.next_uri.startswith(("http://", "https://")):
            request.url, request.params = _split_url(self.next_uri)
            return
        path, params = _split_url(self.next_uri)
        parts = urlsplit(request.url)
        request.url = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
        request.params = params


class OffsetPaginator(BasePaginator):
    """OneRoster REST: ``limit`` / ``offset``; honours ``X-Total-Count`` and ``Link: rel=next``.

    The next page is the ``Link`` header's ``next`` URL when the server sends one, else the
    next offset. It stops at ``offset + limit >= total`` when a total count is given, else
    when no ``Link: next`` comes (if the server uses Link headers) or on a short page.
    """

    def __init__(self, limit: int, total_header: str = "X-Total-Count",
                 items_key: str | None = None) -> None:
        self.limit = limit
        self.offset = 0
        self.total: int | None = None
        self.total_header = total_header
        self.items_key = items_key
        self.next_link: str | None = None
        self.uses_links = False
        self.has_next_page = True

    def init_request(self, request: PageRequest) -> None:
        request.params["limit"] = self.limit
        request.params["offset"] = self.offset

    def _count_items(self, data: Any) -> int:
        if isinstance(data, dict):
            if self.items_key is not None:
                items = data.get(self.items_key)
            else:
                items = next((v for v in data.values() if isinstance(v, list)), [])
            return len(items or [])
        return len(data) if isinstance(data, list) else 0

    def update_state(self, response: requests.Response, data: Any) -> None:
        total = response.headers.get(self.total_header)
        if total is not None and total.strip().isdigit():
            self.total = int(total)
        link = response.links.get("next") if response.headers.get("Link") else None
        self.next_link = link.get("url") if link else None
        self.uses_links = self.uses_links or bool(self.next_link)
        count = self._count_items(data)
        if self.total is not None:
            self.has_next_page = self.offset + self.limit < self.total and count > 0
        elif self.uses_links:
            self.has_next_page = bool(self.next_link) and count > 0
        else:
            self.has_next_page = count >= self.limit

    def update_request(self, request: PageRequest) -> None:
        self.offset += self.limit
        if self.next_link:
            url, params = _split_url(self.next_link)
            if not url.startswith(("http://", "https://")):
                parts = urlsplit(request.url)
                url = urlunsplit((parts.scheme, parts.netloc, urlsplit(url).path, "", ""))
            request.url, request.params = url, params
            if "offset" in params and str(params["offset"]).isdigit():
                self.offset = int(params["offset"])
            return
        request.params["limit"] = self.limit
        request.params["offset"] = self.offset
