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
