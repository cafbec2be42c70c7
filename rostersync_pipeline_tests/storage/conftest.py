"""A fresh PostgreSQL database per destination test, on the session's one real server."""

from __future__ import annotations

import pytest

from rostersync_pipeline_tests.storage.pg_destination import DSN_ENV, new_database


@pytest.fixture
def pg(postgres_session, monkeypatch: pytest.MonkeyPatch):
    """An empty database; its URL is in the environment variable the test districts'
    ``destination.dsn_env`` names."""
    server = new_database(postgres_session)
    monkeypatch.setenv(DSN_ENV, server.url)
    return server
