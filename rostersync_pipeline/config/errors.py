"""The error every config problem raises, and the district id rules shared by the loaders."""

from __future__ import annotations

import re

DISTRICT_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


class ConfigError(ValueError):
    """A district config file that cannot be used; the message names file, key and reason."""


def is_district_id(text: str) -> bool:
    return DISTRICT_ID_PATTERN.fullmatch(text) is not None


def dagster_name(district_id: str) -> str:
    """The district id in Dagster's name alphabet (letters, digits, ``_``): ``a-b`` becomes
    ``a_b``, so two districts whose ids differ only in ``-``/``_`` would share Dagster names."""
    return district_id.replace("-", "_")
