"""Landing one CSV file into a raw table: shared by the OneRoster and Clever-format CSV adapters.

The caller maps the header to its spec columns; this module reads the file with DuckDB (UTF-8
with or without BOM, CRLF / LF / CR, quoted fields with commas and newlines), keeps extension
columns as JSON in ``_ext``, numbers rows as a spreadsheet does (header = row 1), and turns
rows DuckDB rejects into one MALFORMED_ROW problem per line, naming file, row and field.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb

from rostersync_pipeline.lib.ingest.landing import FetchProblem


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_header(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        head = handle.read(1 << 16)
    reader = csv.reader(io.StringIO(head.replace("\r\n", "\n").replace("\r", "\n")))
    return next(reader, [])


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
    select = [
        f"{quote_ident(read_columns[spec[c]])} as {quote_ident(c)}" if c in spec
        else f"null::varchar as {quote_ident(c)}"
        for c in columns
    ]
    if ext:
        pairs = ", ".join(f"'{k.replace(chr(39), chr(39) * 2)}': {quote_ident(read_columns[p])}"
                          for k, p in ext.items())
        select.append(f"to_json({{{pairs}}}) as _ext")
    else:
        select.append("null::json as _ext")
    con.execute(
        f"insert into raw.{table} by name "
        f"select {', '.join(select)}, $run_id::varchar as _run_id, $file::varchar as _source_file, "
        f"ordinality + 1 as _source_row from {scan} with ordinality",
        {"path": str(path), "run_id": run_id, "file": path.name},
    )
    rejects = con.execute(
        "select line, arg_min(column_name, column_idx), arg_min(error_type, column_idx), "
        "arg_min(error_message, column_idx) from rs_rejects group by line order by line"
    ).fetchall()
    for line, column, error_type, message in rejects:
        problems.append(FetchProblem(
            path.name, f"{str(error_type).lower()}: {message}", row=int(line),
            field=column, error_code="MALFORMED_ROW",
        ))
    con.execute("drop table if exists rs_rejects")
    con.execute("drop table if exists rs_reject_scans")
    return con.execute(f"select count(*) from raw.{table}").fetchall()[0][0]
