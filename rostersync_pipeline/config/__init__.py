"""District configuration: one YAML file per district, validated with pydantic.

- :mod:`.district`: the model (``DistrictConfig``; ``source`` is a union over provider adapters);
- :mod:`.loading`: reading one file, a directory, or a district by id (``ConfigError`` naming
  file, key and reason; ``ROSTERSYNC_SOURCE_ROOTS``);
- :mod:`.yaml_loader`: the strict YAML reader; :mod:`.cron`: schedule strings.
"""

from rostersync_pipeline.config.cron import CronField, normalize_cron
from rostersync_pipeline.config.district import (
    AlertsConfig,
    DistrictConfig,
    GuardConfig,
    MatchKeys,
    NotificationsConfig,
    RequiredFields,
    SchoolsConfig,
    SourceConfig,
)
from rostersync_pipeline.config.errors import ConfigError, dagster_name, is_district_id
from rostersync_pipeline.config.loading import (
    SOURCE_ROOTS_ENV,
    district_config_paths,
    load_district,
    load_district_config,
    load_valid_district_configs,
    source_roots_from_env,
)
from rostersync_pipeline.config.yaml_loader import MAX_CONFIG_BYTES, MAX_NESTING

__all__ = [
    "MAX_CONFIG_BYTES", "MAX_NESTING", "SOURCE_ROOTS_ENV", "AlertsConfig", "ConfigError",
    "CronField", "DistrictConfig", "GuardConfig", "MatchKeys", "NotificationsConfig",
    "RequiredFields", "SchoolsConfig", "SourceConfig", "dagster_name", "district_config_paths",
    "is_district_id", "load_district", "load_district_config", "load_valid_district_configs",
    "normalize_cron", "source_roots_from_env",
]
