"""Run-status email: compose the three messages a district's recipients get, and send them.

Events (names match ``NotificationsConfig.on`` in the district config):

- ``failed``: the run failed;
- ``held``: the guard held the sync plan for review (nothing was applied);
- ``errors``: the run succeeded but some records were not imported (an errors digest).

The composers take counts, error codes, IDs, paths and an operator-written reason only: no
argument can carry a person-level record (FERPA). Counts must be integers keyed by lower-case
identifiers, error codes must look like ``UPPER_SNAKE`` constants, IDs must be plain tokens; the
free-text ``reason`` is capped and has e-mail addresses and date-like values redacted, so an
exception text that quoted a record cannot leak them.

SMTP settings come from environment variables (see :meth:`SmtpSettings.from_env`); the password is
never part of a message, an exception or a ``repr``.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Literal, get_args

TlsMode = Literal["starttls", "ssl", "none"]
NotificationEvent = Literal["failed", "held", "errors"]

DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "ssl": 465, "none": 25}
ACTION_ORDER = ("create", "update", "deactivate", "reactivate", "unchanged")
SUBJECT_PREFIX = "[rostersync]"
MAX_REASON_CHARS = 500
DEFAULT_TOP_CODES = 10

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_ERROR_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,62}$")
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_EMAIL_LIKE = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+")
_DATE_LIKE = re.compile(
    r"\b(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})(?:[T ][\d:.]+Z?)?\b"
)
_RECIPIENT = re.compile(r"^[^\s@<>,;]+@[^\s@<>,;]+$")


class NotificationError(RuntimeError):
    """Settings or delivery failed; the message names host, port and user, never the password."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send mail. ``password`` is left out of ``repr``."""

    host: str
    port: int = 587
    use_tls: TlsMode = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    from_addr: str = "rostersync@localhost"
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if not self.host:
            raise NotificationError("SMTP host is empty")
        if self.use_tls not in get_args(TlsMode):
            raise NotificationError(
                f"SMTP TLS mode {self.use_tls!r} is not one of {', '.join(get_args(TlsMode))}"
            )
        if not 0 < self.port < 65536:
            raise NotificationError(f"SMTP port {self.port} is out of range")
        if (self.username is None) != (self.password is None):
            raise NotificationError("SMTP username and password must be set together")
        if not _RECIPIENT.match(self.from_addr):
            raise NotificationError(f"SMTP from address {self.from_addr!r} is not an address")

    @classmethod
    def from_env(
        cls, prefix: str = "ROSTERSYNC_SMTP_", environ: Mapping[str, str] | None = None
    ) -> SmtpSettings:
        """Read ``<prefix>HOST, PORT, TLS, USERNAME, PASSWORD, FROM`` (only HOST is required).

        PORT defaults by TLS mode (starttls 587, ssl 465, none 25); TLS defaults to starttls.
        """
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(prefix + name, "").strip()
            return value or None

        host = get("HOST")
        if host is None:
            raise NotificationError(f"environment variable {prefix}HOST is not set")
        use_tls = (get("TLS") or "starttls").lower()
        if use_tls not in get_args(TlsMode):
            raise NotificationError(
                f"environment variable {prefix}TLS={use_tls!r}: use one of "
                f"{', '.join(get_args(TlsMode))}"
            )
        port_text = get("PORT")
        try:
            port = int(port_text) if port_text else DEFAULT_PORTS[use_tls]
        except ValueError as exc:
            raise NotificationError(
                f"environment variable {prefix}PORT={port_text!r} is not a number"
            ) from exc
        password = env.get(prefix + "PASSWORD") or None
        return cls(
            host=host,
            port=port,
            use_tls=use_tls,  # type: ignore[arg-type]
            username=get("USERNAME"),
            password=password,
            from_addr=get("FROM") or "rostersync@localhost",
        )


@dataclass(frozen=True)
class NotificationMessage:
    """A composed message: which event, for which district and run, subject and plain-text body."""

    event: NotificationEvent
    district_id: str
    run_id: str
    subject: str
    body: str


def short_run_id(run_id: str) -> str:
    """The first 8 characters of a run id, as Dagster's UI shows it."""
    return run_id[:8]


def redact_free_text(text: str, max_chars: int = MAX_REASON_CHARS) -> str:
    """One line, at most ``max_chars``, with e-mail addresses and date-like values redacted."""
    one_line = " ".join(text.split())
    redacted = _DATE_LIKE.sub("[date]", _EMAIL_LIKE.sub("[email]", one_line))
    if len(redacted) > max_chars:
        redacted = redacted[: max_chars - 1].rstrip() + "…"
    return redacted


