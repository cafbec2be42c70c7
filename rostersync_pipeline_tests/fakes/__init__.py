"""Real HTTP servers on 127.0.0.1 standing in for provider APIs, with injectable faults."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb

from rostersync_pipeline.lib.transform.sql_runner import load_macros, run_macros

SAMPLES_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "samples"
CLEVER_DEMO_DIR = SAMPLES_DIR / "clever-v3-demo-district"


@dataclass
class Faults:
    """Faults keyed by (endpoint, page number), page numbers 1-based.

    ``rate_limited``: how many times to answer 429 (with reset headers) before serving;
    ``server_errors``: how many times to answer 500 (a large number means always);
    ``slow``: seconds to sleep before answering (once per key);
    ``truncated``: how many times to send half the body;
    ``unauthorized_from``: from this (endpoint, page) on, every request gets 401;
    ``replaced``: answer this (status, body, content type) instead of the page, every time
    (an HTML error page with status 200, a body in another API version's shape...).
    """

    rate_limited: dict[tuple[str, int], int] = field(default_factory=dict)
    rate_limit_header: str = "X-RateLimit-Reset"
    server_errors: dict[tuple[str, int], int] = field(default_factory=dict)
    slow: dict[tuple[str, int], float] = field(default_factory=dict)
    truncated: dict[tuple[str, int], int] = field(default_factory=dict)
    unauthorized_from: tuple[str, int] | None = None
    replaced: dict[tuple[str, int], tuple[int, bytes, str]] = field(default_factory=dict)


class FakeServer:
    """A ThreadingHTTPServer in a thread; subclasses implement ``handle(handler)``."""

    def __init__(self) -> None:
        self.faults = Faults()
        self.requests: Counter[tuple[str, int]] = Counter()
        self.lock = threading.Lock()
        self._unauthorized = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                fake.handle(self)

            def do_POST(self) -> None:  # noqa: N802
                fake.handle(self)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    @staticmethod
    def send(handler: BaseHTTPRequestHandler, status: int, body: bytes,
             headers: dict[str, str] | None = None,
             content_type: str = "application/json") -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def take_fault(self, kind: dict, key: tuple[str, int]) -> bool:
        with self.lock:
            left = kind.get(key, 0)
            if left > 0:
                kind[key] = left - 1
                return True
            return False

    def apply_faults(self, handler: BaseHTTPRequestHandler, key: tuple[str, int],
                     body: bytes, headers: dict[str, str]) -> None:
        """Count the request, then answer with the fault due for this page, or the body."""
        with self.lock:
            self.requests[key] += 1
            if self.faults.unauthorized_from == key:
                self._unauthorized = True
            unauthorized = self._unauthorized
            delay = self.faults.slow.pop(key, 0.0)
        if unauthorized:
            self.send(handler, 401, b'{"error":"invalid token"}')
            return
        if delay:
            time.sleep(delay)
        if self.take_fault(self.faults.rate_limited, key):
            reset = (f"{time.time() + 0.05:.3f}"
                     if self.faults.rate_limit_header == "X-RateLimit-Reset" else "0")
            self.send(handler, 429, b'{"error":"rate limited"}',
                      {self.faults.rate_limit_header: reset})
            return
        if self.take_fault(self.faults.server_errors, key):
            self.send(handler, 500, b'{"error":"internal"}')
            return
        if self.take_fault(self.faults.truncated, key):
            self.send(handler, 200, body[: len(body) // 2], headers)
            return
        if key in self.faults.replaced:
            status, replacement, content_type = self.faults.replaced[key]
            self.send(handler, status, replacement, headers, content_type=content_type)
            return
        self.send(handler, 200, body, headers)


REPO_ROOT = Path(__file__).resolve().parents[2]


def create_staging_views(con: duckdb.DuckDBPyConnection, provider: str) -> list[str]:
    """Create ``staging.<model>`` views from ``dbt_like_sql/staging/<provider>/*.sql``, after
    the SQL macros they call (``dbt_like_sql/macros``) and, when the test landed without a run
    record, a ``config.run`` dated now (staging reads dates against the run's date)."""
    run_macros(con, load_macros())
    con.execute("create schema if not exists config")
    con.execute("create table if not exists config.run as "
                "select 'test-run' as run_id, now()::timestamp as started_at")
    names = []
    for path in sorted((REPO_ROOT / "dbt_like_sql" / "staging" / provider).glob("*.sql")):
        con.execute(f"create or replace view staging.{path.stem} as {path.read_text()}")
        names.append(path.stem)
    return names
