"""``rostersync errors DISTRICT --out x.zip``: the CSV a district admin opens in a spreadsheet."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from rostersync_pipeline.cli.main import main
from rostersync_pipeline_tests.helpers import (
    enrollment,
    make_district,
    org,
    section,
    student,
    write_bundle,
)

EXPORT_HEADER = [
    "record_type", "field", "error_value", "error_code", "source_id", "app_id",
    "school", "name", "message", "remediation", "run_id", "source_file", "source_row",
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory):
    """A synced district with formula-like cells in its errors, exported through the CLI."""
    root = tmp_path_factory.mktemp("export")
    users = [
        student("s1", "sch1"),
        student("formula", "sch1", givenName="", familyName='=HYPERLINK("x")', grades="+5"),
        student("tabbed", "sch1", givenName="\tTab", familyName="", grades="05"),
        student("at", "sch1", givenName="@Sum", familyName="-Minus", grades="-1"),
    ]
    bundle = write_bundle(
        root / "bundle",
        orgs=[org("sch1", "North High")],
        users=users,
        classes=[section("sec1", "sch1")],
        enrollments=[enrollment("e1", "sec1", "s1", "sch1")],
    )
    (bundle / "demographics.csv").write_text(
        "sourcedId,status,dateLastModified,birthDate,sex\n"
        "formula,active,,2011-03-14,female\nat,active,,2012-07-01,male\n",
        encoding="utf-8",
    )
    district = make_district(root, bundle, schools={"create_unmatched": True})
    outcome = district.sync()
    assert outcome.success, outcome.failure
    out = root / "out" / "errors.zip"
    code = main(["errors", district.district_id, "--out", str(out),
                 "--config-dir", str(district.config_dir),
                 "--warehouse", str(district.warehouse_dir)])
    assert code == 0
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        errors_name = next(n for n in names if n.startswith("sync_errors_"))
        raw = archive.read(errors_name)
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    return outcome, names, raw, rows


def test_zip_holds_the_errors_csv_and_the_code_table(exported):
    outcome, names, _, _ = exported
    assert sorted(names) == ["error_codes.csv", f"sync_errors_district-a_{outcome.run_id[:8]}.csv"]


def test_header_is_exactly_the_fixed_column_order(exported):
    _, _, _, rows = exported
    assert rows[0] == EXPORT_HEADER
    assert rows[0][:6] == ["record_type", "field", "error_value", "error_code", "source_id",
                           "app_id"]


def test_every_row_has_a_remediation_and_the_run_id(exported):
    outcome, _, _, rows = exported
    body = [dict(zip(EXPORT_HEADER, row, strict=True)) for row in rows[1:]]
    assert {(r["error_code"], r["source_id"], r["field"]) for r in body} == {
        ("INVALID_GRADE", "formula", "grade"),
        ("VALUE_NOT_SPECIFIED", "formula", "first_name"),
        ("INVALID_GRADE", "at", "grade"),
        ("VALUE_NOT_SPECIFIED", "tabbed", "last_name"),
    }
    assert all(r["remediation"].strip() for r in body)
    assert {r["run_id"] for r in body} == {outcome.run_id}
    assert all(r["source_file"] == "users.csv" and r["source_row"].isdigit() for r in body)


def test_formula_like_cells_are_prefixed_with_a_quote(exported):
    _, _, _, rows = exported
    body = [dict(zip(EXPORT_HEADER, row, strict=True)) for row in rows[1:]]
    by_source = {r["source_id"]: r for r in body if r["error_code"] == "INVALID_GRADE"}
    by_source["tabbed"] = next(r for r in body if r["source_id"] == "tabbed")
    assert {r["name"] for r in body if r["source_id"] == "formula"} == {"'=HYPERLINK(\"x\")"}
    assert by_source["formula"]["error_value"] == "'+5"
    assert by_source["at"]["error_value"] == "'-1"
    assert by_source["at"]["name"] == "'@Sum -Minus"
    assert by_source["tabbed"]["name"] == "'\tTab"
    for row in rows[1:]:
        assert not any(cell.startswith(FORMULA_STARTS) for cell in row), row


def test_no_birth_date_column_or_content(exported):
    _, _, raw, rows = exported
    assert not any("birth" in column.lower() for column in rows[0])
    text = raw.decode("utf-8-sig")
    assert "2011-03-14" not in text and "2012-07-01" not in text
