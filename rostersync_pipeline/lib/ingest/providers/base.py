"""The one interface every provider adapter implements, and the settings sources share.

An adapter declares its source type, the pydantic model of its ``source:`` block (a member of the
district config's discriminated union on ``type``), the raw tables it lands with the columns that
identify their records, the secrets it needs (as environment variable names in the config), and
``land``: fetch the district's roster and land it, as received, into ``raw.*``. It registers
itself with :func:`register`; the package imports every module in it, so adding a provider is
its module here plus its staging models, nothing else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import duckdb
from pydantic import BaseModel, ConfigDict, Field, field_validator

from rostersync_pipeline.lib.ingest.encodings import UTF8, normalize_encoding
from rostersync_pipeline.lib.ingest.http import RetryPolicy
from rostersync_pipeline.lib.ingest.landing import FetchResult


class SourceSettings(BaseModel):
    """What every ``source:`` block has (each source type adds its own keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    raw_retention_runs: int = Field(default=14, ge=0, description="Raw archives kept; 0: none.")


class FileSourceSettings(SourceSettings):
    """A source that delivers files: a bundle at ``path`` or dropped into ``drop_folder``."""

    path: str | None = Field(
        default=None,
        description="Bundle .zip or directory; relative paths are relative to the config file.",
    )
    drop_folder: str | None = Field(
        default=None, description="Folder watched by the drop-folder sensor (SFTP landing dir)."
    )
    encoding: str = Field(
        default=UTF8,
        description="Encoding of files without a byte-order mark (a Python codec name: "
        "cp1252, iso-8859-1, shift_jis...); every file is transcoded to UTF-8 at landing.",
    )
    keep_passwords: bool = Field(
        default=False,
        description="Land password columns (a risk: they then sit in raw tables and archives). "
        "Only for an app that sets initial passwords from the SIS.",
    )

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        return normalize_encoding(value)


class ApiSourceSettings(SourceSettings):
    """A source fetched over HTTP, page by page."""

    base_url: str | None = None
    page_limit: int = Field(default=1000, ge=1, le=10000)
    timeout_s: float = Field(default=60.0, gt=0, le=600)
    retry_max_attempts: int = Field(default=5, ge=1, le=20, description="Tries per request.")
    retry_backoff_s: float = Field(default=0.5, ge=0, le=60, description="First retry wait.")

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(max_attempts=self.retry_max_attempts,
                           backoff_initial_s=self.retry_backoff_s)


@dataclass(frozen=True)
class LandingContext:
    """What one run hands an adapter: its id, its working folder, the bundle (file sources) and
    the secrets read from the environment for it (never stored, never logged)."""

    run_id: str
    work_dir: Path
    bundle: Path | None = None
    secrets: Mapping[str, str] = field(default_factory=dict)


class ProviderAdapter(ABC):
    """Fetch + land for one source type; everything after ``raw.*`` is provider-free."""

    source_type: ClassVar[str]
    config_model: ClassVar[type[SourceSettings]]
    raw_tables: ClassVar[dict[str, tuple[str, ...]]]
    """Raw table -> its columns (VARCHAR unless :attr:`raw_column_types` says otherwise)."""
    raw_column_types: ClassVar[dict[str, dict[str, str]]] = {}
    id_columns: ClassVar[dict[str, tuple[str, ...]]]
    """Raw table -> the columns that identify a record (an empty one is MISSING_SOURCE_ID)."""
    file_based: ClassVar[bool] = False
    """True for sources that land a bundle of files (a path or a drop folder)."""

    def secret_envs(self, source: SourceSettings) -> dict[str, str]:
        """Secret name the adapter reads from ``LandingContext.secrets`` -> the environment
        variable the district config names for it."""
        return {}

    @abstractmethod
    def land(
        self, con: duckdb.DuckDBPyConnection, source: SourceSettings, context: LandingContext
    ) -> FetchResult:
        """Fetch the district's roster and land it into this adapter's ``raw.*`` tables."""

    def bundle(self, context: LandingContext) -> Path:
        """A file-based adapter's bundle for this run (the caller resolves it from the run
        config, ``source.path`` or ``source.drop_folder``)."""
        if context.bundle is None:
            raise ValueError(f"a {self.source_type} source needs source.path or a bundle in "
                             "source.drop_folder")
        return context.bundle


ADAPTERS: dict[str, ProviderAdapter] = {}


def register(adapter: type[ProviderAdapter]) -> type[ProviderAdapter]:
    """Class decorator: make ``adapter`` the one for its ``source_type``."""
    if adapter.source_type in ADAPTERS:
        raise ValueError(f"two adapters for source type {adapter.source_type!r}")
    ADAPTERS[adapter.source_type] = adapter()
    return adapter
