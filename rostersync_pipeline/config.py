"""District configuration: one YAML file per district, validated with pydantic.

A bad file fails at load with :class:`ConfigError` naming the file, the key and the reason. A file
is read as at most 256 KiB of UTF-8 and parsed by a YAML loader that refuses duplicate keys,
anchors and aliases, and nesting deeper than 12 levels. When the deployment sets
``ROSTERSYNC_SOURCE_ROOTS``, source paths must lie inside those directories.
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DISTRICT_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
MAX_CONFIG_BYTES = 256 * 1024
MAX_NESTING = 12
SOURCE_ROOTS_ENV = "ROSTERSYNC_SOURCE_ROOTS"

MatchKey = Literal["source_id", "sis_id", "state_id", "student_number", "email", "username"]
SchoolMatchKey = Literal["source_id", "sis_id", "state_id", "nces_id", "name"]
SourceType = Literal["oneroster_csv", "clever_api", "oneroster_rest", "clever_csv"]
ImportRule = Literal["create_update_deactivate", "create_update", "update_only"]
Entity = Literal["students", "educators", "schools", "sections"]


class ConfigError(ValueError):
    """A district config file that cannot be used; the message names file, key and reason."""


def is_district_id(text: str) -> bool:
    return DISTRICT_ID_PATTERN.fullmatch(text) is not None


def dagster_name(district_id: str) -> str:
    """The district id in Dagster's name alphabet (letters, digits, ``_``): ``a-b`` becomes
    ``a_b``, so two districts whose ids differ only in ``-``/``_`` would share Dagster names."""
    return district_id.replace("-", "_")


def source_roots_from_env() -> list[str] | None:
    """The directories ``ROSTERSYNC_SOURCE_ROOTS`` (``os.pathsep``-separated) allows source paths
    in; None when it is unset (no restriction). Set but empty allows none."""
    value = os.environ.get(SOURCE_ROOTS_ENV)
    if value is None:
        return None
    return [root for root in value.split(os.pathsep) if root]


@dataclass(frozen=True)
class CronField:
    """One field of a 5-field cron string: its allowed range and (month, weekday) names."""

    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()

    def value(self, text: str) -> int:
        if text.lower() in self.names:
            return self.low + self.names.index(text.lower())
        if not (text.isascii() and text.isdigit()):
            raise ValueError(f"{self.name}: {text!r} is not a number"
                             + (f" or a name ({', '.join(self.names)})" if self.names else ""))
        number = int(text)
        if not self.low <= number <= self.high:
            raise ValueError(f"{self.name}: {number} is outside {self.low}-{self.high}")
        return number

    def step(self, text: str) -> int:
        if not (text.isascii() and text.isdigit() and 1 <= int(text) <= self.high):
            raise ValueError(f"{self.name}: step {text!r} must be a number from 1 to {self.high}")
        return int(text)

    def expand(self, text: str) -> set[int]:
        """The values a comma list of ``*``, ``n``, ``a-b``, ``*/s`` and ``a-b/s`` stands for."""
        values: set[int] = set()
        for item in text.split(","):
            body, slash, step_text = item.partition("/")
            step = self.step(step_text) if slash else 1
            if body == "*":
                low, high = self.low, self.high
            elif "-" in body:
                start, _, end = body.partition("-")
                low, high = self.value(start), self.value(end)
                if low > high:
                    raise ValueError(f"{self.name}: range {body} runs backwards; write it as two "
                                     "ranges")
            elif slash:
                raise ValueError(f"{self.name}: a step needs '*' or a range before '/', not "
                                 f"{body!r}")
            else:
                low = high = self.value(body)
            values.update(range(low, high + 1, step))
        return values


CRON_FIELDS = (
    CronField("minute", 0, 59),
    CronField("hour", 0, 23),
    CronField("day of month", 1, 31),
    CronField("month", 1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep",
                               "oct", "nov", "dec")),
    CronField("day of week", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
)
DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def normalize_cron(expression: str) -> str:
    """The cron string with single spaces; ValueError naming the field if it is not a 5-field
    cron string (minute hour day-of-month month day-of-week) that can fire."""
    fields = expression.split()
    if len(fields) != len(CRON_FIELDS):
        raise ValueError(f"a cron string has 5 fields (minute hour day-of-month month "
                         f"day-of-week), {expression!r} has {len(fields)}")
    values = [field.expand(text) for field, text in zip(CRON_FIELDS, fields, strict=True)]
    days, months = values[2], values[3]
    if min(days) > max(DAYS_IN_MONTH[month - 1] for month in months):
        raise ValueError(f"day of month {fields[2]} never occurs in month {fields[3]}")
    return " ".join(fields)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Strict):
    type: SourceType = "oneroster_csv"
    path: str | None = Field(
        default=None,
        description="Bundle .zip or directory; relative paths are relative to the config file.",
    )
    drop_folder: str | None = Field(
        default=None, description="Folder watched by the drop-folder sensor (SFTP landing dir)."
    )
    base_url: str | None = None
    token_env: str | None = Field(default=None, description="Env var holding a bearer token.")
    client_id_env: str | None = None
    client_secret_env: str | None = None
    page_limit: int = Field(default=1000, ge=1, le=10000)
    api_version: Literal["v3.0", "v3.1"] = "v3.0"
    oneroster_version: Literal["1.1", "1.2"] = "1.1"
    token_url: str | None = Field(default=None, description="OneRoster 1.2 OAuth2 token URL.")
    scope: str | None = None
    timeout_s: float = Field(default=60.0, gt=0, le=600)
    retry_max_attempts: int = Field(default=5, ge=1, le=20, description="Tries per request.")
    retry_backoff_s: float = Field(default=0.5, ge=0, le=60, description="First retry wait.")
    events: bool = Field(default=False, description="Clever: events between full syncs.")
    full_sync_every_days: float = Field(default=7, gt=0, le=30)
    delta: bool = Field(default=False, description="OneRoster REST: dateLastModified deltas.")
    raw_retention_runs: int = Field(default=14, ge=0, description="Raw archives kept; 0: none.")


class MatchKeys(_Strict):
    students: list[MatchKey] = ["source_id", "sis_id", "email"]
    educators: list[MatchKey] = ["source_id", "sis_id", "email"]
    schools: list[SchoolMatchKey] = ["source_id", "sis_id", "name"]
    sections: list[Literal["source_id", "sis_id"]] = ["source_id", "sis_id"]

    @field_validator("students", "educators", "schools", "sections")
    @classmethod
    def _non_empty_unique(cls, keys: list[str]) -> list[str]:
        if not keys:
            raise ValueError("at least one match key is required")
        if len(set(keys)) != len(keys):
            raise ValueError("match keys must not repeat")
        return keys


UserField = Literal[
    "sis_id", "state_id", "student_number", "email", "username", "first_name", "middle_name",
    "last_name", "birth_date", "grade", "school",
]
SectionField = Literal["sis_id", "name", "school", "course", "term"]


class RequiredFields(_Strict):
    students: list[UserField] = ["sis_id", "first_name", "last_name", "grade"]
    educators: list[UserField] = ["first_name", "last_name", "email"]
    sections: list[SectionField] = ["name"]


class SchoolsConfig(_Strict):
    create_unmatched: bool = Field(
        default=False,
        description="Create app schools for unmatched incoming schools instead of "
        "reporting SCHOOL_NOT_MATCHED.",
    )
    custom_names: dict[str, str] = Field(
        default_factory=dict,
        description="Incoming school sis_id (or source id) -> the app's custom school name.",
    )


class GuardConfig(_Strict):
    max_deactivate_pct: float = Field(default=10.0, ge=0, le=100)
    max_update_pct: float = Field(default=75.0, ge=0, le=100)
    min_entity_size: int = Field(
        default=20,
        ge=0,
        description="Entities with fewer app records than this are not held by the percentage "
        "guards (a 10% rule on a 5-record table would hold every change).",
    )
    max_id_change_pct: float = Field(
        default=20.0, ge=0, le=100,
        description="Hold the run when more than this share of matched students or educators "
        "would change their primary ID (sis_id) at once (an integration switch).",
    )


class AlertsConfig(_Strict):
    open_alert_policy: Literal["create", "hold"] = Field(
        default="create",
        description="An incoming record with an open possible-duplicate alert: create it anyway "
        "(create) or hold it back until someone decides (hold).",
    )


StudentIdField = Literal["sis_id", "student_number", "state_id"]
MappedField = Literal[
    "sis_id", "state_id", "student_number", "email", "username", "middle_name", "birth_date",
    "programs",
]


class NotificationsConfig(_Strict):
    emails: list[str] = []
    on: list[Literal["failed", "held", "errors"]] = ["failed", "held", "errors"]

    @model_validator(mode="before")
    @classmethod
    def _unquoted_on(cls, data: object) -> object:
        # YAML 1.1 reads a bare `on:` key as the boolean true
        if isinstance(data, dict) and True in data:
            data = {("on" if k is True else k): v for k, v in data.items()}
        return data


class DistrictConfig(_Strict):
    district_id: str
    name: str
    timezone: str = "America/New_York"
    schedule: str = Field(default="0 2 * * *", description="Cron in the district's time zone.")
    source: SourceConfig = SourceConfig()
    match_keys: MatchKeys = MatchKeys()
    required_fields: RequiredFields = RequiredFields()
    grade_codes: dict[str, str] = Field(
        default_factory=dict,
        description="Extra or overriding source grade value -> app grade code.",
    )
    programs: list[str] = Field(default_factory=list, description="The district's program list.")
    student_id_field: StudentIdField = Field(
        default="sis_id", description="Which source field is the students' ID (app sis_id)."
    )
    field_mapping: dict[MappedField, Literal["not_imported", "sis_id"]] = Field(
        default_factory=dict,
        description="Source field -> 'not_imported', or 'sis_id' (student_number / state_id "
        "only: that field is the students' ID).",
    )
    alerts: AlertsConfig = AlertsConfig()
    schools: SchoolsConfig = SchoolsConfig()
    import_rule: ImportRule = "create_update_deactivate"
    guard: GuardConfig = GuardConfig()
    dry_run: bool = False
    require_approval: bool = False
    notifications: NotificationsConfig = NotificationsConfig()
    max_field_bytes: int = Field(
        default=65536, ge=256, le=16 * 1024 * 1024,
        description="A value longer than this (in bytes) is refused (UNSAFE_VALUE) and its "
        "record is not imported.",
    )

    @field_validator("district_id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        if not is_district_id(value):
            raise ValueError(f"{value!r}: use lower-case letters, digits, '-' or '_' (max 63 "
                             "characters), with no spaces or line breaks")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("schedule")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        return normalize_cron(value)

    @model_validator(mode="after")
    def _consistent_field_mapping(self) -> DistrictConfig:
        id_fields = [k for k, v in self.field_mapping.items() if v == "sis_id"]
        if any(k not in ("student_number", "state_id") for k in id_fields) or len(id_fields) > 1:
            raise ValueError("field_mapping: only one of student_number / state_id may map to "
                             "sis_id")
        if id_fields and self.student_id_field not in ("sis_id", id_fields[0]):
            raise ValueError(f"field_mapping maps {id_fields[0]} to sis_id but student_id_field "
                             f"is {self.student_id_field}")
        required = {*self.required_fields.students, *self.required_fields.educators}
        dropped = sorted(k for k, v in self.field_mapping.items()
                         if v == "not_imported" and k in required)
        if dropped:
            raise ValueError(f"field_mapping: required field(s) {', '.join(dropped)} cannot be "
                             "not_imported")
        return self


class _YamlRefusal(Exception):
    """A YAML construct district files may not use, with the key path and line it was found at."""

    def __init__(self, key: str | None, line: int, reason: str) -> None:
        super().__init__(reason)
        self.key, self.line, self.reason = key, line, reason


class _DistrictYamlLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate and merge (``<<``) keys, anchors and aliases
    (a few aliases can expand to gigabytes), non-scalar keys and nesting deeper than
    :data:`MAX_NESTING`."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._path: list[str] = []

    def _key(self, last: str | None = None) -> str:
        return ".".join([*self._path, *([last] if last is not None else [])]) or "(top level)"

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        event = self.peek_event()
        is_key = isinstance(parent, yaml.MappingNode) and index is None
        label = index.value if isinstance(index, yaml.ScalarNode) else index
        if label is not None:
            self._path.append(str(label))
        try:
            line = event.start_mark.line + 1
            if isinstance(event, yaml.AliasEvent) or event.anchor is not None:
                raise _YamlRefusal(self._key(), line, "YAML anchors and aliases (& and *) are "
                                                      "not allowed")
            if is_key and not isinstance(event, yaml.ScalarEvent):
                raise _YamlRefusal(self._key(), line, "a key must be a plain value")
            if isinstance(event, yaml.CollectionStartEvent) and len(self._path) >= MAX_NESTING:
                raise _YamlRefusal(self._key(), line, f"nested deeper than {MAX_NESTING} levels")
            return super().compose_node(parent, index)
        finally:
            if label is not None:
                self._path.pop()

    def compose_mapping_node(self, anchor: str | None) -> yaml.MappingNode:
        node = super().compose_mapping_node(anchor)
        first_lines: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _YamlRefusal(self._key("<<"), line, "merge keys (<<) are not allowed")
            identity = (key_node.tag, key_node.value)
            if identity in first_lines:
                raise _YamlRefusal(self._key(key_node.value), line,
                                   f"duplicate key (first at line {first_lines[identity]})")
            first_lines[identity] = line
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> object:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            raise _YamlRefusal(None, node.start_mark.line + 1,
                               f"cannot read the value {node.value!r}: {exc}") from exc


def _read_text(path: Path) -> str:
    """The file as text: at most :data:`MAX_CONFIG_BYTES` of UTF-8 (a BOM is allowed)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES // 1024} KiB; a district config "
                          "is a few KiB")
    body = data.removeprefix(codecs.BOM_UTF8)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start + len(data) - len(body)
        line = data.count(b"\n", 0, offset) + 1
        raise ConfigError(f"{path}: not UTF-8: byte 0x{data[offset]:02x} at offset {offset} "
                          f"(line {line}); save it as UTF-8") from exc


