"""Clever objects (API pages and events) landed as ``raw.clever_*`` rows: ``id``, ``data`` JSON."""

from __future__ import annotations

import json

import duckdb


def land_records(
    con: duckdb.DuckDBPyConnection, table: str, records: list[dict], *,
    run_id: str, source_file: str, first_row: int, ext: list[str | None] | None = None,
) -> int:
    """Append Clever objects to ``raw.<table>`` as (id, data JSON) with meta columns."""
    if not records:
        return 0
    import pyarrow as pa  # only a Clever API landing needs it: not imported by every process

    page = pa.table({
        "id": pa.array([str(r.get("id")) if r.get("id") is not None else None
                        for r in records], pa.string()),
        "data": pa.array([json.dumps(r, separators=(",", ":")) for r in records], pa.string()),
        "source_row": pa.array(range(first_row, first_row + len(records)), pa.int64()),
        "ext": pa.array(ext or [None] * len(records), pa.string()),
    })
    con.register("rs_clever_page", page)
    try:
        con.execute(
            f"insert into raw.{table} (id, data, _run_id, _source_file, _source_row, _ext) "
            "select id, data::json, $run_id, $file, source_row, ext::json from rs_clever_page",
            {"run_id": run_id, "file": source_file},
        )
    finally:
        con.unregister("rs_clever_page")
    return len(records)
