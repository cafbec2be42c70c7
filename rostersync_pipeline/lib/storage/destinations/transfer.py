"""Bulk transfer between a district's DuckDB file and a PostgreSQL destination, as CSV.

DuckDB cannot load extensions at run time here (no ``postgres_scanner``), so rows travel as CSV
through a scratch file: DuckDB ``COPY ... TO`` then PostgreSQL ``COPY ... FROM STDIN`` one way,
PostgreSQL ``COPY ... TO STDOUT`` then DuckDB ``read_csv`` the other. Both sides write CSV with
the same conventions (an unquoted empty field is NULL, ``""`` is the empty string), so every
value round-trips exactly; lists travel as PostgreSQL array literals one way and JSON arrays
the other. Scratch files hold roster rows (names, e-mails): they live in a private temporary
directory (mode 0700) and are removed as soon as they are loaded.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import duckdb
from psycopg2 import sql

PG_TYPES = {"VARCHAR": "text", "BIGINT": "bigint", "INTEGER": "integer", "BOOLEAN": "boolean",
            "DATE": "date", "TIMESTAMP": "timestamp", "DOUBLE": "double precision"}
COPY_BUFFER_BYTES = 1 << 20
MAX_LINE_BYTES = 64 * 1024 * 1024  # above the largest field a config allows (16 MiB)

# A DuckDB list as a PostgreSQL array literal: {"a","b \"c\""}; NULL elements stay NULL.
_PG_ARRAY = (
    "case when {c} is null then null else '{{' || array_to_string(list_transform({c}, "
    "lambda v: case when v is null then 'NULL' else '\"' || replace(replace(v, '\\', '\\\\'), "
    "'\"', '\\\"') || '\"' end), ',') || '}}' end"
)


def local_time(moment: datetime) -> datetime:
    """A PostgreSQL ``timestamptz`` as the naive local time DuckDB's ``timestamp`` holds."""
    return moment.astimezone().replace(tzinfo=None)


def aware(moment: datetime) -> datetime:
    """A DuckDB naive local timestamp (or an aware one) as an aware datetime."""
    return moment if moment.tzinfo is not None else moment.astimezone()


def pg_type(duckdb_type: str) -> str:
    """The PostgreSQL type of a DuckDB column type (lists as arrays)."""
    if duckdb_type.endswith("[]"):
        return pg_type(duckdb_type[:-2]) + "[]"
    if duckdb_type not in PG_TYPES:
        raise TypeError(f"no PostgreSQL type for DuckDB {duckdb_type}")
    return PG_TYPES[duckdb_type]


@contextmanager
def scratch_dir(parent: Path | str | None = None) -> Iterator[Path]:
    """A private temporary directory (0700), removed with everything in it on exit."""
    if parent is not None:
        Path(parent).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rostersync-copy-", dir=parent) as directory:
        os.chmod(directory, 0o700)
        yield Path(directory)


def _quoted_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def duckdb_to_postgres(
    con: duckdb.DuckDBPyConnection,
    query: str,
    columns: Sequence[tuple[str, str]],
    cursor,
    target: sql.Composable,
    scratch: Path,
) -> int:
    """Rows of a DuckDB ``query`` (selecting ``columns``: (name, DuckDB type)) appended to the
    PostgreSQL table ``target`` with ``COPY FROM STDIN``; returns the rows copied."""
    path = scratch / "to_postgres.csv"
    select = ", ".join(_PG_ARRAY.format(c=f'q."{name}"') if kind.endswith("[]") else f'q."{name}"'
                       for name, kind in columns)
    try:
        con.execute(f"copy (select {select} from ({query}) as q) to {_quoted_path(path)} "
                    "(format csv, header false)")
        statement = sql.SQL("copy {} ({}) from stdin with (format csv)").format(
            target, sql.SQL(", ").join(sql.Identifier(name) for name, _ in columns))
        with open(path, "rb") as handle:
            cursor.copy_expert(statement, handle, size=COPY_BUFFER_BYTES)
        return cursor.rowcount
    finally:
        path.unlink(missing_ok=True)


def postgres_to_duckdb(
    cursor,
    select: sql.Composable,
    columns: Sequence[tuple[str, str]],
    con: duckdb.DuckDBPyConnection,
    target: str,
    scratch: Path,
) -> int:
    """Rows of a PostgreSQL ``select`` (returning ``columns``: (name, DuckDB type), list columns
    as JSON text) inserted into the DuckDB table ``target``; returns the rows loaded."""
    path = scratch / "from_postgres.csv"
    try:
        with open(path, "wb") as handle:
            cursor.copy_expert(sql.SQL("copy ({}) to stdout with (format csv)").format(select),
                               handle, size=COPY_BUFFER_BYTES)
        read_types = {name: "VARCHAR" if kind.endswith("[]") else kind for name, kind in columns}
        converted = ", ".join(
            f"from_json(\"{name}\", '[\"{kind[:-2]}\"]')" if kind.endswith("[]") else f'"{name}"'
            for name, kind in columns)
        names = ", ".join(f'"{name}"' for name, _ in columns)
        before = con.execute(f"select count(*) from {target}").fetchall()[0][0]
        con.execute(
            f"insert into {target} ({names}) select {converted} from read_csv("
            f"{_quoted_path(path)}, header = false, auto_detect = false, columns = ?, "
            "delim = ',', quote = '\"', escape = '\"', allow_quoted_nulls = false, "
            f"max_line_size = {MAX_LINE_BYTES}, parallel = true)",
            [read_types],
        )
        return con.execute(f"select count(*) from {target}").fetchall()[0][0] - before
    finally:
        path.unlink(missing_ok=True)