def _yaml_data(text: str) -> object:
    loader = _DistrictYamlLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _parse_yaml(text: str, path: Path) -> object:
    try:
        return _yaml_data(text)
    except _YamlRefusal as exc:
        where = f"key {exc.key} (line {exc.line})" if exc.key else f"line {exc.line}"
        raise ConfigError(f"{path}: {where}: {exc.reason}") from exc
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError(f"{path}: not valid YAML at line {line}: character "
                          f"#x{exc.character:04x} is not allowed ({exc.reason})") from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = "; ".join(part for part in (exc.context, exc.problem) if part)
        raise ConfigError(f"{path}: not valid YAML{where}: {reason}") from exc


def _describe(exc: ValidationError, path: Path) -> str:
    lines = [f"{path}: invalid district config"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  key {key}: {err['msg']}")
    return "\n".join(lines)


def load_district_config(path: Path, source_roots: Sequence[str] | None = None) -> DistrictConfig:
    """Load and validate one district YAML file; ``source_roots``, when given, are the only
    directories its source paths may lie in."""
    path = Path(path)
    _refuse_name_collision(path, district_config_paths(path.parent))
    return _load_file(path, source_roots)


def _load_file(path: Path, source_roots: Sequence[str] | None) -> DistrictConfig:
    raw = _parse_yaml(_read_text(path), path)
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
    updates = {}
    for key in ("path", "drop_folder"):
        value = getattr(config.source, key)
        if value and not Path(value).is_absolute():
            updates[key] = os.path.abspath(base / value)  # a link stays a link: refused later
    if not updates:
        return config
    return config.model_copy(update={"source": config.source.model_copy(update=updates)})


def _check_source_roots(config: DistrictConfig, path: Path, source_roots: Sequence[str]) -> None:
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
