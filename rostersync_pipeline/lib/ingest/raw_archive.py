"""Raw landed payloads kept per run, for audit: ``<warehouse>/raw_archive/<district>/<run_id>/``.

After each landing every non-empty ``raw.*`` table is copied to ``<table>.parquet`` in the run's
folder, or, for a file bundle (a .zip or a directory of CSV), a copy of the files as received
(cheaper than re-encoding them, and the exact bytes the district sent). Only the newest ``keep``
run folders of a district are kept (older ones are deleted).
The raw tables hold what the provider sent, never a token or secret (those travel in headers).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from pathlib import Path

import duckdb

SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
LANDED_MARKER = "_landed"


def archive_dir(warehouse_dir: Path | str, district_id: str) -> Path:
    return Path(warehouse_dir) / "raw_archive" / district_id


def archive_raw(
    con: duckdb.DuckDBPyConnection,
    warehouse_dir: Path | str,
    district_id: str,
    run_id: str,
    tables: Iterable[str],
    *,
    keep: int,
    bundle: Path | None = None,
) -> Path | None:
    """Keep the run's raw payload (the bundle's files, else the non-empty raw tables as Parquet)
    and prune to the newest ``keep`` runs."""
    if keep <= 0:
        return None
    for name in (district_id, run_id):
        if not SAFE_NAME.match(name):
            raise ValueError(f"unsafe path component {name!r}")
    run_dir = archive_dir(warehouse_dir, district_id) / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    if bundle is not None and bundle.exists():
        files = sorted(bundle.iterdir()) if bundle.is_dir() else [bundle]
        for path in files:
            if path.is_file():
                # a copy, not a hard link: an SFTP client may rewrite the dropped file in place
                shutil.copy2(path, run_dir / path.name)
        tables = ()
    for table in sorted(tables):
        if not SAFE_NAME.match(table):
            raise ValueError(f"unsafe raw table name {table!r}")
        relation = con.table(f"raw.{table}")
        if relation.aggregate("count(*)").fetchall()[0][0]:
            relation.write_parquet(str(run_dir / f"{table}.parquet"))
    (run_dir / LANDED_MARKER).touch()
    prune_archive(warehouse_dir, district_id, keep=keep)
    return run_dir


def archived_runs(warehouse_dir: Path | str, district_id: str) -> list[Path]:
    """The district's archived run folders, oldest first."""
    root = archive_dir(warehouse_dir, district_id)
    if not root.is_dir():
        return []
    runs = [p for p in root.iterdir() if (p / LANDED_MARKER).exists()]
    return sorted(runs, key=lambda p: ((p / LANDED_MARKER).stat().st_mtime_ns, p.name))


def prune_archive(warehouse_dir: Path | str, district_id: str, *, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` run folders; returns the deleted folders."""
    runs = archived_runs(warehouse_dir, district_id)
    doomed = runs[: max(len(runs) - keep, 0)]
    for path in doomed:
        shutil.rmtree(path)
    return doomed
