"""Passwords are never kept: the password columns of OneRoster ``users.csv`` and Clever
``students / teachers / staff.csv``, any other column whose name holds "password", and every
``password`` key of OneRoster REST user JSON are dropped at landing. They are absent from the
raw tables (``_ext`` included), the raw archive and the export: the whole warehouse directory
is searched for them. ``source.keep_passwords: true`` lands them (a documented risk)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from rostersync_pipeline.lib.ingest.providers import RAW_TABLES
from rostersync_pipeline.lib.ingest.raw_archive import archive_dir
from rostersync_pipeline_tests.fakes.oneroster_server import OneRosterServer, password_of
from rostersync_pipeline_tests.helpers import (
    District,
    enrollment,
    make_district,
    org,
    read_csv_rows,
    section,
    student,
    write_bundle,
)
from rostersync_pipeline_tests.ingest.test_clever_csv import FILES as CLEVER_FILES
from rostersync_pipeline_tests.ingest.test_live_providers_e2e import (
    OR_ID,
    OR_SECRET,
    make_live_district,
    oneroster_source,
)

SECRET = "zebra-Horse-42"


def secret(n: int | str) -> str:
    return f"{SECRET}-{n}"


def places_holding(root: Path, needle: str) -> list[str]:
    """Every file under ``root`` whose bytes hold ``needle``: plain files, the members of zip
    files (the export) and the rows of Parquet files (API archives), decompressed."""
    found = []
    encoded = needle.encode()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if encoded in data:
            found.append(str(path.relative_to(root)))
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                found += [f"{path.name}:{m}" for m in archive.namelist()
                          if encoded in archive.read(m)]
        if path.suffix == ".parquet":
            with duckdb.connect() as con:
                hits = con.execute("select count(*) from read_parquet(?) t "
                                   "where to_json(t)::varchar like ?",
                                   [str(path), f"%{needle}%"]).fetchall()[0][0]
            if hits:
                found.append(f"{path.name} ({hits} rows)")
    return found


def raw_rows_holding(district: District, needle: str) -> dict[str, int]:
    """Raw tables (every column, ``_ext`` included) with rows holding ``needle``."""
    counts = {table: district.scalar(f"select count(*) from raw.{table} t "
                                     "where to_json(t)::varchar like ?", [f"%{needle}%"])
              for table in RAW_TABLES}
    return {table: n for table, n in counts.items() if n}


def oneroster_bundle(directory: Path) -> Path:
    bundle = write_bundle(
        directory,
        orgs=[org("sch1", "North High")],
        users=[student(s, "sch1", password=secret(s)) for s in ("s1", "s2")],
        classes=[section("sec1", "sch1")],
        enrollments=[enrollment(f"e-{s}", "sec1", s, "sch1") for s in ("s1", "s2")],
    )
    users = bundle / "users.csv"
    header, *rows = users.read_text(encoding="utf-8").splitlines()
    rows = [f"{row},{secret('meta' + str(n))},{secret('vendor' + str(n))}"
            for n, row in enumerate(rows)]
    users.write_text("\n".join([f"{header},metadata.password,ext_vendor_studentPassword",
                                *rows]) + "\n", encoding="utf-8")
    (bundle / "userProfiles.csv").write_text(
        "sourcedId,status,dateLastModified,userSourcedId,profileType,vendorId,applicationId,"
        f"description,credentialType,username,password\np1,active,,s1,lms,v,,,password,s1,"
        f"{secret('profile')}\n", encoding="utf-8")
    return bundle


def test_oneroster_csv_passwords_are_nowhere_in_the_warehouse(tmp_path: Path) -> None:
    district = make_district(tmp_path, oneroster_bundle(tmp_path / "night0"),
                             schools={"create_unmatched": True})
    outcome = district.sync()
    assert outcome.status == "applied" and outcome.summary.fetch_complete
    assert outcome.summary.counts["students"] == {"create": 2}
    assert "UNKNOWN_COLUMN" not in outcome.summary.error_counts  # dropped, not reported

    assert places_holding(district.warehouse_dir, SECRET) == []
    assert raw_rows_holding(district, SECRET) == {}
    [run_dir] = [p for p in archive_dir(district.warehouse_dir, district.district_id).iterdir()]
    archived = read_csv_rows(run_dir / "users.csv")
    assert [r["sourcedId"] for r in archived] == ["s1", "s2"]
    assert not any("password" in c.lower() for c in archived[0])
    assert "metadata.password" not in archived[0] and archived[0]["givenName"] == "Givens1"
    assert "password" not in read_csv_rows(run_dir / "userProfiles.csv")[0]


def test_oneroster_csv_passwords_land_when_the_district_keeps_them(tmp_path: Path) -> None:
    district = make_district(tmp_path, oneroster_bundle(tmp_path / "night0"),
                             schools={"create_unmatched": True},
                             source={"keep_passwords": True})
    outcome = district.sync()
    assert outcome.status == "applied"
    assert district.query("select sourcedId, password, _ext->>'$.\"metadata.password\"' "
                          "from raw.oneroster_users order by 1") == [
        ("s1", secret("s1"), secret("meta0")), ("s2", secret("s2"), secret("meta1"))]
    [run_dir] = [p for p in archive_dir(district.warehouse_dir, district.district_id).iterdir()]
    assert read_csv_rows(run_dir / "users.csv")[0]["password"] == secret("s1")
    # a vendor's password column is still not a OneRoster one
    assert outcome.summary.error_counts == {"UNKNOWN_COLUMN": 1}


def test_an_empty_password_column_keeps_the_archived_file_exact(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "night0", orgs=[org("sch1", "North High")],
                          users=[student("s1", "sch1"), student("s2", "sch1")])
    sent = (bundle / "users.csv").read_bytes()
    assert b",password" in sent.splitlines()[0]
    district = make_district(tmp_path, bundle, schools={"create_unmatched": True})
    district.sync()
    [run_dir] = list(archive_dir(district.warehouse_dir, district.district_id).iterdir())
    assert (run_dir / "users.csv").read_bytes() == sent


def test_a_password_in_a_row_that_cannot_be_read_is_not_archived(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "night0", orgs=[org("sch1", "North High")],
                          users=[student("s1", "sch1"), student("s2", "sch1")])
    with open(bundle / "users.csv", "a", encoding="utf-8") as users:
        users.write(f's3,active,,true,sch1,student,s3,,G,F,,sis-s3,"broken,{secret(3)}\n')
    district = make_district(tmp_path, bundle, schools={"create_unmatched": True})
    outcome = district.sync()
    assert outcome.success and not outcome.summary.fetch_complete
    assert places_holding(district.warehouse_dir, SECRET) == []


def clever_upload(directory: Path) -> Path:
    directory.mkdir(parents=True)
    files = dict(CLEVER_FILES)
    files["students.csv"] = [f"{line},Password" if n == 0 else f"{line},{secret(n)}"
                             for n, line in enumerate(CLEVER_FILES["students.csv"])]
    files["teachers.csv"] = [f"{line},password" if n == 0 else f"{line},{secret(f't{n}')}"
                             for n, line in enumerate(CLEVER_FILES["teachers.csv"])]
    for name, lines in files.items():
        (directory / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


@pytest.mark.parametrize("keep", [False, True], ids=["dropped", "kept"])
def test_clever_csv_passwords(tmp_path: Path, keep: bool) -> None:
    district = make_district(tmp_path, clever_upload(tmp_path / "upload"),
                             schools={"create_unmatched": True},
                             source={"type": "clever_csv", "keep_passwords": keep})
    outcome = district.sync()
    assert outcome.success, outcome.failure
    passwords = district.query("select Password from raw.clever_csv_students order by 1")
    if keep:
        assert passwords == [(secret(n),) for n in (1, 2, 3)]
        assert district.scalar("select count(Password) from raw.clever_csv_teachers") == 3
        return
    assert passwords == [(None,)] * 3
    assert places_holding(district.warehouse_dir, SECRET) == []
    assert raw_rows_holding(district, SECRET) == {}


@pytest.fixture
def oneroster_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("RS_E2E_OR_ID", OR_ID)
    monkeypatch.setenv("RS_E2E_OR_SECRET", OR_SECRET)
    yield


@pytest.mark.parametrize("keep", [False, True], ids=["dropped", "kept"])
def test_oneroster_rest_passwords(tmp_path: Path, oneroster_env, keep: bool) -> None:
    with OneRosterServer("1.2", client_id=OR_ID, client_secret=OR_SECRET,
                         with_passwords=True) as server:
        district = make_live_district(tmp_path, oneroster_source(
            server, keep_passwords=keep, raw_retention_runs=2))
        user_id = server.collections["users"][0]["sourcedId"]
        outcome = district.sync()
    assert outcome.success and outcome.summary.fetch_complete, outcome.failure
    landed = district.query(
        "select password, _ext->>'$.userProfiles[0].credentials[0].password', "
        "_ext->>'$.userProfiles[0].credentials[0].username' is not null "
        "from raw.oneroster_users where sourcedId = ?", [user_id])
    if keep:
        assert landed == [(password_of(user_id), password_of(user_id), True)]
        return
    assert landed == [(None, None, True)]  # the credential stays, without its password
    assert places_holding(district.warehouse_dir, "-s3cret") == []
    assert raw_rows_holding(district, "-s3cret") == {}
