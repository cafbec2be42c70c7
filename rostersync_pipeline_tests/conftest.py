"""Session fixtures shared by the test modules: real sample data and a real PostgreSQL server."""

from __future__ import annotations

import os
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
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder every xdist worker of this test session shares (without xdist, this session's
    own): for work done once per session under a file lock
    (``helpers.synced_once_per_session``)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    path = base / "session-cache"
    path.mkdir(exist_ok=True)
    return path


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


# The slowest files (seconds on a busy 2-core machine, measured 2026-12-02), run first: with
# ``-n 2 --dist loadfile`` each worker takes whole files in collection order, so a long file
# collected last would leave one worker running it alone while the other idles.
# test_bad_values, test_references and test_contradictions left the list on 2026-12-07: their
# cases sync together now (5, 7 and 4 syncs instead of 28, 21 and 14).
SLOW_FILES_FIRST = (
    "defs/test_many_districts.py",           # 241 s: waits for a real nightly tick
    "transform/test_incremental_equality.py",  # 115 s quiet-ish: 22 runs
    "console/test_console_browser.py",       # 171 s
    "storage/test_postgres_destination.py",  # 170 s
    "apply/test_matching_and_plan.py",       # 130 s
    "storage/test_postgres_crash_safety.py",  # 130 s
    "transform/test_samples_no_silent_nulls.py",  # 128 s
    "ingest/test_samples_sync.py",           # 100 s
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow files first (in ``SLOW_FILES_FIRST`` order), then the rest as collected; the
    tests of a file keep their order."""
    rank = {name: i for i, name in enumerate(SLOW_FILES_FIRST)}
    missing = [name for name in rank if not (REPO_ROOT / "rostersync_pipeline_tests" / name).is_file()]
    if missing:
        raise pytest.UsageError(f"conftest SLOW_FILES_FIRST names files that do not exist: {missing}")

    def weight(item: pytest.Item) -> int:
        relative = Path(str(item.path)).relative_to(REPO_ROOT / "rostersync_pipeline_tests")
        return rank.get(relative.as_posix(), len(rank))

    items.sort(key=weight)  # stable: each file's tests stay in order
