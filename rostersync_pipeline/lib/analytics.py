"""Cross-district analytics: each run publishes small Parquet files; ``analytics.duckdb`` has views.

District files stay private to their runs (no cross-file locks). Analysts open
``<warehouse>/analytics.duckdb`` and query ``runs``, ``sync_errors``, ``match_outcomes``,
``plan_counts`` and ``roster_counts`` across all districts.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

PUBLISHED = {
    "runs": "select * from sync.runs where run_id = $run_id",
    "sync_errors": "select * from sync.sync_errors where run_id = $run_id",
    "match_outcomes": """
        select $run_id as run_id, entity, match_status, matched_rule, count(*) as records
        from sync.matches group by all""",
    "plan_counts": """
        select $run_id as run_id, entity, action, count(*) as records
        from sync.sync_plan group by all""",
    "roster_counts": """
        select $run_id as run_id, entity, status, count(*) as records from (
            select role || 's' as entity, status from roster.users
            union all select 'schools', status from roster.schools
            union all select 'sections', status from roster.sections
            union all select 'enrollments', status from roster.enrollments
        ) group by all""",
}


def analytics_dir(warehouse_dir: Path | str) -> Path:
    return Path(warehouse_dir) / "analytics"


def publish_run(
    con: duckdb.DuckDBPyConnection, warehouse_dir: Path | str, district_id: str, run_id: str
) -> None:
    """Write this run's analytics tables as Parquet, then refresh the analytics views."""
    base = analytics_dir(warehouse_dir)
    for table, sql in PUBLISHED.items():
        folder = base / table / f"district_id={district_id}"
        folder.mkdir(parents=True, exist_ok=True)
        if table == "roster_counts":
            for old in folder.glob("*.parquet"):
                old.unlink()
        target = folder / f"{run_id}.parquet"
        query = f"select * exclude (district_id) from ({sql})" if table == "runs" else sql
        con.sql(query, params={"run_id": run_id}).pl().write_parquet(target)
    refresh_views(warehouse_dir)


def refresh_views(warehouse_dir: Path | str, timeout_s: float = 30.0) -> Path:
    base = analytics_dir(warehouse_dir)
    path = Path(warehouse_dir) / "analytics.duckdb"
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            con = duckdb.connect(str(path))
            break
        except duckdb.IOException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    try:
        for table in PUBLISHED:
            pattern = (base / table / "*" / "*.parquet").as_posix()
            if not any((base / table).glob("*/*.parquet")):
                continue
            con.execute(
                f"create or replace view {table} as select * from read_parquet("
                f"'{pattern.replace(chr(39), chr(39) * 2)}', hive_partitioning = true, "
                "union_by_name = true)"
            )
    finally:
        con.close()
    return path
