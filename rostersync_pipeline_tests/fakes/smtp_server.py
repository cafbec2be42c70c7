"""A real SMTP server on 127.0.0.1 (aiosmtpd) that records what it receives.

Optional AUTH (LOGIN / PLAIN) checks one username and password; optional TLS (STARTTLS, or
implicit TLS as on port 465) uses a self-signed certificate for 127.0.0.1 from
:func:`loopback_tls`, so tests exercise the same smtplib path production uses.

    tls = loopback_tls(tmp_path)
    with smtp_server(username="mailer", password="s3cret", tls=tls) as server:
        send(SmtpSettings(host=server.host, port=server.port, ...), [...], message)
        assert server.messages[0].rcpt_tos == [...]
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

HOST = "127.0.0.1"


@dataclass(frozen=True)
class LoopbackTls:
    """A server context for the fake and a client context that trusts exactly its certificate."""

    server_context: ssl.SSLContext
    client_context: ssl.SSLContext
    cert_path: Path


def loopback_tls(directory: Path) -> LoopbackTls:
    """Write a self-signed certificate for 127.0.0.1 into ``directory`` and build both contexts."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rostersync test smtp")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_path, key_path)
    client_context = ssl.create_default_context(cafile=str(cert_path))
    return LoopbackTls(server_context, client_context, cert_path)


@dataclass(frozen=True)
class ReceivedMessage:
    """One message as the server got it: envelope and parsed content."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    authenticated_as: str | None

    @property
    def email(self) -> EmailMessage:
        parsed = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def subject(self) -> str:
        return str(self.email["Subject"])

    @property
    def body(self) -> str:
        part = self.email.get_body(preferencelist=("plain",))
        assert part is not None
        return part.get_content()


@dataclass
class FakeSmtpServer:
    """Address of the running server plus what it recorded (thread-safe lists)."""

    host: str
    port: int
    messages: list[ReceivedMessage] = field(default_factory=list)
    failed_logins: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.failed_logins.clear()


class _RecordingHandler:
    def __init__(self, server: FakeSmtpServer) -> None:
        self._server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
        received = ReceivedMessage(
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            raw=bytes(envelope.original_content or envelope.content),
            authenticated_as=login.decode() if isinstance(login, bytes) else None,
        )
        with self._server._lock:
            self._server.messages.append(received)
        return "250 Message accepted for delivery"


def _authenticator(fake: FakeSmtpServer, username: str, password: str) -> Any:
    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == username.encode()
            and auth_data.password == password.encode()
        ):
            return AuthResult(success=True, auth_data=auth_data)
        attempted = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else "?"
        with fake._lock:
            fake.failed_logins.append(f"{mechanism}:{attempted}")
        return AuthResult(success=False, handled=False)

    return authenticate


class _ImplicitTlsSmtp(SMTP):
    """aiosmtpd only counts STARTTLS as TLS; on an SMTPS socket the whole session is TLS."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        if transport.get_extra_info("sslcontext") is not None:
            self._auth_require_tls = False


class _Controller(Controller):
    def __init__(self, *args: Any, implicit_tls: bool, **kwargs: Any) -> None:
        self._implicit_tls = implicit_tls
        super().__init__(*args, **kwargs)

    def factory(self) -> SMTP:
        smtp_class = _ImplicitTlsSmtp if self._implicit_tls else SMTP
        return smtp_class(self.handler, **self.SMTP_kwargs)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@contextmanager
def smtp_server(
    username: str | None = None,
    password: str | None = None,
    *,
    tls: LoopbackTls | None = None,
    implicit_tls: bool = False,
) -> Iterator[FakeSmtpServer]:
    """Run an SMTP server on a free loopback port for the ``with`` block.

    With ``username``/``password`` the server offers AUTH LOGIN and PLAIN and refuses mail from
    unauthenticated sessions. With ``tls`` it requires STARTTLS (before AUTH), or with
    ``implicit_tls`` speaks TLS from the first byte (SMTPS).
    """
    if implicit_tls and tls is None:
        raise ValueError("implicit_tls needs tls=loopback_tls(...)")
    if (username is None) != (password is None):
        raise ValueError("give both username and password, or neither")
    last_error: Exception | None = None
    for _ in range(5):
        fake = FakeSmtpServer(host=HOST, port=_free_port())
        kwargs: dict[str, Any] = {}
        if username is not None and password is not None:
            kwargs.update(
                authenticator=_authenticator(fake, username, password),
                auth_required=True,
                auth_require_tls=tls is not None,
            )
        if tls is not None and implicit_tls:
            kwargs.update(ssl_context=tls.server_context)
        elif tls is not None:
            kwargs.update(tls_context=tls.server_context, require_starttls=True)
        controller = _Controller(
            _RecordingHandler(fake),
            implicit_tls=implicit_tls,
            hostname=fake.host,
            port=fake.port,
            ready_timeout=10.0,
            **kwargs,
        )
        try:
            controller.start()
        except (OSError, RuntimeError) as exc:
            last_error = exc
            continue
        try:
            yield fake
        finally:
            controller.stop()
        return
    raise RuntimeError(f"could not start the loopback SMTP server: {last_error}")
