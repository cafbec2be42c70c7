"""The console as a person meets it: ``rostersync console`` in a subprocess on a free loopback
port, and Debian's Chromium driven by Playwright (never a downloaded browser).

Used by the browser tests and by ``docs/console/screenshots.py``. The console's output (its
log) goes to a file the tests read back, to check what it logged.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
ROSTERSYNC = Path(sys.executable).with_name("rostersync")
HOST = "127.0.0.1"
SECRET = "console-test-secret-" + "x" * 32
START_TIMEOUT_S = 60
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


@dataclass(frozen=True)
class Console:
    base_url: str
    log_path: Path
    process: subprocess.Popen

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def rostersync(*args: str, env: dict[str, str] | None = None, stdin: str | None = None,
               cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the ``rostersync`` command as a person would."""
    return subprocess.run([str(ROSTERSYNC), *args],
                          input=stdin, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, cwd=cwd, check=False)


def add_user(email: str, password: str, districts: list[str], config_dir: Path,
             warehouse_dir: Path) -> None:
    done = rostersync("console", "add-user", email,
                      *[arg for d in districts for arg in ("--district", d)],
                      "--password-stdin", "--config-dir", str(config_dir),
                      "--warehouse", str(warehouse_dir), stdin=password + "\n")
    assert done.returncode == 0, done.stdout + done.stderr


@contextmanager
def console_server(config_dir: Path, warehouse_dir: Path, log_path: Path,
                   env: dict[str, str] | None = None) -> Iterator[Console]:
    """``rostersync console`` on a free port until the block ends (SIGTERM, then SIGKILL)."""
    port = free_port()
    environ = {**os.environ, "ROSTERSYNC_CONSOLE_SECRET": SECRET, **(env or {})}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(ROSTERSYNC), "console", "--host", HOST,
             "--port", str(port), "--config-dir", str(config_dir),
             "--warehouse", str(warehouse_dir)],
            env=environ, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    console = Console(f"http://{HOST}:{port}", log_path, process)
    try:
        _wait_until_up(console)
        yield console
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_up(console: Console) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if console.process.poll() is not None:
            raise AssertionError(f"the console exited ({console.process.returncode}):\n"
                                 f"{console.log()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{console.base_url}/login", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise AssertionError(f"the console did not answer in {START_TIMEOUT_S}s:\n"
                         f"{console.log()[-3000:]}")


@contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium (Debian's) under Playwright, with a fresh profile of its own (Playwright
    makes a new user-data dir per launch); yields the browser."""
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        raise AssertionError(f"{CHROMIUM} not found: install it with `bash .ci/install-chromium.sh`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def log_in(page, base_url: str, email: str, password: str) -> None:
    """Fill in the login form and send it."""
    page.goto(f"{base_url}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def csrf_of(page) -> str:
    """The CSRF token of the page's forms (to replay a form by hand)."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.content())
    assert found, "no form with a CSRF token on the page"
    return found.group(1)


def wait_for_launch(page, timeout_s: float = 180) -> str:
    """On a launch page, wait until its run ends (polling the page as it reloads itself), then
    show the final page; returns ``succeeded`` or ``failed``."""
    url = page.url
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = page.request.get(url).text()
        if "Finished" in text or "Failed" in text:
            page.goto(url)
            return "succeeded" if "Finished" in text else "failed"
        time.sleep(0.5)
    raise AssertionError(f"the run did not end in {timeout_s}s: {page.inner_text('main')}")
