"""Loading district files: one file, a whole config directory, or one district by id.

A bad file fails with :class:`ConfigError` naming the file, the key and the reason; loading a
directory returns the valid districts and the errors of the others, so one bad file never stops
the other districts. When the deployment sets ``ROSTERSYNC_SOURCE_ROOTS``, source paths must lie
inside those directories.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from rostersync_pipeline.config.district import DistrictConfig
from rostersync_pipeline.config.errors import ConfigError, dagster_name, is_district_id
from rostersync_pipeline.config.yaml_loader import parse_yaml, read_config_text
from rostersync_pipeline.lib.ingest.providers.base import ADAPTERS, FileSourceSettings

SOURCE_ROOTS_ENV = "ROSTERSYNC_SOURCE_ROOTS"


def source_roots_from_env() -> list[str] | None:
    """The directories ``ROSTERSYNC_SOURCE_ROOTS`` (``os.pathsep``-separated) allows source paths
    in; None when it is unset (no restriction). Set but empty allows none."""
    value = os.environ.get(SOURCE_ROOTS_ENV)
    if value is None:
        return None
    return [root for root in value.split(os.pathsep) if root]


def _describe(exc: ValidationError, path: Path) -> str:
    lines = [f"{path}: invalid district config"]
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        if loc[:1] == ["source"] and len(loc) > 1 and loc[1] in ADAPTERS:
            del loc[1]  # the union member pydantic tried: the file says it as source.type
        key = ".".join(loc) or "(top level)"
        lines.append(f"  key {key}: {err['msg']}")
    return "\n".join(lines)


def load_district_config(path: Path, source_roots: Sequence[str] | None = None) -> DistrictConfig:
    """Load and validate one district YAML file; ``source_roots``, when given, are the only
    directories its source paths may lie in."""
    path = Path(path)
    _refuse_name_collision(path, district_config_paths(path.parent))
    return _load_file(path, source_roots)


def _load_file(path: Path, source_roots: Sequence[str] | None) -> DistrictConfig:
    raw = parse_yaml(read_config_text(path), path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: key (top level): expected a mapping of settings")
    try:
        config = DistrictConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from exc
    if config.district_id != path.stem:
        raise ConfigError(
            f"{path}: key district_id: {config.district_id!r} must match the file name "
            f"({path.stem!r})"
        )
    config = _resolve_paths(config, path.parent)
    if source_roots is not None:
        _check_source_roots(config, path, source_roots)
    return config


def _refuse_name_collision(path: Path, config_paths: Sequence[Path]) -> None:
    """Two files whose ids differ only in ``-``/``_`` share Dagster names: both are refused."""
    others = [other for other in config_paths
              if other.stem != path.stem and is_district_id(other.stem)
              and dagster_name(other.stem) == dagster_name(path.stem)]
    if others:
        raise ConfigError(
            f"{path}: key district_id: {path.stem!r} and {', '.join(map(str, others))} have the "
            f"same Dagster name {dagster_name(path.stem)!r} ('-' and '_' are the same to Dagster); "
            "rename one district (its file and district_id)"
        )


def _resolve_paths(config: DistrictConfig, base: Path) -> DistrictConfig:
    if not isinstance(config.source, FileSourceSettings):
        return config
    updates = {}
    for key in ("path", "drop_folder"):
        value = getattr(config.source, key)
        if value and not Path(value).is_absolute():
            updates[key] = os.path.abspath(base / value)  # a link stays a link: refused later
    if not updates:
        return config
    return config.model_copy(update={"source": config.source.model_copy(update=updates)})


def _check_source_roots(config: DistrictConfig, path: Path, source_roots: Sequence[str]) -> None:
    if not isinstance(config.source, FileSourceSettings):
        return
    roots = [Path(os.path.realpath(root)) for root in source_roots]
    for key in ("path", "drop_folder"):
        value = getattr(config.source, key)
        if value and not any(Path(os.path.realpath(value)).is_relative_to(r) for r in roots):
            raise ConfigError(
                f"{path}: key source.{key}: {value} is outside the allowed source roots "
                f"({os.pathsep.join(map(str, roots)) or 'none'}, from {SOURCE_ROOTS_ENV})"
            )


def district_config_paths(config_dir: Path) -> list[Path]:
    return sorted(p for p in Path(config_dir).glob("*.yaml") if not p.name.startswith("."))


def load_valid_district_configs(
    config_dir: Path, source_roots: Sequence[str] | None = None
) -> tuple[dict[str, DistrictConfig], dict[str, ConfigError]]:
    """Every valid district config, and the errors of the invalid ones by file stem (one bad
    file must not stop the other districts' schedules and sensors)."""
    valid: dict[str, DistrictConfig] = {}
    invalid: dict[str, ConfigError] = {}
    paths = district_config_paths(config_dir)
    for path in paths:
        try:
            _refuse_name_collision(path, paths)
            valid[path.stem] = _load_file(path, source_roots)
        except ConfigError as exc:
            invalid[path.stem] = exc
    return valid, invalid


def load_district(
    config_dir: Path, district_id: str, source_roots: Sequence[str] | None = None
) -> DistrictConfig:
    path = Path(config_dir) / f"{district_id}.yaml"
    if not is_district_id(district_id):
        raise ConfigError(f"{path}: {district_id!r} is not a district id (lower-case letters, "
                          "digits, '-' or '_')")
    if not path.exists():
        raise ConfigError(f"{path}: no config for district {district_id!r} in {config_dir}")
    return load_district_config(path, source_roots)
