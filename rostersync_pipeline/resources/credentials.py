"""Provider credentials: the secrets a district's source names by environment variable.

A district config holds only the *names* of environment variables (``source.token_env``,
``client_id_env``, ``client_secret_env``); this resource reads their values when a run lands,
never at import or load time. Values are handed to the adapter for that run only: never stored,
never logged.
"""

from __future__ import annotations

import os

import dagster as dg

from rostersync_pipeline.lib.ingest.providers import adapter_for
from rostersync_pipeline.lib.ingest.providers.base import SourceSettings


class ProviderCredentials(dg.ConfigurableResource):
    """Reads the secrets a source's adapter needs from the process environment at run time."""

    def secrets_for(self, source: SourceSettings) -> dict[str, str]:
        """Secret name -> value; :class:`dagster.Failure` naming the variable if one is unset."""
        secrets = {}
        for name, env in adapter_for(source.type).secret_envs(source).items():
            if env not in os.environ:
                raise dg.Failure(f"environment variable {env} (source.{name}) is not set")
            secrets[name] = os.environ[env]
        return secrets
