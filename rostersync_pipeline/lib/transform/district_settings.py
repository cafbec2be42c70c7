"""Writes a district's settings into ``config.*`` tables, which the SQL models read.

Values reach SQL only as bound parameters or through these tables, never pasted into SQL text.
"""

from __future__ import annotations

import duckdb

from rostersync_pipeline.config import DistrictConfig
from rostersync_pipeline.lib.report.error_codes import ERROR_CODES
from rostersync_pipeline.lib.transform.grade_codes import grade_code_table


def write_settings(con: duckdb.DuckDBPyConnection, config: DistrictConfig) -> None:
    con.execute(
        "create or replace table config.district as select ?::varchar as district_id, "
        "?::varchar as import_rule, ?::boolean as create_unmatched_schools, "
        "?::varchar as student_id_field, ?::varchar[] as not_imported, "
        "?::varchar as open_alert_policy, ?::bigint as max_field_bytes",
        [config.district_id, config.import_rule, config.schools.create_unmatched,
         student_id_field(config), not_imported_fields(config),
         config.alerts.open_alert_policy, config.max_field_bytes],
    )
    # one row per entity the config models name (a field of MatchKeys / RequiredFields each)
    match_rows = [
        (entity, priority, key)
        for entity, entity_keys in config.match_keys.model_dump().items()
        for priority, key in enumerate(entity_keys, start=1)
    ]
    _replace(con, "match_keys", "entity varchar, priority integer, key_name varchar", match_rows)
    required_rows = [
        (entity, field)
        for entity, fields in config.required_fields.model_dump().items()
        for field in fields
    ]
    _replace(con, "required_fields", "entity varchar, field varchar", required_rows)
    grade_rows = sorted(grade_code_table(config.grade_codes).items())
    _replace(con, "grade_codes", "source_value varchar, grade_code varchar", grade_rows)
    name_rows = sorted(config.schools.custom_names.items())
    _replace(con, "school_names", "incoming_key varchar, custom_name varchar", name_rows)
    _replace(con, "programs", "program_name varchar", [(p,) for p in config.programs])
    code_rows = [(e.code, e.meaning, e.remediation) for e in ERROR_CODES.values()]
    _replace(con, "error_codes", "error_code varchar, meaning varchar, remediation varchar",
             code_rows)


def student_id_field(config: DistrictConfig) -> str:
    """The source field that carries the students' ID (app ``sis_id``)."""
    mapped = [k for k, v in config.field_mapping.items() if v == "sis_id"]
    return mapped[0] if mapped else config.student_id_field


def not_imported_fields(config: DistrictConfig) -> list[str]:
    return sorted(k for k, v in config.field_mapping.items() if v == "not_imported")


def _replace(con: duckdb.DuckDBPyConnection, table: str, columns: str, rows: list) -> None:
    con.execute(f"create or replace table config.{table} ({columns})")
    if rows:  # one insert (executemany runs one statement per row)
        row = "(" + ", ".join("?" for _ in rows[0]) + ")"
        con.execute(f"insert into config.{table} values " + ", ".join([row] * len(rows)),
                    [value for values in rows for value in values])
