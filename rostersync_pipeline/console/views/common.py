"""What every console page shares: the app's state, the signed-in user, the district guard with
its CSRF check, reading a district's DuckDB file briefly, and rendering.

Every district route is wrapped by :func:`district_view`, the one place that decides access:
no session -> the login page; a district the user may not see (or that is not configured) ->
the same 404 as a page that does not exist; a POST without this session's CSRF token -> 403.
Only then does the handler run.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from rostersync_pipeline.console import audit
from rostersync_pipeline.console.auth import CSRF_FIELD, LoginLimits, User, csrf_ok, load_user
from rostersync_pipeline.console.launch import Launcher, LaunchRefused
from rostersync_pipeline.lib.storage.warehouse import district_connection

log = logging.getLogger("rostersync.console")

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
READ_LOCK_WAIT_S = 5.0
FORM_MAX_FIELDS = 20
FORM_MAX_PART_BYTES = 64 * 1024


@dataclass
class ConsoleState:
    """What the app holds for its lifetime (``app.state.console``)."""

    config_dir: Path
    warehouse_dir: Path
    db: Path
    launcher: Launcher
    limits: LoginLimits
    templates: Jinja2Templates
    upload_max_bytes: int
    dagster_home: str | None = None
    _instance: Any = field(default=None, repr=False)

    def configured(self) -> set[str]:
        from rostersync_pipeline.cli.districts import configured

        return set(configured(self.config_dir))

    def dagster_instance(self) -> Any:
        """The Dagster instance of ``DAGSTER_HOME`` (read to show a run's status), or None."""
        if self.dagster_home and self._instance is None:
            import dagster as dg

            self._instance = dg.DagsterInstance.get()
        return self._instance


class DistrictBusy(RuntimeError):
    """A run is writing the district's file right now; the page asks to wait."""


@dataclass
class DistrictRequest:
    request: Request
    user: User
    district_id: str
    form: FormData | None

    @property
    def state(self) -> ConsoleState:
        return state_of(self.request)

    def param(self, name: str) -> str:
        return self.request.path_params[name]

    def query(self, name: str) -> str | None:
        value = self.request.query_params.get(name)
        return value if value else None

    def field(self, name: str) -> str | None:
        value = self.form.get(name) if self.form is not None else None
        return value.strip() if isinstance(value, str) and value.strip() else None

    async def read(self, reader: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``reader(con, ...)`` on a short read-only connection to the district's file, off the
        event loop; None when the district has no file yet; :class:`DistrictBusy` while a run
        holds the file."""
        return await run_in_threadpool(read_district, self.state.warehouse_dir,
                                       self.district_id, reader, *args, **kwargs)

    def url(self, path: str = "") -> str:
        return f"/d/{quote(self.district_id)}/{path}"

    def render(self, template: str, *, status_code: int = 200, **context: Any) -> Response:
        return render(self.request, template, status_code=status_code, user=self.user,
                      district_id=self.district_id, **context)

    def not_found(self) -> Response:
        return not_found(self.request, self.user)

    def redirect(self, path: str) -> Response:
        return RedirectResponse(self.url(path), status_code=303)


def read_district(warehouse_dir: Path, district_id: str, reader: Callable[..., Any],
                  *args: Any, **kwargs: Any) -> Any:
    try:
        with district_connection(warehouse_dir, district_id, read_only=True,
                                 lock_timeout_s=READ_LOCK_WAIT_S) as con:
            return reader(con, *args, **kwargs)
    except FileNotFoundError:
        return None
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise DistrictBusy(district_id) from exc
        raise


def state_of(request: Request) -> ConsoleState:
    return request.app.state.console


def csrf_token(request: Request) -> str:
    from rostersync_pipeline.console.auth import new_csrf_token

    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = new_csrf_token()
        request.session[CSRF_FIELD] = token
    return token


def flash(request: Request, message: str) -> None:
    request.session["flash"] = [*request.session.get("flash", []), message][-3:]


def render(request: Request, template: str, *, status_code: int = 200,
           user: User | None = None, **context: Any) -> Response:
    messages = request.session.pop("flash", []) if "flash" in request.session else []
    return state_of(request).templates.TemplateResponse(
        request, template,
        {"user": user, "csrf_token": csrf_token(request), "messages": messages, **context},
        status_code=status_code, headers={"Cache-Control": "no-store"})


def not_found(request: Request, user: User | None = None) -> Response:
    return render(request, "not_found.html", status_code=404, user=user)


def message(request: Request, title: str, text: str, *, status_code: int, user: User | None,
            refresh: bool = False) -> Response:
    return render(request, "message.html", status_code=status_code, user=user, title=title,
                  text=text, refresh=refresh)


def current_user(request: Request) -> User | None:
    """The session's user if the account still exists with the same session version."""
    email, version = request.session.get("user"), request.session.get("v")
    if not isinstance(email, str):
        return None
    user = load_user(state_of(request).db, email)
    if user is None or user.session_version != version:
        request.session.clear()
        return None
    return user


def safe_next(target: str | None) -> str:
    """A local path to return to after login (never another site)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


Handler = Callable[[DistrictRequest], Awaitable[Response]]


def district_view(handler: Handler, *, upload: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a district page or form: login, district access (404), CSRF on POST (403)."""

    async def endpoint(request: Request) -> Response:
        user = await run_in_threadpool(current_user, request)
        if user is None:
            target = request.url.path if request.method == "GET" else "/"
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        district_id = request.path_params["district_id"]
        console = state_of(request)
        if not user.may_see(district_id) or district_id not in console.configured():
            return not_found(request, user)
        form = None
        if request.method == "POST":
            form = await request.form(max_files=1 if upload else 0, max_fields=FORM_MAX_FIELDS,
                                      max_part_size=FORM_MAX_PART_BYTES)
            if not csrf_ok(request.session, form.get(CSRF_FIELD)):
                await form.close()
                return message(request, "Form expired", "This form was not sent from this "
                               "session (its security token is missing or old). Go back, "
                               "reload the page and try again.", status_code=403, user=user)
        context = DistrictRequest(request, user, district_id, form)
        try:
            return await handler(context)
        except DistrictBusy:
            return message(request, "A run is writing this district",
                           "The district's data is being written by a run right now. This "
                           "page reloads by itself in a few seconds.", status_code=503,
                           user=user, refresh=True)
        finally:
            if form is not None:
                await form.close()

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


def valid_id(value: str | None) -> bool:
    return bool(value) and bool(SAFE_ID.match(value or ""))


async def start(ctx: DistrictRequest, kind: str, params: dict[str, Any], *, action: str,
                back: str, plan_id: str | None = None, run_id: str | None = None,
                source_id: str | None = None, detail: str | None = None) -> Response:
    """Launch a job for the district, audit it, and show its progress page."""
    entry = audit.Action(action, plan_id=plan_id, run_id=run_id, source_id=source_id,
                         detail=detail)
    try:
        launch_id = await run_in_threadpool(ctx.state.launcher.start, ctx.district_id, kind,
                                            ctx.user.email, params, entry)
    except LaunchRefused as refused:
        flash(ctx.request, str(refused))
        return ctx.redirect(back)
    log.info("district %s: %s launched (launch %s)", ctx.district_id, action, launch_id)
    return ctx.redirect(f"launches/{launch_id}")
