"""Session fixtures shared by the test modules: real sample data and a real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES = REPO_ROOT.parent / "shared" / "data" / "samples"


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    if not SAMPLES.is_dir():
        pytest.fail(f"shared samples not found at {SAMPLES} (the repo's sibling shared/)")
    return SAMPLES


@pytest.fixture(scope="session")
def postgres_session() -> Iterator[object]:
    from rostersync_pipeline_tests.pg_server import postgres_server

    with postgres_server() as server:
        yield server


LEFTOVER_GRACE_S = 5.0
# Python's own helper for spawned processes lives as long as the test process does.
ALLOWED_CHILDREN = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


@pytest.fixture(scope="session", autouse=True)
def no_process_outlives_the_tests() -> Iterator[None]:
    """Every server, daemon, browser or worker a test starts is gone when the tests end."""
    import psutil

    yield
    me = psutil.Process()

    def leftovers() -> list[psutil.Process]:
        found = []
        for child in me.children(recursive=True):
            try:
                if child.status() == psutil.STATUS_ZOMBIE:
                    continue
                if any(allowed in " ".join(child.cmdline()) for allowed in ALLOWED_CHILDREN):
                    continue
            except psutil.Error:
                continue
            found.append(child)
        return found

    _, alive = psutil.wait_procs(leftovers(), timeout=LEFTOVER_GRACE_S)
    alive = [p for p in alive if p.is_running()]
    if alive:
        described = []
        for process in alive:
            try:
                described.append(f"{process.pid} {' '.join(process.cmdline())[:200]}")
                process.kill()
            except psutil.Error:
                pass
        pytest.fail("processes outlived the tests (killed now): " + "; ".join(described))
