"""The error export a district admin opens: a ``.zip`` of CSV, columns in a fixed order.

Columns A-F are fixed (support docs refer to them by letter): record_type, field, error_value,
error_code, source_id, app_id; then school, name, message, remediation, run_id, source_file,
source_row. Cells are safe to open in a spreadsheet: a cell that a spreadsheet would run as a
formula (starting with = + - @, their full-width forms, a tab, CR or LF) gets a leading quote,
and control characters inside a cell (a NUL in a refused value) are shown as U+FFFD.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import duckdb
import polars as pl

from rostersync_pipeline.lib.report.error_codes import ERROR_CODES

EXPORT_COLUMNS = (
    "record_type", "field", "error_value", "error_code", "source_id", "app_id",
    "school", "name", "message", "remediation", "run_id", "source_file", "source_row",
)
FORMULA_PREFIXES = r"^[=+\-@\t\r\n\x{FF1D}\x{FF0B}\x{FF0D}\x{FF20}]"
CONTROL_CHARACTERS = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]"


def export_path(warehouse_dir: Path | str, district_id: str, run_id: str) -> Path:
    """Where a run's error export is written: ``<warehouse>/exports/<district>/...zip``."""
    return Path(warehouse_dir) / "exports" / district_id / f"sync_errors_{district_id}_{run_id[:8]}.zip"


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Make every text cell inert in a spreadsheet: control characters become U+FFFD, and a
    cell starting like a formula (= + - @, full-width ＝＋－＠, tab, CR, LF) gets a leading quote."""
    text_columns = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(
        pl.col(c).str.replace_all(CONTROL_CHARACTERS, "\ufffd") for c in text_columns
    ).with_columns(
        pl.when(pl.col(c).str.contains(FORMULA_PREFIXES))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c in text_columns
    )


def export_errors(
    con: duckdb.DuckDBPyConnection, district_id: str, run_id: str, out_path: Path
) -> int:
    """Write the run's errors (from ``sync.sync_errors``) to ``out_path``; returns the row count."""
    select = ", ".join(EXPORT_COLUMNS)
    frame = con.sql(
        f"select {select} from sync.sync_errors where run_id = ? "
        "order by error_code, record_type, source_id, field",
        params=[run_id],
    ).pl()
    frame = neutralise_formulas(frame.with_columns(pl.col("app_id").cast(pl.String),
                                                   pl.col("source_row").cast(pl.String)))
    codes = pl.DataFrame(
        [(e.code, e.meaning, e.remediation) for e in sorted(ERROR_CODES.values(),
                                                            key=lambda e: e.code)],
        schema=["error_code", "meaning", "remediation"],
        orient="row",
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"sync_errors_{district_id}_{run_id[:8]}.csv", _csv_bytes(frame))
        archive.writestr("error_codes.csv", _csv_bytes(neutralise_formulas(codes)))
    tmp.replace(out_path)
    return frame.height


def _csv_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    return b"\xef\xbb\xbf" + buffer.getvalue()
