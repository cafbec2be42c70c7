"""Districts are dynamic partitions, kept in step with the district config directory."""

from __future__ import annotations

import dagster as dg

districts_partitions = dg.DynamicPartitionsDefinition(name="districts")


def sync_district_partitions(instance: dg.DagsterInstance, district_ids: list[str]) -> list[str]:
    """Add partitions for new district configs and drop those whose config is gone."""
    current = set(instance.get_dynamic_partitions(districts_partitions.name))
    wanted = set(district_ids)
    added = sorted(wanted - current)
    if added:
        instance.add_dynamic_partitions(districts_partitions.name, added)
    for gone in sorted(current - wanted):
        instance.delete_dynamic_partition(districts_partitions.name, gone)
    return added
