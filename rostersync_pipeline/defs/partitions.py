"""Districts are dynamic partitions, kept in step with the district config directory."""

from __future__ import annotations

import warnings

import dagster as dg

districts_partitions = dg.DynamicPartitionsDefinition(name="districts")


def partition_changes(
    instance: dg.DagsterInstance, district_ids: list[str]
) -> tuple[list[str], list[str]]:
    """District partitions to add (new configs) and to delete (configs gone)."""
    current = set(instance.get_dynamic_partitions(districts_partitions.name))
    wanted = set(district_ids)
    return sorted(wanted - current), sorted(current - wanted)


def sync_district_partitions(instance: dg.DagsterInstance, district_ids: list[str]) -> list[str]:
    """Add partitions for new district configs and drop those whose config is gone, now."""
    added, gone = partition_changes(instance, district_ids)
    if added:
        instance.add_dynamic_partitions(districts_partitions.name, added)
    for district_id in gone:
        instance.delete_dynamic_partition(districts_partitions.name, district_id)
    return added


def district_check_spec(**spec: object) -> dg.AssetCheckSpec:
    """An asset check evaluated per district partition, so each district's verdict shows on its
    own partition. Partitioned check specs are a preview feature of Dagster 1.13 (pinned in
    pyproject); its warning is silenced here, once, instead of in every log."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(partitions_def=districts_partitions, **spec)
