"""A real, throwaway PostgreSQL server for tests: ``initdb`` + ``pg_ctl`` in a temp dir.

    with postgres_server() as pg:
        psycopg2.connect(**pg.connect_kwargs())
        os.environ.update(pg.env())          # DAGSTER_PG_HOST, _PORT, _USERNAME, _PASSWORD, _DB

The server listens on 127.0.0.1 on a free port (TCP with a random password, scram-sha-256) and
on a unix socket inside the temp dir (trust), with durability switched off for speed. When the
tests run as root (initdb refuses root), the cluster is owned by the ``postgres`` system user the
Debian packages create, else by ``nobody``. ``.ci/install-postgres.sh`` installs the binaries when
they are missing; without them :class:`PostgresUnavailableError` says so.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

HOST = "127.0.0.1"
UNPRIVILEGED_USERS = ("postgres", "nobody")
SERVER_SETTINGS = {
    "listen_addresses": f"'{HOST}'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
    "shared_buffers": "32MB",
    "log_min_messages": "warning",
}
START_TIMEOUT_S = 60


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL server binaries, or the server would not start (the log tail is included)."""


@dataclass(frozen=True)
class PostgresServer:
    """Connection details of a running test server. ``password`` is left out of ``repr``."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    dbname: str
    socket_dir: Path
    data_dir: Path

    @property
    def url(self) -> str:
        return (
            f"postgresql://{quote(self.user)}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{quote(self.dbname)}"
        )

    def connect_kwargs(self, dbname: str | None = None) -> dict[str, Any]:
        """Keyword arguments for ``psycopg2.connect``."""
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "dbname": dbname or self.dbname,
        }

    def env(self, prefix: str = "DAGSTER_PG_") -> dict[str, str]:
        """The variables ``deploy/dagster.yaml`` reads: HOST, PORT, USERNAME, PASSWORD, DB."""
        return {
            f"{prefix}HOST": self.host,
            f"{prefix}PORT": str(self.port),
            f"{prefix}USERNAME": self.user,
            f"{prefix}PASSWORD": self.password,
            f"{prefix}DB": self.dbname,
        }

    def create_database(self, dbname: str) -> PostgresServer:
        """A new empty database on the same server (e.g. one per test)."""
        _create_database(self, dbname)
        return PostgresServer(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=dbname,
            socket_dir=self.socket_dir,
            data_dir=self.data_dir,
        )


def find_postgres_bin_dir(search: Mapping[str, str] | None = None) -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``: ``$PG_BIN``, then PATH, then the newest
    ``/usr/lib/postgresql/*/bin`` (where Debian puts them, off PATH)."""
    env = os.environ if search is None else search
    candidates: list[Path] = []
    if env.get("PG_BIN"):
        candidates.append(Path(env["PG_BIN"]))
    on_path = shutil.which("initdb", path=env.get("PATH"))
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    debian = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parent.name.split(".")],
        reverse=True,
    )
    candidates += [Path(p) for p in debian]
    for directory in candidates:
        if all(os.access(directory / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return directory
    raise PostgresUnavailableError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH, in $PG_BIN or in "
        "/usr/lib/postgresql/*/bin; install them with `bash .ci/install-postgres.sh` "
        "(Debian package `postgresql`)"
    )


@contextmanager
def postgres_server(
    dbname: str = "rostersync_test",
    user: str = "rostersync",
    *,
    bin_dir: Path | None = None,
    os_user: str | None = None,
) -> Iterator[PostgresServer]:
    """Start a server, create ``dbname`` owned by superuser ``user``, yield it; stop and delete
    everything on exit. ``os_user`` (root only) overrides which system user owns the cluster."""
    bin_dir = bin_dir or find_postgres_bin_dir()
    owner = _cluster_owner(os_user)
    root = Path(tempfile.mkdtemp(prefix="rostersync-pg-"))
    try:
        os.chmod(root, 0o700)
        if owner is not None:
            os.chown(root, owner.pw_uid, owner.pw_gid)
        data_dir, socket_dir = root / "data", root / "sock"
        password = secrets.token_urlsafe(18)
        _initdb(bin_dir, owner, root, data_dir, socket_dir, user, password)
        server = _start(bin_dir, owner, root, data_dir, socket_dir, user, password, dbname)
        try:
            _create_database(server, dbname)
            yield server
        finally:
            _stop(bin_dir, owner, root, data_dir)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _cluster_owner(os_user: str | None) -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        if os_user is not None:
            raise ValueError("os_user only applies when the tests run as root")
        return None
    for name in (os_user,) if os_user else UNPRIVILEGED_USERS:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresUnavailableError(
        f"running as root and no unprivileged user ({', '.join(UNPRIVILEGED_USERS)}) to own "
        "the cluster; create one (e.g. `useradd --system postgres`)"
    )


def _run(
    cmd: list[str], owner: pwd.struct_passwd | None, cwd: Path, timeout: float = START_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LC_ALL": "C",
        "LANG": "C",
        "HOME": str(cwd),
    }
    kwargs: dict[str, Any] = {}
    if owner is not None:
        kwargs.update(user=owner.pw_uid, group=owner.pw_gid, extra_groups=[])
    return subprocess.run(
        cmd,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
        **kwargs,
    )


def _initdb(
    bin_dir: Path,
    owner: pwd.struct_passwd | None,
    root: Path,
    data_dir: Path,
    socket_dir: Path,
    user: str,
    password: str,
) -> None:
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n", encoding="utf-8")
    os.chmod(pwfile, 0o600)
    socket_dir.mkdir(mode=0o700)
    if owner is not None:
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        os.chown(socket_dir, owner.pw_uid, owner.pw_gid)
    try:
        result = _run(
            [
                str(bin_dir / "initdb"),
                "--pgdata",
                str(data_dir),
                "--username",
                user,
                "--pwfile",
                str(pwfile),
                "--auth-local",
                "trust",
                "--auth-host",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            owner,
            root,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        raise PostgresUnavailableError(
            f"initdb failed (exit {result.returncode}):\n{result.stderr[-2000:]}"
        )


def _start(
    bin_dir: Path,
    owner: pwd.struct_passwd | None,
    root: Path,
    data_dir: Path,
    socket_dir: Path,
    user: str,
    password: str,
    dbname: str,
) -> PostgresServer:
    log_file = root / "server.log"
    conf = data_dir / "postgresql.conf"
    base_conf = conf.read_text(encoding="utf-8")
    last_log = ""
    for _ in range(3):
        port = _free_port()
        settings = {
            **SERVER_SETTINGS,
            "port": str(port),
            "unix_socket_directories": f"'{socket_dir}'",
        }
        extra = "".join(f"{key} = {value}\n" for key, value in settings.items())
        conf.write_text(base_conf + "\n# rostersync test server\n" + extra, encoding="utf-8")
        result = _run(
            [
                str(bin_dir / "pg_ctl"),
                "start",
                "--pgdata",
                str(data_dir),
                "--log",
                str(log_file),
                "--wait",
                "--timeout",
                str(START_TIMEOUT_S),
            ],
            owner,
            root,
            timeout=START_TIMEOUT_S + 10,
        )
        if result.returncode == 0:
            return PostgresServer(
                host=HOST,
                port=port,
                user=user,
                password=password,
                dbname=dbname,
                socket_dir=socket_dir,
                data_dir=data_dir,
            )
        last_log = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
        if "could not bind" not in last_log and "already in use" not in last_log:
            break
    raise PostgresUnavailableError(
        f"PostgreSQL did not start (pg_ctl: {result.stderr.strip()}); server log:\n{last_log}"
    )


def _stop(bin_dir: Path, owner: pwd.struct_passwd | None, root: Path, data_dir: Path) -> None:
    for mode in ("fast", "immediate"):
        result = _run(
            [str(bin_dir / "pg_ctl"), "stop", "--pgdata", str(data_dir), "--mode", mode, "--wait"],
            owner,
            root,
        )
        if result.returncode == 0 or "No such file" in result.stderr:
            return


def _create_database(server: PostgresServer, dbname: str) -> None:
    import psycopg2
    from psycopg2 import sql

    conn = psycopg2.connect(**server.connect_kwargs(dbname="postgres"), connect_timeout=10)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("select 1 from pg_database where datname = %s", (dbname,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))
    finally:
        conn.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]
