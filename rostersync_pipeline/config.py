"""District configuration: one YAML file per district, validated with pydantic.

A bad file fails at load with :class:`ConfigError` naming the file, the key and the reason.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DISTRICT_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
CRON_PATTERN = re.compile(r"^[\d*/,\-A-Za-z?]+(\s+[\d*/,\-A-Za-z?]+){4}$")

MatchKey = Literal["source_id", "sis_id", "state_id", "student_number", "email", "username"]
SchoolMatchKey = Literal["source_id", "sis_id", "state_id", "nces_id", "name"]
SourceType = Literal["oneroster_csv", "clever_api", "oneroster_rest", "clever_csv"]
ImportRule = Literal["create_update_deactivate", "create_update", "update_only"]
Entity = Literal["students", "educators", "schools", "sections"]


class ConfigError(ValueError):
    """A district config file that cannot be used; the message names file, key and reason."""


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

    @field_validator("district_id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        if not DISTRICT_ID_PATTERN.match(value):
            raise ValueError("use lower-case letters, digits, '-' or '_' (max 63 characters)")
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
        if not CRON_PATTERN.match(value.strip()):
            raise ValueError(f"not a 5-field cron string: {value!r}")
        return value.strip()

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


def _describe(exc: ValidationError, path: Path) -> str:
    lines = [f"{path}: invalid district config"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  key {key}: {err['msg']}")
    return "\n".join(lines)


def load_district_config(path: Path) -> DistrictConfig:
    """Load and validate one district YAML file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
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
    return _resolve_paths(config, path.parent)


def _resolve_paths(config: DistrictConfig, base: Path) -> DistrictConfig:
    updates = {}
    for key in ("path", "drop_folder"):
        value = getattr(config.source, key)
        if value and not Path(value).is_absolute():
            updates[key] = str((base / value).resolve())
    if not updates:
        return config
    return config.model_copy(update={"source": config.source.model_copy(update=updates)})


def district_config_paths(config_dir: Path) -> list[Path]:
    return sorted(p for p in Path(config_dir).glob("*.yaml") if not p.name.startswith("."))


def load_valid_district_configs(
    config_dir: Path,
) -> tuple[dict[str, DistrictConfig], dict[str, ConfigError]]:
    """Every valid district config, and the errors of the invalid ones (one bad file must not
    stop the other districts' schedules and sensors)."""
    valid: dict[str, DistrictConfig] = {}
    invalid: dict[str, ConfigError] = {}
    for path in district_config_paths(config_dir):
        try:
            valid[path.stem] = load_district_config(path)
        except ConfigError as exc:
            invalid[path.stem] = exc
    return valid, invalid


def load_district(config_dir: Path, district_id: str) -> DistrictConfig:
    path = Path(config_dir) / f"{district_id}.yaml"
    if not path.exists():
        raise ConfigError(f"{path}: no config for district {district_id!r} in {config_dir}")
    return load_district_config(path)
