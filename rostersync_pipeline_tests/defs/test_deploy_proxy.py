"""No open door: deploy/nginx/rostersync-dagster.conf run by a real nginx on loopback ports in
front of a tiny HTTP backend (standing in for dagster-webserver), and the deploy files' promises
(telemetry off everywhere, the webserver never bound to all interfaces)."""

from __future__ import annotations

import base64
import datetime
import getpass
import hashlib
import http.client
import ipaddress
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
PROXY_CONF = DEPLOY / "nginx" / "rostersync-dagster.conf"
USER, PASSWORD = "ops", "correct horse battery staple"


def _nginx_binary() -> str:
    found = os.environ.get("NGINX") or shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if not found:
        pytest.fail("nginx not found: install it with `bash .ci/install-nginx.sh` (or set NGINX "
                    "to an nginx binary)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ssha_htpasswd_line(user: str, password: str) -> str:
    """An htpasswd line in nginx's salted-SHA-1 scheme ({SSHA}: base64(sha1(password + salt) +
    salt)); nginx reads it without crypt(3)."""
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return f"{user}:{{SSHA}}{base64.b64encode(digest + salt).decode()}\n"


def _self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and dagster.example.org and its key, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dagster.example.org")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("dagster.example.org"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "proxy.crt", directory / "proxy.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _render(text: str, replacements: dict[str, str]) -> str:
    """The config with each placeholder replaced; each must occur exactly once, so the test
    fails when the shipped file changes under it."""
    for old, new in replacements.items():
        assert text.count(old) == 1, f"{PROXY_CONF.name}: expected {old!r} exactly once"
        text = text.replace(old, new)
    return text


@dataclass
class Backend:
    """A loopback HTTP server that answers 200 and records each request's headers."""

    port: int
    requests: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
def backend() -> Iterator[Backend]:
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()})
            body = b"dagster-webserver stand-in\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Backend(server.server_address[1], seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass(frozen=True)
