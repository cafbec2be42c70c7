"""The district config model: one pydantic model, strict (unknown keys are errors), frozen.

``source`` is a discriminated union on ``type`` over the registered provider adapters' own models
(``lib/ingest/providers``): each source type has exactly its keys.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rostersync_pipeline.config.cron import normalize_cron
from rostersync_pipeline.config.errors import is_district_id
from rostersync_pipeline.lib.ingest.providers import source_config_models
from rostersync_pipeline.lib.ingest.providers.base import FileSourceSettings
from rostersync_pipeline.lib.storage.destinations.settings import (
    DestinationSettings,
    DuckDBDestinationSettings,
)
from rostersync_pipeline.lib.validate.suites import EXPECTATION_NAMES

MatchKey = Literal["source_id", "sis_id", "state_id", "student_number", "email", "username"]
SchoolMatchKey = Literal["source_id", "sis_id", "state_id", "nces_id", "name"]
ImportRule = Literal["create_update_deactivate", "create_update", "update_only"]
DEFAULT_SOURCE_TYPE = "oneroster_csv"
ExpectationName = Literal[EXPECTATION_NAMES]  # type: ignore[valid-type]

SourceConfig = Annotated[Union[tuple(source_config_models())], Field(discriminator="type")]  # noqa: UP007


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MatchKeys(_Strict):
    students: list[MatchKey] = ["source_id", "sis_id", "email"]
    educators: list[MatchKey] = ["source_id", "sis_id", "email"]
    # matched only against the app's guardians, never its students or educators
    guardians: list[MatchKey] = ["source_id", "sis_id", "email"]
    schools: list[SchoolMatchKey] = ["source_id", "sis_id", "name"]
    sections: list[Literal["source_id", "sis_id"]] = ["source_id", "sis_id"]

    @field_validator("*")
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
    # Clever keeps a contact's whole name in last_name; guardians have no birth date or grade
    guardians: list[UserField] = ["last_name"]
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
    source: SourceConfig
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
    full_recompute_days: int = Field(
        default=7, ge=0,
        description="A SQL model is rebuilt at least this often even when nothing "
        "it reads changed (0: every run rebuilds everything).")
    require_approval: bool = False
    notifications: NotificationsConfig = NotificationsConfig()
    expectations: dict[ExpectationName, Literal["hard", "soft"]] = Field(
        default_factory=dict,
        description="Expectation name -> hard (a failure stops apply) or soft (a warning), "
        "overriding the suite's default (docs/tables.md lists the expectations).",
    )
    max_field_bytes: int = Field(
        default=65536, ge=256, le=16 * 1024 * 1024,
        description="A value longer than this (in bytes) is refused (UNSAFE_VALUE) and its "
        "record is not imported.",
    )
    destination: DestinationSettings = Field(
        default_factory=DuckDBDestinationSettings,
        description="Where the roster is applied: the district's DuckDB file (default) or a "
        "schema of the app's PostgreSQL database (docs/destinations.md).",
    )

    @model_validator(mode="before")
    @classmethod
    def _default_source(cls, data: object) -> object:
        # a source block without a type (or no source block) is a OneRoster CSV source
        if isinstance(data, dict):
            source = data.get("source") or {}
            if isinstance(source, dict) and "type" not in source:
                data = {**data, "source": {"type": DEFAULT_SOURCE_TYPE, **source}}
        return data

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
        required = {*self.required_fields.students, *self.required_fields.educators,
                    *self.required_fields.guardians}
        dropped = sorted(k for k, v in self.field_mapping.items()
                         if v == "not_imported" and k in required)
        if dropped:
            raise ValueError(f"field_mapping: required field(s) {', '.join(dropped)} cannot be "
                             "not_imported")
        if isinstance(self.source, FileSourceSettings) and not (self.source.path
                                                                or self.source.drop_folder):
            raise ValueError(f"source: a {self.source.type} source needs path or drop_folder")
        return self
