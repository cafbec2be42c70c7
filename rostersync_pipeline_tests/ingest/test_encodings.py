"""Character encodings of bundle files: UTF-8 (with or without BOM) and UTF-16 with BOM are
read, ``source.encoding`` declares another, and a byte that does not decode is one
``INVALID_ENCODING`` problem naming file, line, byte offset and encoding: that file is not
landed, nothing is deactivated, and the run is recorded with its summary and export."""

from __future__ import annotations

import codecs
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from rostersync_pipeline.config import ConfigError
from rostersync_pipeline.lib.ingest.bundles import open_bundle
from rostersync_pipeline.lib.ingest.encodings import Undecodable, copy_as_utf8
from rostersync_pipeline.lib.ingest.providers import clever_csv, oneroster_csv
from rostersync_pipeline.lib.report.export import export_path
from rostersync_pipeline.lib.storage.warehouse import ensure_schemas
from rostersync_pipeline_tests.helpers import (
    USERS_HEADER,
    District,
    enrollment,
    make_district,
    org,
    section,
    student,
    write_bundle,
)

NAMES = {"s1": ("Zoë", "Müller-Ÿ"), "s2": ("José", "Nuñez"), "s3": ("Ann", "Smith")}
JAPANESE = {"s1": ("太郎", "山田"), "s2": ("花子", "鈴木"), "s3": ("Ann", "Smith")}


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    ensure_schemas(connection)
    yield connection
    connection.close()


def night(directory: Path, names: dict[str, tuple[str, str]] = NAMES) -> Path:
    return write_bundle(
        directory,
        orgs=[org("sch1", "North High")],
        users=[student(s, "sch1", givenName=g, familyName=f) for s, (g, f) in names.items()],
        classes=[section("sec1", "sch1")],
        enrollments=[enrollment(f"e-{s}", "sec1", s, "sch1") for s in names],
    )