def compose_run_failed(
    *,
    district_id: str,
    district_name: str,
    run_id: str,
    reason: str,
    counts: Mapping[str, Mapping[str, int]] | None = None,
) -> NotificationMessage:
    """The run failed; nothing was applied (apply is one transaction)."""
    lines = [
        f"The rostersync run for {_name(district_name)} ({_token(district_id, 'district_id')}) "
        "failed. Nothing was applied to the roster; the next run starts from the same state.",
        "",
        f"Reason: {redact_free_text(reason)}",
    ]
    if counts:
        lines += ["", "Planned changes before the failure:", *_counts_lines(counts)]
    return _message("failed", "run failed", district_id, district_name, run_id, lines)


def compose_held_for_review(
    *,
    district_id: str,
    district_name: str,
    run_id: str,
    plan_id: str,
    reason: str,
    counts: Mapping[str, Mapping[str, int]],
) -> NotificationMessage:
    """The guard held a plan: it is applied only when someone approves this plan id."""
    lines = [
        f"The sync plan for {_name(district_name)} ({_token(district_id, 'district_id')}) was "
        "held for review and NOT applied.",
        "",
        f"Reason: {redact_free_text(reason)}",
        f"Plan: {_token(plan_id, 'plan_id')}",
        "",
        "Planned changes:",
        *_counts_lines(counts),
        "",
        "Review the plan, then approve this plan id to apply exactly it, or fix the source "
        "and let the next run build a new plan.",
    ]
    return _message("held", "held for review", district_id, district_name, run_id, lines)


def compose_succeeded_with_errors(
    *,
    district_id: str,
    district_name: str,
    run_id: str,
    counts: Mapping[str, Mapping[str, int]],
    error_counts: Mapping[str, int],
    export_path: str | Path,
    top_codes: int = DEFAULT_TOP_CODES,
) -> NotificationMessage:
    """The run applied its plan, but some records were not imported: an errors digest."""
    digest = _error_digest(error_counts, top_codes)
    total = sum(_checked_counts(error_counts, "error_counts", _ERROR_CODE).values())
    lines = [
        f"The rostersync run for {_name(district_name)} ({_token(district_id, 'district_id')}) "
        f"succeeded, but {total} record problem(s) were reported; those records were not "
        "imported.",
        "",
        "Applied changes:",
        *_counts_lines(counts),
        "",
        "Errors by code (most frequent first):",
        *digest,
        "",
        f"Error export (CSV in a .zip, one row per problem): {_path(export_path)}",
    ]
    subject = f"succeeded with {total} error{'s' if total != 1 else ''}"
    return _message("errors", subject, district_id, district_name, run_id, lines)


def build_email(
    settings: SmtpSettings, recipients: Sequence[str], message: NotificationMessage
) -> EmailMessage:
    """The RFC 5322 message for ``message``; headers carry event, district id and run id."""
    addresses = _checked_recipients(recipients)
    email = EmailMessage()
    email["From"] = settings.from_addr
    email["To"] = ", ".join(addresses)
    email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid(domain=settings.from_addr.rsplit("@", 1)[1])
    email["X-Rostersync-Event"] = message.event
    email["X-Rostersync-District"] = message.district_id
    email["X-Rostersync-Run-Id"] = message.run_id
    email.set_content(message.body)
    return email


