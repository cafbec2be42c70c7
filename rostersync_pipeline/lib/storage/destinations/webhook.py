"""The change-feed webhook: one signed POST per applied run, from an outbox.

The body is written into the destination's ``webhook_deliveries`` outbox in the same transaction
as the run's changes, then POSTed after the commit: a crash between the two leaves the
delivery ``pending`` and the next run sends it. A delivery that fails after its retries is
``failed`` and is retried, with the same body and signature, at the start of the next run; it
never rolls back the applied run.

Body (JSON, UTF-8, keys sorted)::

    {"district_id": ..., "run_id": ..., "status": "applied" | "approved" | "restored",
     "counts": {entity: {action: n}}, "feed": {"after": <feed_id>, "until": <feed_id>}}

The app reads the run's changes with ``feed_id > after and feed_id <= until``. Header
``X-Rostersync-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>`` with the secret
from the environment variable the config names (``webhook.secret_env``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import requests
import tenacity

SIGNATURE_HEADER = "X-Rostersync-Signature"
RUN_HEADER = "X-Rostersync-Run-Id"
USER_AGENT = "rostersync-webhook/1"
MAX_BACKOFF_S = 30.0


class WebhookFailed(RuntimeError):
    """One delivery attempt that did not get a 2xx answer."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class DeliveryOutcome:
    run_id: str
    delivered: bool
    attempts: int
    status_code: int | None
    error: str | None


def redacted(url: str) -> str:
    """``url`` without user info, query or fragment (a token may hide there), for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def webhook_body(
    district_id: str, run_id: str, status: str, counts: dict, feed_after: int, feed_until: int
) -> str:
    return json.dumps(
        {"district_id": district_id, "run_id": run_id, "status": status, "counts": counts,
         "feed": {"after": feed_after, "until": feed_until}},
        sort_keys=True, separators=(",", ":"),
    )


def signature(secret: str, body: bytes) -> str:
    """The ``X-Rostersync-Signature`` value of ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """What the app does with each request: compare in constant time."""
    return header is not None and hmac.compare_digest(signature(secret, body), header)


def deliver(
    url: str,
    run_id: str,
    body: str,
    *,
    secret_env: str,
    timeout_s: float,
    retries: int,
    backoff_s: float,
) -> DeliveryOutcome:
    """POST ``body`` to ``url``, retrying up to ``retries`` times with exponential backoff
    (``backoff_s``, doubling, at most 30 s); never raises."""
    secret = os.environ.get(secret_env)
    if not secret:
        return DeliveryOutcome(run_id, False, 0, None,
                               f"environment variable {secret_env} (webhook.secret_env) is not set")
    data = body.encode("utf-8")
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               SIGNATURE_HEADER: signature(secret, data), RUN_HEADER: run_id}
    attempts = 0

    def attempt() -> int:
        nonlocal attempts
        attempts += 1
        try:
            response = requests.post(url, data=data, headers=headers, timeout=timeout_s,
                                     allow_redirects=False)
        except requests.RequestException as exc:
            message = str(exc).replace(url, redacted(url))
            raise WebhookFailed(f"{type(exc).__name__}: {message}") from exc
        if not 200 <= response.status_code < 300:
            raise WebhookFailed(f"HTTP {response.status_code}", response.status_code)
        return response.status_code

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(retries + 1),
        wait=tenacity.wait_exponential(multiplier=backoff_s, max=MAX_BACKOFF_S),
        retry=tenacity.retry_if_exception_type(WebhookFailed),
        reraise=True,
    )
    try:
        status = retrying(attempt)
    except WebhookFailed as exc:
        return DeliveryOutcome(run_id, False, attempts, exc.status_code, str(exc)[:500])
    return DeliveryOutcome(run_id, True, attempts, status, None)
