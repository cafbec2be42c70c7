"""docs/config.md cannot drift from the config model: every key the pydantic model accepts is
documented, and every key a table of the page documents is one the model accepts."""

from __future__ import annotations

import re
import typing
from pathlib import Path

from pydantic import BaseModel

from rostersync_pipeline.config import DistrictConfig
from rostersync_pipeline.lib.ingest.providers import source_config_models

CONFIG_DOC = Path(__file__).resolve().parents[2] / "docs" / "config.md"
# Mappings whose keys are data (school ids, grade values, expectation names), not config keys.
FREE_KEYS = {"grade_codes", "schools.custom_names", "field_mapping", "expectations"}


def _models(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def accepted_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        keys.add(key)
        if key in FREE_KEYS:
            continue
        nested = source_config_models() if key == "source" else _models(field.annotation)
        for sub in nested:
            keys |= accepted_keys(sub, f"{key}.")
    return keys


def documented_rows(text: str) -> set[str]:
    """The first cell of every key table row, under the section heading it belongs to."""
    keys, section = set(), ""
    for line in text.splitlines():
        heading = re.match(r"^###\s+(.+)$", line)
        if heading:
            section = heading.group(1).strip().lower().replace(" ", "_")
            continue
        cell = re.match(r"^\| `([a-z_]+)`", line)
        if cell:
            keys.add((section, cell.group(1)))
    return keys


def test_every_key_the_model_accepts_is_documented() -> None:
    text = CONFIG_DOC.read_text(encoding="utf-8")
    documented = {key for _, key in documented_rows(text)}
    missing = sorted(key for key in accepted_keys(DistrictConfig)
                     if key.split(".")[-1] not in documented)
    assert missing == [], f"docs/config.md does not document: {missing}"


def test_every_top_level_and_source_key_the_doc_lists_exists() -> None:
    text = CONFIG_DOC.read_text(encoding="utf-8")
    accepted = {key.split(".")[-1] for key in accepted_keys(DistrictConfig)}
    rows = documented_rows(text)
    listed = {key for section, key in rows if section in ("top_level", "source")}
    assert listed - accepted == set(), f"documented but not accepted: {listed - accepted}"


def test_the_model_walk_sees_nested_and_union_keys() -> None:
    keys = accepted_keys(DistrictConfig)
    assert {"source.token_env", "source.drop_folder", "guard.min_entity_size",
            "notifications.on", "alerts.open_alert_policy"} <= keys
