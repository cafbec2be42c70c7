"""The console's Starlette app: routes, middleware and start-up.

Middleware, outermost first: security headers on every response (a strict
Content-Security-Policy without scripts, no framing, no sniffing, no referrer to other sites);
a request body limit (64 KiB for forms, the bundle size limit for an upload) checked on the
declared length and again on the bytes as they arrive; the signed session cookie.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rostersync_pipeline.console.auth import LoginLimits
from rostersync_pipeline.console.launch import KIND_LABELS, Launcher
from rostersync_pipeline.console.store import console_db_path
from rostersync_pipeline.console.views import account, history, imports, review, runs
from rostersync_pipeline.console.views.common import TEMPLATES, ConsoleState, not_found
from rostersync_pipeline.lib.ingest.bundles import BundleLimits

log = logging.getLogger("rostersync.console")

SESSION_COOKIE = "rostersync_console"
SESSION_MAX_AGE_S = 8 * 3600
FORM_MAX_BYTES = 64 * 1024
MULTIPART_OVERHEAD_BYTES = 64 * 1024
UPLOAD_PATH = re.compile(r"^/d/[^/]+/upload$")
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; style-src 'self'; img-src 'self'; "
                                 b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


@dataclass(frozen=True)
class ConsoleSettings:
    config_dir: Path
    warehouse_dir: Path
    secret: str
    secure_cookies: bool = False
    upload_max_bytes: int | None = None
    limits: LoginLimits | None = None


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuse (413) a request body over its limit, declared or streamed."""

    def __init__(self, app: ASGIApp, upload_max_bytes: int) -> None:
        self.app = app
        self.upload_max_bytes = upload_max_bytes

    def limit(self, scope: Scope) -> int:
        if scope.get("method") == "POST" and UPLOAD_PATH.match(scope.get("path", "")):
            return self.upload_max_bytes + MULTIPART_OVERHEAD_BYTES
        return FORM_MAX_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope)
        declared = dict(scope.get("headers", [])).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(send)
            return
        received, started = 0, False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _TooLarge:
            if not started:
                await _too_large(send)


async def _too_large(send: Send) -> None:
    body = b"<!doctype html><title>Too large</title><p>The request is larger than allowed.</p>"
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"text/html; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    env.filters["short"] = lambda value: (value or "")[:8]
    env.filters["when"] = lambda value: value.strftime("%Y-%m-%d %H:%M") if hasattr(
        value, "strftime") else (value or "")
    env.globals["kind_labels"] = KIND_LABELS
    return templates


async def _not_found(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException) and exc.status_code != 404:
        return Response(exc.detail, status_code=exc.status_code)
    return not_found(request)


def create_app(settings: ConsoleSettings) -> Starlette:
    """The console over one config directory and one warehouse."""
    config_dir = Path(settings.config_dir).absolute()
    warehouse_dir = Path(settings.warehouse_dir).absolute()
    db = console_db_path(warehouse_dir)
    upload_max = settings.upload_max_bytes or BundleLimits.from_env().max_total_bytes
    state = ConsoleState(
        config_dir=config_dir, warehouse_dir=warehouse_dir, db=db,
        launcher=Launcher(db, config_dir, warehouse_dir),
        limits=settings.limits or LoginLimits.default(), templates=_templates(),
        upload_max_bytes=upload_max, dagster_home=os.environ.get("DAGSTER_HOME") or None)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        interrupted = state.launcher.recover()
        if interrupted:
            log.warning("%s launch(es) left unfinished by a stopped console marked failed",
                        interrupted)
        # Open the Dagster instance once before any worker starts: a new DAGSTER_HOME creates
        # its SQLite storage on first use, and two processes creating it at once collide
        # ("table secondary_indexes already exists") and fail the first launch.
        state.dagster_instance()
        yield
        state.launcher.shutdown()

    routes = [
        Route("/", account.index, methods=["GET"]),
        Route("/login", account.login_page, methods=["GET"]),
        Route("/login", account.login, methods=["POST"]),
        Route("/logout", account.logout, methods=["POST"]),
        *[Route(path, endpoint, methods=methods)
          for module in (runs, review, imports, history)
          for path, endpoint, methods in module.ROUTES],
        Mount("/static", StaticFiles(directory=str(TEMPLATES.parent / "static")), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(BodyLimit, upload_max_bytes=upload_max),
            Middleware(SessionMiddleware, secret_key=settings.secret,
                       session_cookie=SESSION_COOKIE, max_age=SESSION_MAX_AGE_S,
                       same_site="lax", https_only=settings.secure_cookies),
        ],
        exception_handlers={HTTPException: _not_found},
        lifespan=lifespan,
    )
    app.state.console = state
    return app