class Proxy:
    http_port: int
    https_port: int
    tls: ssl.SSLContext

    def get(self, path: str = "/", headers: dict[str, str] | None = None,
            auth: tuple[str, str] | None = None) -> http.client.HTTPResponse:
        connection = http.client.HTTPSConnection("127.0.0.1", self.https_port, context=self.tls,
                                                 timeout=10)
        sent = dict(headers or {})
        if auth:
            sent["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
        connection.request("GET", path, headers=sent)
        response = connection.getresponse()
        response.read()
        connection.close()
        return response


def _wait_for_port(port: int, process: subprocess.Popen, error_log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"nginx exited with {process.returncode}:\n"
                        f"{error_log.read_text(errors='replace') if error_log.exists() else ''}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"nginx did not listen on 127.0.0.1:{port} within 20 s")


@pytest.fixture
def proxy(tmp_path: Path, backend: Backend) -> Iterator[Proxy]:
    nginx = _nginx_binary()
    cert, key = _self_signed_certificate(tmp_path)
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(_ssha_htpasswd_line(USER, PASSWORD), encoding="utf-8")
    http_port, https_port = _free_port(), _free_port()
    site = tmp_path / PROXY_CONF.name
    site.write_text(_render(PROXY_CONF.read_text(encoding="utf-8"), {
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl;": f"listen 127.0.0.1:{https_port} ssl;",
        "ssl_certificate     /etc/nginx/tls/rostersync-dagster.crt;": f"ssl_certificate {cert};",
        "ssl_certificate_key /etc/nginx/tls/rostersync-dagster.key;":
            f"ssl_certificate_key {key};",
        "auth_basic_user_file /etc/nginx/rostersync-dagster.htpasswd;":
            f"auth_basic_user_file {htpasswd};",
        "proxy_pass http://127.0.0.1:3000;": f"proxy_pass http://127.0.0.1:{backend.port};",
    }), encoding="utf-8")
    # as root, workers would drop to `nobody`, who cannot read pytest's private tmp_path
    user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
    temp_paths = "".join(f"    {kind}_temp_path {tmp_path / kind};\n"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main_conf = tmp_path / "nginx.conf"
    main_conf.write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {tmp_path / 'nginx.pid'};\n"
        f"error_log {tmp_path / 'error.log'} warn;\nevents {{ worker_connections 64; }}\n"
        f"http {{\n    access_log {tmp_path / 'access.log'};\n{temp_paths}"
        f"    include {site};\n}}\n", encoding="utf-8")
    error_log = tmp_path / "error.log"
    process = subprocess.Popen(
        [nginx, "-p", str(tmp_path), "-c", str(main_conf), "-e", str(error_log)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(https_port, process, error_log)
        tls = ssl.create_default_context(cafile=str(cert))
        yield Proxy(http_port, https_port, tls)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def test_the_proxy_asks_for_a_password_before_anything_reaches_dagster(
    proxy: Proxy, backend: Backend
) -> None:
    anonymous = proxy.get()
    assert anonymous.status == 401
    assert anonymous.getheader("WWW-Authenticate") == 'Basic realm="rostersync Dagster"'
    assert proxy.get(auth=(USER, "wrong password")).status == 401
    assert proxy.get(auth=("intruder", PASSWORD)).status == 401
    assert backend.requests == []

    assert proxy.get("/runs", auth=(USER, PASSWORD)).status == 200
    assert len(backend.requests) == 1
    forwarded = backend.requests[0]
    assert "authorization" not in forwarded
    assert forwarded["x-forwarded-proto"] == "https"
    assert forwarded["connection"] == "close"


def test_the_websocket_upgrade_reaches_the_webserver(proxy: Proxy, backend: Backend) -> None:
    response = proxy.get("/graphql", auth=(USER, PASSWORD), headers={
        "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
    })
    assert response.status == 200
    assert backend.requests[-1]["upgrade"] == "websocket"
    assert backend.requests[-1]["connection"] == "upgrade"


def test_plain_http_only_redirects_and_large_bodies_are_refused(proxy: Proxy) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", proxy.http_port, timeout=10)
    connection.request("GET", "/runs", headers={"Host": "dagster.example.org"})
    response = connection.getresponse()
    assert response.status == 301
    assert response.getheader("Location") == "https://dagster.example.org/runs"
    connection.close()

    limit = re.search(r"client_max_body_size (\d+)m;", PROXY_CONF.read_text(encoding="utf-8"))
    assert limit is not None
    tls = http.client.HTTPSConnection("127.0.0.1", proxy.https_port, context=proxy.tls,
                                      timeout=10)
    tls.putrequest("POST", "/graphql")
    tls.putheader("Content-Length", str(int(limit.group(1)) * 1024 * 1024 + 1))
    tls.endheaders()
    assert tls.getresponse().status == 413
    tls.close()


def _deploy_instance_files() -> list[Path]:
    return sorted(DEPLOY.rglob("dagster.yaml"))


def test_every_deploy_instance_file_turns_telemetry_and_nux_off() -> None:
    files = _deploy_instance_files()
    assert {p.relative_to(DEPLOY).as_posix() for p in files} >= {"dagster.yaml",
                                                                 "local/dagster.yaml"}
    for path in files:
        instance = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert instance["telemetry"] == {"enabled": False}, path
        assert instance["nux"] == {"enabled": False}, path


def test_local_instance_queues_one_run_per_district(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(DEPLOY / "local" / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    instance = dg.DagsterInstance.get()
    try:
        assert isinstance(instance.run_coordinator, dg.QueuedRunCoordinator)
        queue = instance.get_concurrency_config().run_queue_config
        assert instance.get_settings("telemetry") == {"enabled": False}
    finally:
        instance.dispose()
    assert queue is not None
    assert {(rule["key"], rule["limit"], rule["value"]["applyLimitPerUniqueValue"])
            for rule in queue.tag_concurrency_limits} == {
        ("dagster/partition", 1, True), ("rostersync/district", 1, True)}


def test_documented_entry_points_keep_dagster_on_localhost_with_telemetry_off() -> None:
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    assert "0.0.0.0" not in readme
    assert re.search(r"dagster-webserver .*-h 127\.0\.0\.1", readme)
    assert "anyone who can reach the Dagster UI can launch runs" in " ".join(readme.split())
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    dev = makefile[makefile.index("\ndev:"):].split("\n\n")[0]
    assert "DAGSTER_HOME=$(CURDIR)/.dagster_home" in dev
    assert "deploy/local/dagster.yaml" in makefile
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["tool"]["dg"]["cli"]["telemetry"] == {"enabled": False}


def test_dg_records_no_telemetry_with_the_local_dagster_home(tmp_path: Path) -> None:
    """dg 1.13 reads its telemetry switch from the user's dg.toml and $DAGSTER_HOME/dagster.yaml
    (not from pyproject.toml): with the documented DAGSTER_HOME it records nothing."""
    dg_cli = Path(sys.executable).parent / "dg"
    if not dg_cli.exists():
        pytest.fail(f"{dg_cli} not found: install the dev extra (pip install -e '.[dev]')")
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(DEPLOY / "local" / "dagster.yaml", dagster_home / "dagster.yaml")

    inherited = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "DG_CLI_CONFIG")}

    def check_yaml(home: Path, **env: str) -> list[Path]:
        home.mkdir()
        result = subprocess.run(
            [str(dg_cli), "check", "yaml"], cwd=REPO_ROOT, capture_output=True, text=True,
            timeout=120, env={**inherited, "HOME": str(home),
                              "XDG_CONFIG_HOME": str(home / ".config"), **env},
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return sorted(tmp_path.rglob("event.log"))

    assert check_yaml(tmp_path / "home", DAGSTER_HOME=str(dagster_home)) == []
    # the same command without DAGSTER_HOME does record (to the throwaway HOME): the check works
    assert check_yaml(tmp_path / "bare-home") == [tmp_path / "bare-home" / ".dagster" / "logs" /
                                                  "event.log"]
