"""Landing one CSV file into a raw table: shared by the OneRoster and Clever-format CSV adapters.

The caller maps the header to its spec columns (:mod:`csv_columns`); this module reads the file
with DuckDB (UTF-8 with or without BOM: the work folder holds UTF-8 only, see
:mod:`~rostersync_pipeline.lib.ingest.encodings`; CRLF / LF / CR, quoted fields with commas and
newlines), keeps extension columns as JSON in ``_ext``, numbers rows as a spreadsheet does
(header = row 1), and turns rows DuckDB rejects into one MALFORMED_ROW problem per line, naming
file, row and field. A file DuckDB cannot read at all is one MALFORMED_FILE problem, never an
exception. :func:`strip_password_columns` rewrites the work folder's copies without their
password columns, so the raw archive never holds one.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from pathlib import Path

import duckdb

from rostersync_pipeline.lib.ingest.bundles import find_files
from rostersync_pipeline.lib.ingest.landing import FetchProblem
from rostersync_pipeline.lib.ingest.providers.csv_columns import is_password_column

log = logging.getLogger(__name__)
HEADER_READ_CHARS = 1 << 16
HEADER_MAX_CHARS = 1 << 20
# the file as read, before its columns are mapped: DuckDB reads a file in parallel only into a
# table (numbering rows ``with ordinality`` as they are read keeps it to one thread, twice the
# time on a 7M-row enrollments file); the rows keep file order, so rowid + 2, plus the rows
# rejected before it, is a row's number in the file
LANDING_TABLE = "rs_landing"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class UnreadableHeader(ValueError):
    """The header row of a file cannot be parsed as CSV."""


def read_header(path: Path) -> list[str]:
    """The file's first CSV row. Never raises on bad bytes (they read as U+FFFD); raises
    :class:`UnreadableHeader` when the row itself does not parse (a quote never closed)."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        head = handle.read(HEADER_READ_CHARS)
        while len(head) < HEADER_MAX_CHARS and "\n" not in head and "\r" not in head:
            more = handle.read(HEADER_READ_CHARS)
            if not more:
                break
            head += more
    reader = csv.reader(io.StringIO(head.replace("\r\n", "\n").replace("\r", "\n")))
    try:
        return next(reader, [])
    except csv.Error as exc:
        raise UnreadableHeader(f"the header row cannot be read as CSV ({exc})") from exc


