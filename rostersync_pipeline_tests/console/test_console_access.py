"""Who may do what in the console, checked route by route in-process (Starlette's test client):
every district route of another district is 404, every form needs the session's CSRF token,
logins are rate limited per account and per address, sessions end when the account changes,
bodies are capped, pages carry security headers; and the ``rostersync console`` commands.

No district is synced here: the checks happen before any district data is read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from rostersync_pipeline.cli.main import main
from rostersync_pipeline.console import auth, store
from rostersync_pipeline.console.app import ConsoleSettings, create_app
from rostersync_pipeline.console.auth import LoginLimits, load_user, save_user, verify_login
from rostersync_pipeline.demo.app_roster import write_district_config

PASSWORD = "correct horse battery staple"
USER = "staff@district-a.example.org"
SECRET = "s" * 40


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    config, warehouse = tmp_path / "config", tmp_path / "warehouse"
    for district in ("district-a", "district-b"):
        write_district_config(config, district, tmp_path / "bundles" / district)
    db = store.console_db_path(warehouse)
    save_user(db, USER, PASSWORD, ["district-a"])
    return config, warehouse, db


def make_client(setup, **settings) -> TestClient:
    config, warehouse, _ = setup
    return TestClient(create_app(ConsoleSettings(config, warehouse, SECRET, **settings)))


@pytest.fixture
def client(setup) -> Iterator[TestClient]:
    with make_client(setup) as client:
        yield client


def token(client: TestClient, path: str = "/login") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


def log_in(client: TestClient, email: str = USER, password: str = PASSWORD):
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": token(client), "next": "/"},
                       follow_redirects=False)


def district_routes(client: TestClient, method: str) -> list[str]:
    """Every district route of the app with ``method``, its ids filled in."""
    paths = [route.path for route in client.app.routes
             if isinstance(route, Route) and route.path.startswith("/d/")
             and method in (route.methods or ())]
    assert paths
    return [re.sub(r"\{(\w+)\}", lambda m: "district-b" if m.group(1) == "district_id"
                   else "1", path) for path in paths]


def test_every_district_page_and_form_of_another_district_is_404(client: TestClient) -> None:
    assert log_in(client).status_code == 303
    csrf = token(client, "/d/district-a/")
    unknown = client.get("/d/no-such-district/")
    assert unknown.status_code == 404
    for path in district_routes(client, "GET"):
        response = client.get(path)
        assert (response.status_code, response.text) == (404, unknown.text), path
    for path in district_routes(client, "POST"):
        assert client.post(path, data={"csrf_token": csrf},
                           follow_redirects=False).status_code == 404, path


def test_every_form_needs_this_sessions_csrf_token(client: TestClient) -> None:
    assert log_in(client).status_code == 303
    for path in district_routes(client, "POST"):
        own = path.replace("district-b", "district-a")
        assert client.post(own, data={}, follow_redirects=False).status_code == 403, own
        assert client.post(own, data={"csrf_token": "forged"},
                           follow_redirects=False).status_code == 403, own
    assert client.post("/login", data={"email": USER, "password": PASSWORD},
                       follow_redirects=False).status_code == 403


def test_without_a_session_every_district_route_asks_to_log_in(client: TestClient) -> None:
    for method in ("GET", "POST"):
        for path in district_routes(client, method):
            response = client.request(method, path.replace("district-b", "district-a"),
                                      follow_redirects=False)
            assert (response.status_code, response.headers["location"].split("?")[0]) == \
                (303, "/login"), path


def test_a_wrong_password_and_an_unknown_account_fail_alike(client: TestClient,
                                                            monkeypatch) -> None:
    checked = []

    class CountingHasher:
        def __init__(self, real) -> None:
            self.real = real

        def verify(self, stored: str, password: str) -> bool:
            checked.append(stored)
            return self.real.verify(stored, password)

        def __getattr__(self, name: str):
            return getattr(self.real, name)

    monkeypatch.setattr(auth, "_hasher", CountingHasher(auth._hasher))
    for email in (USER, "nobody@example.org"):
        response = log_in(client, email, "wrong password!")
        assert response.status_code == 401 and "Wrong email or password" in response.text
    assert len(checked) == 2


def test_logins_are_limited_per_account_and_per_address(setup) -> None:
    limits = LoginLimits.default(account_failures=3, address_failures=5)
    with make_client(setup, limits=limits) as client:
        for _ in range(3):
            assert log_in(client, password="wrong password!").status_code == 401
        assert log_in(client).status_code == 429
        for n in range(2):
            assert log_in(client, f"other{n}@example.org", "wrong password!").status_code == 401
        limits.per_account.clear(auth.normalize_email(USER))
        assert log_in(client).status_code == 429


def test_the_sliding_window_forgets_old_failures() -> None:
    window = auth.SlidingWindow(2, 60.0, max_keys=3)
    window.add("a", now=0)
    window.add("a", now=10)
    assert window.retry_after("a", now=20) == pytest.approx(40)
    assert window.retry_after("a", now=61) == 0
    for key in "bcd":
        window.add(key, now=70)
    assert window.retry_after("a", now=70) == 0 and len(window._events) == 3


def test_a_changed_account_ends_its_sessions(setup, client: TestClient) -> None:
    _, _, db = setup
    assert log_in(client).status_code == 303
    assert client.get("/d/district-a/").status_code == 200
    save_user(db, USER, PASSWORD + "!", ["district-a"], update=True)
    assert client.get("/d/district-a/", follow_redirects=False).status_code == 303


def test_a_tampered_session_cookie_is_no_session(client: TestClient) -> None:
    assert log_in(client).status_code == 303
    cookie = client.cookies["rostersync_console"]
    client.cookies.set("rostersync_console", cookie[:-2] + ("A" if cookie[-2] != "A" else "B")
                       + cookie[-1])
    assert client.get("/d/district-a/", follow_redirects=False).status_code == 303


def test_bodies_are_capped_and_pages_carry_security_headers(setup) -> None:
    with make_client(setup, upload_max_bytes=1000) as client:
        response = client.get("/login")
        assert "script-src" not in response.headers["content-security-policy"]
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] == "DENY"
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        assert client.post("/login", content=b"x" * 70_000).status_code == 413
        assert log_in(client).status_code == 303
        csrf = token(client, "/d/district-a/upload")
        big = client.post("/d/district-a/upload", data={"csrf_token": csrf},
                          files={"bundle": ("b.zip", b"PK" + b"0" * 200_000)})
        assert big.status_code == 413


def test_passwords_are_stored_as_argon2id_hashes(setup) -> None:
    _, _, db = setup
    with store.connect(db) as con:
        stored = con.execute("select password_hash from users").fetchone()[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert verify_login(db, USER.upper(), PASSWORD) == load_user(db, USER)


def test_console_commands_add_and_remove_accounts(setup, monkeypatch, capsys) -> None:
    config, warehouse, db = setup
    common = ["--config-dir", str(config), "--warehouse", str(warehouse)]

    def run(*args: str, password: str = PASSWORD) -> int:
        monkeypatch.setattr("sys.stdin", __import__("io").StringIO(password + "\n"))
        return main(["console", *args, *common])

    assert run("add-user", "new@example.org", "--district", "district-b", "--password-stdin") == 0
    assert load_user(db, "new@example.org").districts == ("district-b",)
    assert run("add-user", "new@example.org", "--district", "district-a",
               "--password-stdin") == 1
    assert "already has an account" in capsys.readouterr().err
    assert run("add-user", "x@example.org", "--district", "nowhere", "--password-stdin") == 1
    assert "unknown district" in capsys.readouterr().err
    assert run("add-user", "y@example.org", "--district", "district-a", "--password-stdin",
               password="short") == 1
    assert run("add-user", "new@example.org", "--district", "district-a", "--district",
               "district-b", "--password-stdin", "--update") == 0
    assert load_user(db, "new@example.org").districts == ("district-a", "district-b")
    assert main(["console", "--warehouse", str(warehouse), "remove-user",
                 "new@example.org"]) == 0
    assert load_user(db, "new@example.org") is None


def test_the_console_refuses_to_start_without_a_secret(setup, monkeypatch, capsys) -> None:
    config, warehouse, _ = setup
    monkeypatch.delenv(auth.SECRET_ENV, raising=False)
    assert main(["console", "--config-dir", str(config), "--warehouse", str(warehouse)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and auth.SECRET_ENV in err[0]
