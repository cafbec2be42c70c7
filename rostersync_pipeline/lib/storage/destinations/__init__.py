"""Roster destinations: where apply writes the app's roster (see :mod:`.interface`)."""

from __future__ import annotations

from pathlib import Path

from rostersync_pipeline.lib.storage.destinations.interface import (
    AppliedRun,
    DestinationRefused,
    RosterDestination,
)
from rostersync_pipeline.lib.storage.destinations.settings import (
    DestinationSettings,
    DuckDBDestinationSettings,
    PostgresDestinationSettings,
)

__all__ = ["AppliedRun", "DestinationRefused", "RosterDestination", "destination_for"]


def destination_for(
    settings: DestinationSettings, district_id: str, scratch_parent: Path | str | None = None
) -> RosterDestination:
    """The destination a district's ``destination`` config names (nothing is opened yet)."""
    if isinstance(settings, PostgresDestinationSettings):
        from rostersync_pipeline.lib.storage.destinations.postgres import PostgresDestination

        return PostgresDestination(settings, district_id, scratch_parent)
    if isinstance(settings, DuckDBDestinationSettings):
        from rostersync_pipeline.lib.storage.destinations.duckdb import DuckDBDestination

        return DuckDBDestination(settings, district_id)
    raise TypeError(f"unknown destination settings {type(settings).__name__}")
