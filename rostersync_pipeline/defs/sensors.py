"""Sensors: districts kept in step with the config directory; bundles landing in drop folders."""


import json
from pathlib import Path

import dagster as dg

from rostersync_pipeline.config import district_config_paths, is_district_id
from rostersync_pipeline.defs.jobs import sync_district_job
from rostersync_pipeline.defs.partitions import districts_partitions, partition_changes
from rostersync_pipeline.lib.ingest.drop_folder import bundles_in
from rostersync_pipeline.resources.warehouse import RosterWarehouse


@dg.sensor(
    name="district_configs",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds a district partition for each valid config file. A partition is removed "
    "only when no file of its name is left, so a typo in a file does not drop its district.",
)
def district_configs_sensor(
    context: dg.SensorEvaluationContext, warehouse: RosterWarehouse
) -> dg.SensorResult:
    valid = warehouse.valid_districts(context.log)
    present = [p.stem for p in district_config_paths(Path(warehouse.config_dir))
               if is_district_id(p.stem)]
    added, _ = partition_changes(context.instance, sorted(valid))
    _, gone = partition_changes(context.instance, present)
    return dg.SensorResult(
        dynamic_partitions_requests=[
            districts_partitions.build_add_request(added),
            districts_partitions.build_delete_request(gone),
        ]
    )


@dg.sensor(
    name="drop_folder",
    job=sync_district_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts a district's sync when a new bundle lands in its drop folder (SFTP "
    "landing dir). The cursor remembers each file, so the same file never runs twice. An "
    "invalid district config is skipped with a warning.",
)
def drop_folder_sensor(context: dg.SensorEvaluationContext, warehouse: RosterWarehouse):
    seen: dict[str, list[str]] = json.loads(context.cursor) if context.cursor else {}
    districts = warehouse.valid_districts(context.log)
    requests = []
    for district_id, district in sorted(districts.items()):
        if not district.source.drop_folder:
            continue
        known = set(seen.get(district_id, []))
        for bundle in bundles_in(Path(district.source.drop_folder)):
            marker = f"{bundle.name}@{bundle.stat().st_mtime_ns}"
            if marker in known:
                continue
            known.add(marker)
            requests.append(dg.RunRequest(
                partition_key=district_id,
                run_key=f"{district_id}:{marker}",
                run_config={"ops": {"land_raw_roster": {"config": {"bundle_path": str(bundle)}}}},
                tags={"rostersync/district": district_id, "rostersync/trigger": "drop_folder"},
            ))
        seen[district_id] = sorted(known)
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(seen, sort_keys=True))
