"""Console accounts, passwords, sessions, CSRF tokens and login rate limiting.

- **Accounts** live in the console's SQLite file (:mod:`.store`); each names the districts it
  may see and act on. ``rostersync console add-user EMAIL --district ID`` creates one.
- **Passwords** are hashed with argon2id (``argon2-cffi``'s defaults: 64 MiB, 3 passes) and
  rehashed on login when those parameters change. A login for an unknown account verifies
  against a dummy hash, so it costs the same time as a wrong password.
- **Sessions** are Starlette's signed cookie (``itsdangerous``), secret from
  ``ROSTERSYNC_CONSOLE_SECRET``; the cookie holds the account, its ``session_version`` (a
  password or district change ends older sessions) and the CSRF token. It is ``HttpOnly``,
  ``SameSite=Lax``, and ``Secure`` with ``--secure-cookies``.
- **CSRF**: one random token per session, in a hidden field of every form and compared in
  constant time on every POST (:func:`csrf_ok`).
- **Login rate limiting**: failed logins are counted in two in-memory sliding windows, per
  account and per client address (:class:`SlidingWindow`); past the limit a login is refused
  with 429 before any password is checked, until the window has room again. A successful login
  clears its account's window. The windows live in the console process (a restart clears them).
"""

from __future__ import annotations

import hmac
import re
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from rostersync_pipeline.console import store

SECRET_ENV = "ROSTERSYNC_CONSOLE_SECRET"
MIN_SECRET_CHARS = 32
MIN_PASSWORD_CHARS = 12
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CSRF_FIELD = "csrf_token"

_hasher = PasswordHasher()
_dummy_hash: str | None = None


class AccountError(ValueError):
    """An account that cannot be created or changed; the message says why."""


@dataclass(frozen=True)
class User:
    email: str
    districts: tuple[str, ...]
    session_version: int

    def may_see(self, district_id: str) -> bool:
        return district_id in self.districts


def normalize_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _dummy() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(24))
    return _dummy_hash


def save_user(db: Path, email: str, password: str, districts: list[str], *,
              update: bool = False) -> User:
    """Create an account (``update``: replace an existing one's password and districts, which
    ends its sessions)."""
    email = normalize_email(email)
    if not EMAIL.match(email):
        raise AccountError(f"{email!r} is not an email address")
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    if not districts:
        raise AccountError("give at least one --district")
    hashed = hash_password(password)
    with store.connect(db) as con:
        exists = con.execute("select 1 from users where email = ?", [email]).fetchone()
        if exists and not update:
            raise AccountError(f"{email} already has an account (pass --update to replace its "
                               "password and districts)")
        if exists:
            con.execute("update users set password_hash = ?, session_version = "
                        "session_version + 1 where email = ?", [hashed, email])
            con.execute("delete from user_districts where email = ?", [email])
        else:
            con.execute("insert into users (email, password_hash) values (?, ?)", [email, hashed])
        con.executemany("insert into user_districts values (?, ?)",
                        [(email, d) for d in sorted(set(districts))])
    user = load_user(db, email)
    assert user is not None
    return user


def remove_user(db: Path, email: str) -> bool:
    with store.connect(db) as con:
        return con.execute("delete from users where email = ?",
                           [normalize_email(email)]).rowcount > 0


def load_user(db: Path, email: str) -> User | None:
    with store.connect(db) as con:
        return _user(con, normalize_email(email))


def _user(con: sqlite3.Connection, email: str) -> User | None:
    row = con.execute("select email, session_version from users where email = ?",
                      [email]).fetchone()
    if row is None:
        return None
    districts = tuple(r[0] for r in con.execute(
        "select district_id from user_districts where email = ? order by district_id", [email]))
    return User(row["email"], districts, row["session_version"])


def verify_login(db: Path, email: str, password: str) -> User | None:
    """The account if ``password`` is its password, else None, in about the same time
    whether or not the account exists."""
    email = normalize_email(email)
    with store.connect(db) as con:
        row = con.execute("select password_hash from users where email = ?", [email]).fetchone()
    stored = row["password_hash"] if row else _dummy()
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if _hasher.check_needs_rehash(stored):
        with store.connect(db) as con:
            con.execute("update users set password_hash = ? where email = ?",
                        [hash_password(password), email])
    return load_user(db, email)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(session: dict, submitted: object) -> bool:
    """Whether a form's token is this session's (constant-time comparison)."""
    expected = session.get(CSRF_FIELD)
    if not isinstance(expected, str) or not isinstance(submitted, str) or not submitted:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())


def session_secret(environ: dict[str, str]) -> str:
    """The session signing secret from ``ROSTERSYNC_CONSOLE_SECRET``; ValueError (one line)
    when it is missing or short."""
    secret = environ.get(SECRET_ENV, "")
    if len(secret) < MIN_SECRET_CHARS:
        raise ValueError(
            f"set {SECRET_ENV} to a random secret of at least {MIN_SECRET_CHARS} characters "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`); the console "
            "signs its session cookies with it")
    return secret


class SlidingWindow:
    """At most ``limit`` events per key in the last ``window_s`` seconds (thread-safe).

    Keys are kept in least-recently-used order and capped at ``max_keys`` so that a flood of
    made-up account names cannot grow memory without bound.
    """

    def __init__(self, limit: int, window_s: float, *, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._events: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            return deque()
        while events and events[0] <= now - self.window_s:
            events.popleft()
        return events

    def retry_after(self, key: str, now: float | None = None) -> float:
        """Seconds until ``key`` may try again (0: it may now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            events = self._recent(key, now)
            if len(events) < self.limit:
                return 0.0
            return max(events[0] + self.window_s - now, 0.0)

    def add(self, key: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            events = self._recent(key, now)
            events.append(now)
            self._events[key] = events
            self._events.move_to_end(key)
            while len(self._events) > self.max_keys:
                self._events.popitem(last=False)

    def clear(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)


@dataclass
class LoginLimits:
    """The two windows of failed logins: per account and per client address."""

    per_account: SlidingWindow
    per_address: SlidingWindow

    @classmethod
    def default(cls, *, account_failures: int = 5, address_failures: int = 20,
                window_s: float = 900.0) -> LoginLimits:
        return cls(SlidingWindow(account_failures, window_s),
                   SlidingWindow(address_failures, window_s))

    def retry_after(self, email: str, address: str) -> float:
        return max(self.per_account.retry_after(normalize_email(email)),
                   self.per_address.retry_after(address))

    def failed(self, email: str, address: str) -> None:
        self.per_account.add(normalize_email(email))
        self.per_address.add(address)

    def succeeded(self, email: str) -> None:
        self.per_account.clear(normalize_email(email))
