"""Raw landed payloads kept per run, for audit: ``<warehouse>/raw_archive/<district>/<run_id>/``.

After each landing every non-empty ``raw.*`` table is copied to ``<table>.parquet`` in the run's
folder, or, for a file bundle (a .zip or a directory of CSV), its CSV files as landed: the
checked copy :func:`bundles.open_bundle` made in the run's work folder (cheaper than re-encoding
them): the bytes the district sent when they were UTF-8, else their UTF-8 transcoding; a file
that did not decode is not there; a file whose password column holds a value is there
without that column (unless the district keeps passwords). Regular ``.csv`` files only, never
through a symbolic link. A run that landed nothing leaves no folder. Only the newest ``keep``
run folders of a district are kept (older ones are deleted).
The raw tables hold what the provider sent, never a token or secret (those travel in headers),
and no password unless the district keeps them (``source.keep_passwords``).
"""

from __future__ import annotations

import os
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
    """Keep the run's raw payload and prune to the newest ``keep`` runs.

    ``bundle`` is the directory of the bundle's landed CSV files (a file source); without it,
    the non-empty raw tables are written as Parquet. Returns the run's folder, or None when
    there was nothing to keep.
    """
    if keep <= 0:
        return None
    for name in (district_id, run_id):
        if not SAFE_NAME.match(name):
            raise ValueError(f"unsafe path component {name!r}")
    tables = sorted(tables)
    for table in tables:
        if not SAFE_NAME.match(table):
            raise ValueError(f"unsafe raw table name {table!r}")
    files = landed_csv_files(bundle) if bundle is not None else []
    filled = [] if bundle is not None else [
        t for t in tables if con.table(f"raw.{t}").aggregate("count(*)").fetchall()[0][0]
    ]
    if not files and not filled:
        return None
    run_dir = archive_dir(warehouse_dir, district_id) / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.copyfile(path, run_dir / path.name, follow_symlinks=False)
    for table in filled:
        con.table(f"raw.{table}").write_parquet(str(run_dir / f"{table}.parquet"))
    (run_dir / LANDED_MARKER).touch()
    prune_archive(warehouse_dir, district_id, keep=keep)
    return run_dir


def landed_csv_files(directory: Path) -> list[Path]:
    """The regular ``.csv`` files directly in ``directory`` (symbolic links skipped), by name."""
    if not directory.is_dir():
        return []
    with os.scandir(directory) as entries:
        return sorted(Path(e.path) for e in entries
                      if e.name.lower().endswith(".csv") and e.is_file(follow_symlinks=False))


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