def land_csv_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    table: str,
    columns: tuple[str, ...],
    header: list[str],
    spec: dict[str, int],
    ext: dict[str, int],
    run_id: str,
    problems: list[FetchProblem],
) -> int:
    """Insert the file's rows into ``raw.<table>``; returns the table's row count.

    ``spec`` maps spec column -> header position, ``ext`` extension column -> header position.
    """
    null_padding = bool(header) and not header[-1].strip()  # trailing empty header cells
    scan = (
        "read_csv($path, header=true, delim=',', quote='\"', escape='\"', all_varchar=true, "
        "strict_mode=true, store_rejects=true, rejects_table='rs_rejects', "
        f"rejects_scan='rs_reject_scans', null_padding={str(null_padding).lower()})"
    )
    try:
        read_columns = [
            row[0]
            for row in con.execute(f"describe select * from {scan}", {"path": str(path)}).fetchall()
        ]
    except duckdb.Error as exc:
        problems.append(FetchProblem(
            path.name, f"the file cannot be read as CSV: {str(exc).strip().splitlines()[0]}",
            error_code="MALFORMED_FILE",
        ))
        return 0
    if len(read_columns) < len(header):
        problems.append(FetchProblem(
            path.name, f"the header names {len(header)} columns but rows were read with "
            f"{len(read_columns)}", row=1, error_code="MALFORMED_FILE"))
        return 0
    if len(read_columns) > len(header):
        problems.append(FetchProblem(
            path.name,
            f"rows carry {len(read_columns)} values but the header names {len(header)} "
            "columns; the unnamed values were not imported",
            row=2, error_code="MALFORMED_FILE", blocks_deactivation=False,
        ))
    # read in parallel into a temporary table of positional columns (c0, c1, ...: a header
    # cell cannot shadow anything), in file order
    read = ", ".join(f"{quote_ident(name)} as c{i}" for i, name in enumerate(read_columns))
    select = [
        f"c{spec[c]} as {quote_ident(c)}" if c in spec else f"null::varchar as {quote_ident(c)}"
        for c in columns
    ]
    if ext:
        pairs = ", ".join(f"'{k.replace(chr(39), chr(39) * 2)}': c{p}" for k, p in ext.items())
        select.append(f"to_json({{{pairs}}}) as _ext")
    else:
        select.append("null::json as _ext")
    try:
        con.execute(f"create or replace temp table {LANDING_TABLE} as select {read} from {scan}",
                    {"path": str(path)})
        rejects = con.execute(
            "select line, arg_min(column_name, column_idx), arg_min(error_type, column_idx), "
            "arg_min(error_message, column_idx) from rs_rejects group by line order by line"
        ).fetchall()
        # a rejected row is not in the table: the rows after it sit that much higher there.
        # From table position r_j - 1 - j on, j rows were skipped (r_j: the j-th rejected row)
        skipped_from = {int(line) - 1 - j: j for j, (line, *_) in enumerate(rejects, start=1)}
        row_number, shift = "landed.rowid + 2", ""
        params = {"run_id": run_id, "file": path.name}
        if skipped_from:
            row_number += " + coalesce(skipped.rows_before, 0)"
            shift = ("asof left join (select unnest($starts::bigint[]) as start, "
                     "unnest($counts::bigint[]) as rows_before) as skipped "
                     "on landed.rowid >= skipped.start")
            params.update(starts=list(skipped_from), counts=list(skipped_from.values()))
        con.execute(
            f"insert into raw.{table} by name "
            f"select {', '.join(select)}, $run_id::varchar as _run_id, "
            f"$file::varchar as _source_file, {row_number} as _source_row "
            f"from {LANDING_TABLE} as landed {shift}",
            params,
        )
    except duckdb.Error as exc:
        problems.append(FetchProblem(
            path.name, f"the file cannot be read as CSV: {_first_line(exc)}; it was not landed",
            error_code="MALFORMED_FILE",
        ))
        rejects = []
    finally:
        con.execute(f"drop table if exists {LANDING_TABLE}")
        con.execute("drop table if exists rs_rejects")
        con.execute("drop table if exists rs_reject_scans")
    for line, column, error_type, message in rejects:
        problems.append(FetchProblem(
            path.name, f"{str(error_type).lower()}: {message}", row=int(line),
            field=column, error_code="MALFORMED_ROW",
        ))
    return con.execute(f"select count(*) from raw.{table}").fetchall()[0][0]


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def strip_password_columns(con: duckdb.DuckDBPyConnection, directory: Path) -> list[str]:
    """Rewrite every CSV file of the work folder that holds a password without its password
    columns (so the raw archive, which copies this folder, never holds one); returns their names.

    A file whose password columns are empty on every row is left as sent (the exact bytes).
    The rewritten copy is DuckDB's reading of the file (rows it cannot read are left out: they
    are the MALFORMED_ROW problems). A file that cannot be rewritten is removed: not archived.
    """
    rewritten = []
    for path in sorted(find_files(directory).values()):
        try:
            header = read_header(path)
        except UnreadableHeader:
            header = []
        positions = [pos for pos, name in enumerate(header) if is_password_column(name)]
        if positions and _rewrite_without(con, path, positions):
            rewritten.append(path.name)
    return rewritten


def _rewrite_without(con: duckdb.DuckDBPyConnection, path: Path, positions: list[int]) -> bool:
    scan = ("read_csv($path, header=true, delim=',', quote='\"', escape='\"', all_varchar=true, "
            "strict_mode=false, null_padding=true, store_rejects=true, "
            "rejects_table='rs_pw_rejects', rejects_scan='rs_pw_scans')")
    params = {"path": str(path)}
    target = path.with_name(path.name + ".stripped")
    try:
        names = [row[0] for row in
                 con.execute(f"describe select * from {scan}", params).fetchall()]
        excluded = [quote_ident(names[p]) for p in positions if p < len(names)]
        if not excluded:
            return False
        filled = " or ".join(f"nullif(trim({c}), '') is not null" for c in excluded)
        holding = con.execute(f"select count(*) from {scan} where {filled}",
                              params).fetchall()[0][0]
        unread = con.execute("select count(*) from rs_pw_rejects").fetchall()[0][0]
        if not holding and not unread:
            return False
        if len(excluded) >= len(names):
            path.unlink()
            return True
        kept = "* exclude (" + ", ".join(excluded) + ")"
        con.execute(f"copy (select {kept} from {scan}) to $target "
                    "(format csv, header true, delimiter ',')", {**params, "target": str(target)})
        os.replace(target, path)
    except duckdb.Error as exc:
        log.warning("%s: password column not removable (%s); the file is not archived",
                    path.name, _first_line(exc))
        target.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
    finally:
        con.execute("drop table if exists rs_pw_rejects")
        con.execute("drop table if exists rs_pw_scans")
    return True
