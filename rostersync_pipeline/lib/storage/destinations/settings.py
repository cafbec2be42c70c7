"""The district config's ``destination`` block: where the roster is applied (docs/config.md).

A discriminated union on ``type``: ``duckdb`` (the ``roster`` schema of the district's DuckDB
file, the default) or ``postgres`` (a schema of the app's own PostgreSQL database; the DSN comes
from the environment variable ``dsn_env`` names, read at run time). Either may POST a signed
webhook per applied run.
"""

from __future__ import annotations

import re
import warnings
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
RESERVED_SCHEMAS = ("public", "information_schema")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _env_name(value: str) -> str:
    if not ENV_NAME.match(value):
        raise ValueError(f"{value!r} is not an environment variable name")
    return value


class WebhookSettings(_Strict):
    url: str = Field(description="http(s) URL the app receives one POST per applied run on.")
    secret_env: str = Field(description="Environment variable holding the HMAC-SHA256 secret.")
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    retries: int = Field(default=3, ge=0, le=10, description="Retries after the first attempt.")
    backoff_s: float = Field(default=1.0, ge=0, le=60,
                             description="First wait between attempts; doubles, at most 30 s.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("webhook.url must be an http:// or https:// URL")
        return value

    @field_validator("secret_env")
    @classmethod
    def _secret_env_name(cls, value: str) -> str:
        return _env_name(value)


class DuckDBDestinationSettings(_Strict):
    type: Literal["duckdb"] = "duckdb"
    webhook: WebhookSettings | None = None


with warnings.catch_warnings():
    # ``schema`` is the key the docs name; pydantic warns that it shadows BaseModel.schema()
    warnings.filterwarnings("ignore", message='Field name "schema"', category=UserWarning)

    class PostgresDestinationSettings(_Strict):
        type: Literal["postgres"]
        dsn_env: str = Field(description="Environment variable holding the libpq DSN / URL.")
        schema: str = Field(default="rostersync",
                            description="The schema rostersync owns in the app's database.")
        lock_wait_s: float = Field(
            default=60.0, ge=0, le=3600,
            description="How long an apply waits for another deployment's apply to the same "
            "destination (advisory lock) before it gives up.")
        webhook: WebhookSettings | None = None

        @field_validator("dsn_env")
        @classmethod
        def _dsn_env_name(cls, value: str) -> str:
            return _env_name(value)

        @field_validator("schema")
        @classmethod
        def _own_schema(cls, value: str) -> str:
            if not SCHEMA_NAME.match(value):
                raise ValueError(f"{value!r}: a schema name is lower-case letters, digits and _ "
                                 "(at most 63), starting with a letter or _")
            if value in RESERVED_SCHEMAS or value.startswith("pg_"):
                raise ValueError(f"{value!r} is not a schema rostersync may own; use a schema "
                                 "of its own (default rostersync)")
            return value


DestinationSettings = Annotated[
    Union[DuckDBDestinationSettings, PostgresDestinationSettings],  # noqa: UP007
    Field(discriminator="type"),
]
