"""Every landed row is numbered as a spreadsheet numbers it (header = row 1), also when DuckDB
reads the file in parallel and when rows before it were rejected (MALFORMED_ROW): an error row
names the row a district admin finds in the file."""

from __future__ import annotations

from pathlib import Path

import duckdb

from rostersync_pipeline.lib.ingest.providers import oneroster_csv
from rostersync_pipeline.lib.storage.warehouse import ensure_schemas

HEADER = "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,rowid"
ROWS = 400_000  # about 30 MB: several of DuckDB's parallel read buffers
REJECTED = (3, 5, 6, 1_000, 250_001, ROWS + 1)  # file rows with one value too many


def test_row_numbers_count_the_rejected_rows_in_a_file_read_in_parallel(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    lines = [HEADER]
    for row in range(2, ROWS + 2):
        extra = ",EXTRA" if row in REJECTED else ""
        lines.append(f"e{row},active,2026-01-01,c{row % 97},s1,u{row},student,x{row}{extra}")
    (bundle / "enrollments.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_schemas(con)

    result = oneroster_csv.land_bundle(con, bundle, run_id="r1", work_dir=tmp_path / "work")

    assert sorted(p.row for p in result.problems if p.error_code == "MALFORMED_ROW") == list(
        REJECTED)
    landed, wrong, ext_kept = con.execute(
        "select count(*), count(*) filter (where sourcedId <> 'e' || _source_row), "
        "count(*) filter (where _ext->>'$.rowid' = 'x' || _source_row) "
        "from raw.oneroster_enrollments").fetchall()[0]
    assert (landed, wrong, ext_kept) == (ROWS - len(REJECTED), 0, ROWS - len(REJECTED))
