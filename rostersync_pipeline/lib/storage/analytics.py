"""Cross-district analytics: each run publishes small Parquet files; ``analytics.duckdb`` has views.

District files stay private to their runs (no cross-file locks). Analysts open
``<warehouse>/analytics.duckdb`` and query ``runs``, ``sync_errors``, ``incoming_counts``,
``match_outcomes``, ``plan_counts`` and ``roster_counts`` across all districts.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)

PUBLISHED = {
    "runs": "select * from sync.runs where run_id = $run_id",
    "sync_errors": "select * from sync.sync_errors where run_id = $run_id",
    "incoming_counts": """
        select $run_id as run_id, entity, count(*) as records from (
            select role || 's' as entity from core.users
            union all select 'guardians' from core.guardians
            union all select 'guardian_relationships' from core.guardian_relationships
            union all select 'schools' from core.schools
            union all select 'sections' from core.sections
            union all select 'enrollments' from core.enrollments
            union all select 'terms' from core.terms
            union all select 'courses' from core.courses
        ) group by all""",
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
            union all select 'user_schools', status from roster.user_schools
            union all select 'guardian_relationships', status
                from roster.guardian_relationships
            union all select 'terms', status from roster.terms
            union all select 'courses', status from roster.courses
            union all select 'sections', status from roster.sections
            union all select 'enrollments', status from roster.enrollments
        ) group by all""",
}


def analytics_dir(warehouse_dir: Path | str) -> Path:
    return Path(warehouse_dir) / "analytics"


def publish_run(
    con: duckdb.DuckDBPyConnection,
    warehouse_dir: Path | str,
    district_id: str,
    run_id: str,
    tables: tuple[str, ...] = tuple(PUBLISHED),
) -> bool:
    """Write this run's analytics tables as Parquet; make sure the analytics views exist.

    A sync run publishes every table; an approval or a restore, which computes no matches of
    its own, publishes ``runs`` and ``roster_counts`` only.

    The views read the Parquet folders by glob, so a new run's files show up without touching
    ``analytics.duckdb``. Returns False if the views could not be created because an analyst
    holds the analytics database open (the Parquet files are published all the same).
    """
    base = analytics_dir(warehouse_dir)
    for table in tables:
        sql = PUBLISHED[table]
        folder = base / table / f"district_id={district_id}"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{run_id}.parquet"
        query = f"select * exclude (district_id) from ({sql})" if table == "runs" else sql
        # written aside, then renamed: another district's run may be reading the folder's glob
        partial = folder / f".{run_id}.parquet.partial"
        con.sql(query, params={"run_id": run_id}).pl().write_parquet(partial)
        partial.replace(target)
        if table == "roster_counts":  # the current roster only: older counts go after
            for old in folder.glob("*.parquet"):
                if old != target:
                    old.unlink(missing_ok=True)
    try:
        ensure_views(warehouse_dir)
    except duckdb.Error as exc:
        # locked by an analyst, or another district's run is publishing at this moment; the
        # Parquet files are in place and the next run creates the views
        log.warning("analytics views not refreshed: %s", str(exc).splitlines()[0])
        return False
    return True


def ensure_views(warehouse_dir: Path | str, timeout_s: float = 10.0) -> Path:
    """Create the analytics views that are missing (absolute paths, so they work from anywhere)."""
    base = analytics_dir(warehouse_dir).resolve()
    path = Path(warehouse_dir).resolve() / "analytics.duckdb"
    if path.exists() and _views_present(path):
        return path
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
            if not any((base / table).glob("*/*.parquet")):
                continue
            pattern = (base / table / "*" / "*.parquet").as_posix()
            con.execute(
                f"create or replace view {table} as select * from read_parquet("
                f"'{pattern.replace(chr(39), chr(39) * 2)}', hive_partitioning = true, "
                "union_by_name = true)"
            )
    finally:
        con.close()
    return path


def _views_present(path: Path) -> bool:
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.IOException:
        return True  # someone has it open: the views were made before
    try:
        names = {row[0] for row in con.execute(
            "select view_name from duckdb_views() where not internal"
        ).fetchall()}
    finally:
        con.close()
    return set(PUBLISHED) <= names
