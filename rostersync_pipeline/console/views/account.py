"""Login, logout and the list of the user's districts.

A failed login says only "wrong email or password", whether or not the account exists, and
costs the same time (:func:`auth.verify_login`). Failures count against the account and the
client address (:class:`auth.LoginLimits`); past either limit the login is refused with 429
before any password is checked. The log line of a login names neither the account nor the
address's owner: only the outcome.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from rostersync_pipeline.console.auth import CSRF_FIELD, csrf_ok, new_csrf_token, verify_login
from rostersync_pipeline.console.views.common import (
    FORM_MAX_FIELDS,
    FORM_MAX_PART_BYTES,
    current_user,
    log,
    message,
    render,
    safe_next,
    state_of,
)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def login_page(request: Request) -> Response:
    user = await run_in_threadpool(current_user, request)
    if user is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return render(request, "login.html", next=safe_next(request.query_params.get("next")))


async def login(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=FORM_MAX_FIELDS,
                              max_part_size=FORM_MAX_PART_BYTES)
    email, password = str(form.get("email") or ""), str(form.get("password") or "")
    target = safe_next(str(form.get("next") or ""))
    if not csrf_ok(request.session, form.get(CSRF_FIELD)):
        return message(request, "Form expired", "Reload the login page and try again.",
                       status_code=403, user=None)
    console = state_of(request)
    address = _client(request)
    wait_s = console.limits.retry_after(email, address)
    if wait_s > 0:
        log.warning("login refused: too many failed attempts (rate limited)")
        minutes = max(int(wait_s // 60) + 1, 1)
        return render(request, "login.html", status_code=429, next=target, email=email,
                      error=f"Too many failed attempts. Try again in {minutes} minute(s).")
    user = await run_in_threadpool(verify_login, console.db, email, password)
    if user is None:
        console.limits.failed(email, address)
        log.info("login failed: wrong email or password")
        return render(request, "login.html", status_code=401, next=target, email=email,
                      error="Wrong email or password.")
    console.limits.succeeded(email)
    request.session.clear()
    request.session.update({"user": user.email, "v": user.session_version,
                            CSRF_FIELD: new_csrf_token()})
    log.info("login succeeded")
    if target == "/" and len(user.districts) == 1:
        target = f"/d/{user.districts[0]}/"
    return RedirectResponse(target, status_code=303)


async def logout(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=FORM_MAX_FIELDS,
                              max_part_size=FORM_MAX_PART_BYTES)
    if csrf_ok(request.session, form.get(CSRF_FIELD)):
        request.session.clear()
    return RedirectResponse("/login", status_code=303)


async def index(request: Request) -> Response:
    user = await run_in_threadpool(current_user, request)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    configured = state_of(request).configured()
    districts = [d for d in user.districts if d in configured]
    return render(request, "index.html", user=user, districts=districts)