def reencode(path: Path, encode) -> None:
    path.write_bytes(encode(path.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Case:
    description: str
    encode: object
    declared: str = "utf-8"
    names: tuple = tuple(NAMES.items())


READABLE = [
    Case("UTF-8 without BOM", lambda t: t.encode("utf-8")),
    Case("UTF-8 with BOM", lambda t: codecs.BOM_UTF8 + t.encode("utf-8")),
    Case("UTF-16 LE with BOM", lambda t: t.encode("utf-16")),
    Case("UTF-16 BE with BOM", lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be")),
    Case("UTF-16 with BOM beats a declared cp1252", lambda t: t.encode("utf-16"), "cp1252"),
    Case("cp1252 declared", lambda t: t.encode("cp1252"), "cp1252"),
    Case("cp1252 declared with CRLF line ends",
         lambda t: t.replace("\n", "\r\n").encode("cp1252"), "windows-1252"),
    Case("shift_jis declared", lambda t: t.encode("shift_jis"), "shift_jis",
         tuple(JAPANESE.items())),
    Case("UTF-8 declared as utf-8-sig", lambda t: t.encode("utf-8"), "utf-8-sig"),
]


@pytest.mark.parametrize("case", READABLE, ids=lambda c: c.description)
def test_a_readable_encoding_lands_the_same_names(con, tmp_path, case: Case) -> None:
    bundle = night(tmp_path / "bundle", dict(case.names))
    for path in bundle.iterdir():
        reencode(path, case.encode)
    result = oneroster_csv.land_bundle(con, bundle, run_id="r1", work_dir=tmp_path / "work",
                                       encoding=case.declared)
    assert [p.describe() for p in result.problems] == []
    assert result.complete
    assert con.execute("select sourcedId, givenName, familyName from raw.oneroster_users "
                       "order by 1").fetchall() == [(s, g, f) for s, (g, f) in case.names]
    assert (tmp_path / "work" / "users.csv").read_bytes().decode("utf-8")  # work copy is UTF-8


@dataclass(frozen=True)
class BadCase:
    description: str
    users_bytes: bytes
    declared: str
    line: int
    offset: int
    byte: str


def users_file(rows: list[str]) -> str:
    return "\n".join([",".join(USERS_HEADER), *rows]) + "\n"


ROW = "{id},active,,true,sch1,student,{id},,{given},Smith,,sis-{id},{id}@example.org,,,,05,"
HEADER_BYTES = len(",".join(USERS_HEADER)) + 1
CP1252_ROWS = users_file([ROW.format(id="s1", given="Ann"), ROW.format(id="s2", given="José")])
BAD = [
    BadCase("cp1252 undeclared", CP1252_ROWS.encode("cp1252"), "utf-8", 3,
            HEADER_BYTES + len(ROW.format(id="s1", given="Ann")) + 1 + len("s2,active,,true,"
                                                                           "sch1,student,s2,,Jos"),
            "0xE9"),
    BadCase("a byte cp1252 leaves undefined (0x81)",
            users_file([ROW.format(id="s1", given="A\x81n")]).encode("latin-1"), "cp1252", 2,
            HEADER_BYTES + len("s1,active,,true,sch1,student,s1,,A"), "0x81"),
    BadCase("a UTF-8 sequence cut by the end of the file",
            users_file([ROW.format(id="s1", given="Ann")]).encode() + b"\xc3", "utf-8", 3,
            HEADER_BYTES + len(ROW.format(id="s1", given="Ann")) + 1, "0xC3"),
    BadCase("UTF-16 without a byte-order mark",
            users_file([ROW.format(id="s1", given="Ann")]).encode("utf-16-le"), "utf-8", 1, 1,
            "0x00"),
    BadCase("shift_jis declared but an invalid lead byte",
            users_file([ROW.format(id="s1", given="太郎")]).encode("shift_jis")
            .replace("太郎".encode("shift_jis"), b"\x85\x40\x85\x40"), "shift_jis", 2,
            HEADER_BYTES + len("s1,active,,true,sch1,student,s1,,"), "0x85"),
]


@pytest.mark.parametrize("case", BAD, ids=lambda c: c.description)
def test_an_undecodable_byte_is_one_problem_naming_file_line_offset_and_encoding(
        con, tmp_path, case: BadCase) -> None:
    bundle = night(tmp_path / "bundle")
    (bundle / "users.csv").write_bytes(case.users_bytes)
    result = oneroster_csv.land_bundle(con, bundle, run_id="r1", work_dir=tmp_path / "work",
                                       encoding=case.declared)
    [problem] = result.problems
    assert (problem.error_code, problem.location, problem.row, problem.record_type) == (
        "INVALID_ENCODING", "users.csv", case.line, "file")
    assert problem.blocks_deactivation and not result.complete
    assert f"line {case.line}, byte offset {case.offset}: byte {case.byte}" in problem.reason
    assert "source.encoding" in problem.reason
    assert con.execute("select count(*) from raw.oneroster_users").fetchall() == [(0,)]
    assert con.execute("select count(*) from raw.oneroster_orgs").fetchall() == [(1,)]
    assert result.entity_modes["users"] == "bulk"  # sent, but unreadable: not "absent"
    assert not (tmp_path / "work" / "users.csv").exists()  # not landed, not archived


def test_a_bad_byte_on_line_200000_of_a_big_file_is_found_with_its_line(con, tmp_path) -> None:
    bundle = night(tmp_path / "bundle")
    good = users_file([ROW.format(id=f"u{n}", given=f"Given{n}") for n in range(2, 200_000)])
    late_prefix = b"late,active,,true,sch1,student,late,,Andr"
    (bundle / "users.csv").write_bytes(good.encode() + late_prefix + b"\xe9,Smith\n")
    result = oneroster_csv.land_bundle(con, bundle, run_id="r1", work_dir=tmp_path / "work")
    [problem] = result.problems
    assert (problem.error_code, problem.row) == ("INVALID_ENCODING", 200_000)
    assert f"byte offset {len(good) + len(late_prefix)}: byte 0xE9" in problem.reason


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 5, 7, 64])
@pytest.mark.parametrize("encoding, text", [
    ("utf-8", "ab\r\ncé\rdé\n€x\n"), ("utf-16-le", "ab\r\ncé\rdé\n€x\n"),
    ("shift_jis", "ab\r\n山田\r太郎\n花子x\n"), ("cp1252", "ab\r\ncé\rdé\n€x\n"),
])
def test_offset_and_line_do_not_depend_on_chunking(chunk_bytes, encoding, text) -> None:
    data = text.encode(encoding)
    bad = data.index("x".encode(encoding)) if encoding != "utf-16-le" else data.index(b"x\x00")
    broken = data[:bad] + (b"\x00\xdc" if encoding == "utf-16-le" else b"\x81") + data[bad + 1:]
    with pytest.raises(Undecodable) as caught:
        copy_as_utf8(io.BytesIO(broken), io.BytesIO().write, declared=encoding,
                     chunk_bytes=chunk_bytes)
    assert (caught.value.line, caught.value.offset) == (4, bad)
    out = io.BytesIO()
    assert copy_as_utf8(io.BytesIO(data), out.write, declared=encoding,
                        chunk_bytes=chunk_bytes) == encoding
    assert out.getvalue().decode("utf-8") == text


def test_a_zip_member_is_decoded_as_it_is_extracted(tmp_path) -> None:
    archive = tmp_path / "night.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("export/users.csv", "sourcedId,givenName\ns1,Zoë\n".encode("utf-16"))
        zf.writestr("export/orgs.csv", "sourcedId,name\nsch1,Caf\xe9\n".encode("cp1252"))
    opened = open_bundle(archive, tmp_path / "work")
    assert (tmp_path / "work" / "users.csv").read_text(encoding="utf-8") == \
        "sourcedId,givenName\ns1,Zoë\n"
    assert opened.encodings == {"users.csv": "utf-16-le"}
    assert [(p.location, p.row, p.error_code) for p in opened.problems] == [
        ("orgs.csv", 2, "INVALID_ENCODING")]
    assert opened.unreadable == {"orgs"}


def test_a_clever_students_file_in_utf16_lands(con, tmp_path) -> None:
    upload = tmp_path / "upload"
    upload.mkdir()
    files = {
        "schools.csv": "School_id,School_name\nS1,Escuela Peñalara\n",
        "students.csv": "School_id,Student_id,First_name,Last_name\nS1,1001,Zoë,Ñandú\n",
        "teachers.csv": "School_id,Teacher_id,First_name,Last_name\nS1,T1,Tess,Teach\n",
        "sections.csv": "School_id,Section_id,Teacher_id,Name\nS1,SEC1,T1,Math\n",
        "enrollments.csv": "School_id,Section_id,Student_id\nS1,SEC1,1001\n",
    }
    for name, text in files.items():
        (upload / name).write_bytes(text.encode("utf-16" if name == "students.csv" else "utf-8"))
    result = clever_csv.land_directory(con, upload, run_id="r1", work_dir=tmp_path / "work")
    assert result.complete, [p.describe() for p in result.problems]
    assert con.execute("select First_name, Last_name from raw.clever_csv_students"
                       ).fetchall() == [("Zoë", "Ñandú")]


def test_a_bad_declared_encoding_is_a_config_error_naming_the_key(tmp_path) -> None:
    bundle = night(tmp_path / "bundle")
    with pytest.raises(ConfigError, match=r"key source\.encoding: .*unknown encoding 'klingon'"):
        make_district(tmp_path, bundle, source={"encoding": "klingon"})
    with pytest.raises(ConfigError, match=r"key source\.encoding: .*not a text encoding"):
        make_district(tmp_path, bundle, source={"encoding": "rot13"})


# Through the whole job: a good first sync, then a night whose users.csv is cp1252.

@pytest.fixture
def synced(tmp_path: Path) -> tuple[District, dict]:
    district = make_district(tmp_path, night(tmp_path / "night0"),
                             schools={"create_unmatched": True})
    outcome = district.sync()
    assert outcome.status == "applied" and outcome.summary.counts["students"] == {"create": 3}
    return district, district.roster_snapshot()


def test_an_undeclared_cp1252_users_file_is_recorded_and_deactivates_nobody(
        synced, tmp_path: Path) -> None:
    district, before = synced
    night1 = night(tmp_path / "night1", {"s1": ("Zoë", "Müller"), "s2": ("José", "Nuñez")})
    reencode(night1 / "users.csv", lambda t: t.encode("cp1252"))

    outcome = district.sync(night1)

    assert outcome.success, outcome.failure
    assert outcome.summary.fetch_complete is False
    assert outcome.summary.error_counts.get("INVALID_ENCODING") == 1
    [error] = district.errors(outcome.run_id, "INVALID_ENCODING")
    assert (error["record_type"], error["source_file"], error["source_row"]) == (
        "file", "users.csv", 2)
    assert "valid utf-8" in error["message"] and error["remediation"]
    assert all("deactivate" not in actions for actions in outcome.summary.counts.values())
    assert district.roster_snapshot()["users"] == before["users"]
    with zipfile.ZipFile(export_path(district.warehouse_dir, district.district_id,
                                     outcome.run_id)) as export:
        assert any("INVALID_ENCODING" in export.read(n).decode("utf-8-sig")
                   for n in export.namelist() if n.startswith("sync_errors"))


def test_a_declared_cp1252_bundle_syncs_its_names(tmp_path: Path) -> None:
    bundle = night(tmp_path / "night0")
    for path in bundle.iterdir():
        reencode(path, lambda t: t.encode("cp1252"))
    district = make_district(tmp_path, bundle, schools={"create_unmatched": True},
                             source={"encoding": "cp1252"})
    outcome = district.sync()
    assert outcome.status == "applied", outcome.summary.reasons
    assert outcome.summary.fetch_complete and not outcome.summary.error_counts
    assert dict(district.query("select source_id, first_name || ' ' || last_name "
                               "from roster.users")) == {
        s: f"{g} {f}" for s, (g, f) in NAMES.items()}
