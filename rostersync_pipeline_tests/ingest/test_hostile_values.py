"""Values that can hurt: control characters, oversized fields, records without an ID.

Each is an error row naming file, row and field for that record; the record is not imported;
and the app record that had (or may have had) the ID is never deactivated because of it.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest

from rostersync_pipeline.cli.main import main
from rostersync_pipeline_tests.helpers import (
    District,
    enrollment,
    make_district,
    org,
    section,
    student,
    write_bundle,
)

STUDENTS = ("s1", "s2", "s3")


def night(directory: Path, users: list[dict[str, str]]) -> Path:
    ids = [u["sourcedId"] for u in users]
    return write_bundle(
        directory, orgs=[org("sch1", "North High")], users=users,
        classes=[section("sec1", "sch1")],
        enrollments=[enrollment(f"e-{i}", "sec1", i, "sch1") for i in ids if i.strip()],
    )


@pytest.fixture(scope="module")
def synced_once(tmp_path_factory: pytest.TempPathFactory) -> District:
    root = tmp_path_factory.mktemp("synced")
    district = make_district(root, night(root / "n0", [student(s, "sch1") for s in STUDENTS]),
                             schools={"create_unmatched": True}, max_field_bytes=1024)
    assert district.sync().status == "applied"
    return district


@pytest.fixture
def district(synced_once: District, tmp_path: Path) -> District:
    """Each test's own copy of the district after its first sync."""
    return synced_once.copy_to(tmp_path)


def active(district: District) -> dict[str, str]:
    return dict(district.query("select source_id, status from roster.users"))


@pytest.mark.parametrize(
    ("description", "changed", "field", "blocks_deactivations"),
    [
        ("a NUL inside a name", {"familyName": "Le\x00e"}, "last_name", False),
        ("a bell character in an email", {"email": "s2\x07@example.org"}, "email", False),
        ("a field over max_field_bytes", {"givenName": "x" * 2000}, "first_name", False),
        ("a tab inside the SIS id", {"identifier": "sis-\ts2"}, "sis_id", True),
    ],
)
def test_an_unsafe_value_is_an_error_row_and_the_record_is_left_alone(
    district: District, tmp_path: Path, description: str, changed: dict[str, str], field: str,
    blocks_deactivations: bool,
) -> None:
    before = district.query("select * from roster.users where source_id = 's2'")
    users = [student("s1", "sch1"), {**student("s2", "sch1"), **changed}]
    outcome = district.sync(night(tmp_path / "n1", users))  # s3 is gone from the landing

    assert outcome.success, outcome.failure
    rows = district.errors(outcome.run_id, "UNSAFE_VALUE")
    assert [(r["record_type"], r["source_id"], r["field"]) for r in rows] == [
        ("student", "s2", field)], description
    assert rows[0]["source_file"] == "users.csv" and rows[0]["source_row"] == 3
    assert district.query("select * from roster.users where source_id = 's2'") == before
    # s3 left the landing: deactivated, unless the refused value was an ID
    assert active(district)["s3"] == ("active" if blocks_deactivations else "inactive")
    assert active(district)["s2"] == "active"


def test_a_record_without_its_source_id_stops_every_deactivation(
    district: District, tmp_path: Path
) -> None:
    users = [student("s1", "sch1"), {**student("s2", "sch1"), "sourcedId": "  "}]
    outcome = district.sync(night(tmp_path / "n1", users))

    assert outcome.success, outcome.failure
    assert outcome.summary.fetch_complete is False
    rows = district.errors(outcome.run_id, "MISSING_SOURCE_ID")
    assert [(r["record_type"], r["field"], r["source_file"], r["source_row"]) for r in rows] == [
        ("user", "sourcedId", "users.csv", 3)]
    assert active(district) == {s: "active" for s in STUDENTS}
    assert not [row for row in district.plan() if row[1] == "deactivate"]


def test_the_export_shows_a_nul_as_a_visible_mark_and_quotes_full_width_formulas(
    district: District, tmp_path: Path
) -> None:
    users = [{**student("s1", "sch1"), "givenName": "＝HYPERLINK(\"x\")", "grades": "zz"},
             {**student("s2", "sch1"), "familyName": "Le\x00e"},
             {**student("s3", "sch1"), "givenName": "\nNewline", "grades": "＠9"}]
    outcome = district.sync(night(tmp_path / "n1", users))
    out = tmp_path / "errors.zip"
    assert main(["errors", district.district_id, "--run", outcome.run_id, "--out", str(out),
                 "--warehouse", str(district.warehouse_dir),
                 "--config-dir", str(district.config_dir)]) == 0
    with zipfile.ZipFile(out) as archive:
        name = next(n for n in archive.namelist() if n.startswith("sync_errors_"))
        raw = archive.read(name).decode("utf-8-sig")
    assert "\x00" not in raw
    rows = list(csv.DictReader(io.StringIO(raw, newline="")))
    by_source = {(r["source_id"], r["error_code"]): r for r in rows}
    assert by_source[("s2", "UNSAFE_VALUE")]["error_value"] == "Le\ufffde"
    assert by_source[("s1", "INVALID_GRADE")]["name"].startswith("'")
    assert by_source[("s3", "INVALID_GRADE")]["error_value"] == "'＠9"
    assert by_source[("s3", "INVALID_GRADE")]["name"].startswith("'\n")