def send(
    settings: SmtpSettings,
    recipients: Sequence[str],
    message: NotificationMessage,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> dict[str, tuple[int, bytes]]:
    """Deliver ``message`` to ``recipients``; returns the recipients the server refused.

    Raises :class:`NotificationError` when nothing could be delivered (connection, TLS, login,
    every recipient refused). ``ssl_context`` defaults to the system trust store.
    """
    email = build_email(settings, recipients, message)
    context = ssl_context or ssl.create_default_context()
    where = f"{settings.host}:{settings.port}"
    try:
        if settings.use_tls == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout_s, context=context
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s)
        with client:
            if settings.use_tls == "starttls":
                client.starttls(context=context)
            if settings.username is not None and settings.password is not None:
                client.login(settings.username, settings.password)
            return client.send_message(email)
    except smtplib.SMTPAuthenticationError as exc:
        raise NotificationError(
            f"SMTP server {where} refused the login for user {settings.username!r} "
            f"({exc.smtp_code} {_smtp_text(exc.smtp_error)}); check ROSTERSYNC_SMTP_USERNAME "
            "and ROSTERSYNC_SMTP_PASSWORD"
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise NotificationError(f"SMTP server {where}: {exc}") from None
    except smtplib.SMTPRecipientsRefused as exc:
        refused = ", ".join(sorted(exc.recipients))
        raise NotificationError(f"SMTP server {where} refused every recipient: {refused}") from None
    except smtplib.SMTPException as exc:
        raise NotificationError(f"SMTP delivery via {where} failed: {exc}") from None
    except (OSError, ssl.SSLError) as exc:
        raise NotificationError(f"cannot reach SMTP server {where}: {exc}") from None


def _message(
    event: NotificationEvent,
    what: str,
    district_id: str,
    district_name: str,
    run_id: str,
    lines: list[str],
) -> NotificationMessage:
    run = _token(run_id, "run_id")
    district = _token(district_id, "district_id")
    subject = f"{SUBJECT_PREFIX} {_name(district_name)}: {what} (run {short_run_id(run)})"
    footer = ["", "--", f"district: {district}", f"run: {run}"]
    return NotificationMessage(
        event=event,
        district_id=district,
        run_id=run,
        subject=subject,
        body="\n".join([*lines, *footer]) + "\n",
    )


def _counts_lines(counts: Mapping[str, Mapping[str, int]]) -> list[str]:
    if not isinstance(counts, Mapping):
        raise TypeError("counts must map entity -> action -> count")
    lines = []
    for entity in sorted(counts):
        if not isinstance(entity, str) or not _IDENTIFIER.match(entity):
            raise ValueError(f"counts: entity {entity!r} is not a lower-case identifier")
        actions = _checked_counts(counts[entity], f"counts[{entity!r}]", _IDENTIFIER)
        ordered = sorted(
            actions,
            key=lambda a: (ACTION_ORDER.index(a) if a in ACTION_ORDER else len(ACTION_ORDER), a),
        )
        detail = ", ".join(f"{action} {actions[action]}" for action in ordered) or "no changes"
        lines.append(f"  {entity}: {detail}")
    return lines or ["  (none)"]


def _error_digest(error_counts: Mapping[str, int], top_codes: int) -> list[str]:
    checked = _checked_counts(error_counts, "error_counts", _ERROR_CODE)
    ranked = sorted(checked.items(), key=lambda item: (-item[1], item[0]))
    lines = [f"  {code}: {n}" for code, n in ranked[:top_codes]]
    rest = ranked[top_codes:]
    if rest:
        lines.append(f"  … and {len(rest)} more code(s), {sum(n for _, n in rest)} error(s)")
    return lines or ["  (none)"]


def _checked_counts(
    values: Mapping[str, int], what: str, key_pattern: re.Pattern[str]
) -> dict[str, int]:
    if not isinstance(values, Mapping):
        raise TypeError(f"{what} must be a mapping of names to counts")
    checked: dict[str, int] = {}
    for key, n in values.items():
        if not isinstance(key, str) or not key_pattern.match(key):
            raise ValueError(f"{what}: key {key!r} does not match {key_pattern.pattern}")
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise TypeError(f"{what}[{key!r}] must be a non-negative int, got {type(n).__name__}")
        checked[key] = n
    return checked


def _token(value: str, what: str) -> str:
    if not isinstance(value, str) or not _TOKEN.match(value):
        raise ValueError(f"{what} {value!r} must be a plain id (letters, digits, _ . : -)")
    return value


def _name(district_name: str) -> str:
    """A district (organisation) name, on one line, safe for a header."""
    name = " ".join(str(district_name).split())
    if not name:
        raise ValueError("district_name is empty")
    return name[:120]


def _path(export_path: str | Path) -> str:
    text = str(export_path)
    if not text or any(c in text for c in "\r\n"):
        raise ValueError(f"export_path {text!r} is not a single-line path")
    return text


def _smtp_text(error: bytes | str) -> str:
    return error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)


def _checked_recipients(recipients: Sequence[str]) -> list[str]:
    if isinstance(recipients, str):
        raise TypeError("recipients must be a list of addresses, not one string")
    addresses = [r.strip() for r in recipients]
    if not addresses:
        raise NotificationError("no recipients: set notifications.emails in the district config")
    bad = [r for r in addresses if not _RECIPIENT.match(r)]
    if bad:
        raise NotificationError(f"not e-mail addresses: {', '.join(map(repr, bad))}")
    return addresses
