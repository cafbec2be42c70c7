"""The mail server run-status notifications go through: settings from the environment at send time.

Connection details and the password are read from ``ROSTERSYNC_SMTP_*`` environment variables
(see :meth:`rostersync_pipeline.lib.report.notifications.SmtpSettings.from_env`) when a message is sent,
never at import or load time: a code location without SMTP settings still loads, and its
notification sensors skip with a logged reason instead of failing.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Sequence

import dagster as dg

from rostersync_pipeline.lib.report.notifications import (
    NotificationError,
    NotificationMessage,
    SmtpSettings,
    send,
)


class SmtpNotConfiguredError(NotificationError):
    """No SMTP host in the environment: notifications are switched off, not broken."""


class SmtpResource(dg.ConfigurableResource):
    """Sends composed notification messages with :func:`~rostersync_pipeline.lib.report.notifications.send`.

    ``env_prefix`` names the environment variables (``<prefix>HOST``, ``PORT``, ``TLS``,
    ``USERNAME``, ``PASSWORD``, ``FROM``). ``ca_file`` is a PEM bundle to trust instead of the
    system store (a private CA); it is a path, not a secret.
    """

    env_prefix: str = "ROSTERSYNC_SMTP_"
    ca_file: str | None = None

    def settings(self) -> SmtpSettings:
        """The settings now in the environment; :class:`SmtpNotConfiguredError` without a host."""
        if not os.environ.get(self.env_prefix + "HOST", "").strip():
            raise SmtpNotConfiguredError(
                f"environment variable {self.env_prefix}HOST is not set: e-mail notifications "
                "are off"
            )
        return SmtpSettings.from_env(prefix=self.env_prefix)

    def ssl_context(self) -> ssl.SSLContext:
        if self.ca_file:
            return ssl.create_default_context(cafile=self.ca_file)
        return ssl.create_default_context()

    def send(self, recipients: Sequence[str], message: NotificationMessage) -> dict[str, tuple[int, bytes]]:
        """Deliver ``message``; returns refused recipients, raises :class:`NotificationError`."""
        return send(self.settings(), recipients, message, ssl_context=self.ssl_context())
