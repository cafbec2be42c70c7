"""Clever-format CSV uploads landed with DuckDB's reader and staged to the contract."""

from __future__ import annotations

import zipfile
from pathlib import Path

import duckdb
import pytest

from rostersync_pipeline.lib.ingest.providers import clever_csv, fetch_and_land
from rostersync_pipeline.lib.ingest.providers.base import LandingContext
from rostersync_pipeline.lib.ingest.providers.clever_csv import CleverCsvSource
from rostersync_pipeline.lib.storage.warehouse import ensure_schemas
from rostersync_pipeline_tests.fakes import create_staging_views

FILES = {
    "schools.csv": [
        "School_id,School_name,School_number,State_id,Low_grade,High_grade",
        "S1,North Elementary,101,ST-1,K,5",
        'S2,"South Middle, Campus B",102,ST-2,6,8',
    ],
    "students.csv": [
        "School_id,Student_id,Student_number,State_id,Last_name,First_name,Grade,DOB,"
        "Ell_status,IEP_status,Student_email,Username,ext.house,ext.programs",
        "S1,1001,N1001,SID1,Doe,Ann,3,09/01/2015,Y,N,ann@example.org,ann1,Red,",
        'S2,1002,N1002,SID2,Roe,Bob,7,2011-04-30,N,Y,,bob2,,"Robotics, Chess"',
        "S1,1003,N1003,SID3,Poe,Cy,Kindergarten,,,,cy@example.org,cy3,Blue,",
    ],
    "teachers.csv": [
        "School_id,Teacher_id,Teacher_number,State_teacher_id,Teacher_email,First_name,"
        "Last_name,Title",
        "S1,T1,900,STT1,t1@example.org,Tess,Teach,Teacher",
        "S2,T1,900,STT1,t1@example.org,Tess,Teach,Teacher",
        "S2,T2,901,STT2,t2@example.org,Uma,Ukon,Teacher",
    ],
    "sections.csv": [
        "School_id,Section_id,Teacher_id,Teacher_2_id,Name,Grade,Course_name,Course_number,"
        "Subject,Term_name,Term_start,Term_end",
        "S1,SEC1,T1,,Math 3,3,Math,M3,math,Fall,08/15/2024,12/20/2024",
        "S2,SEC2,T2,T1,Science 7,7,Science,SC7,science,Fall,08/15/2024,12/20/2024",
    ],
    "enrollments.csv": [
        "School_id,Section_id,Student_id",
        "S1,SEC1,1001",
        "S1,SEC1,1003",
        "S2,SEC2,1002",
    ],
    "staff.csv": [
        "School_id,Staff_id,Staff_email,First_name,Last_name,Title,Role",
        "S1,ST1,st1@example.org,Sam,Staff,Counselor,Staff",
    ],
}


def write_upload(directory: Path, newline: str = "\r", files: dict | None = None) -> Path:
    """Files with the given line ending and no final newline."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, lines in (files or FILES).items():
        (directory / name).write_bytes(newline.join(lines).encode())
    return directory


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    ensure_schemas(connection)
    yield connection
    connection.close()


def counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {t: con.execute(f"select count(*) from raw.{t}").fetchall()[0][0]
            for t in clever_csv.RAW_TABLES}


EXPECTED_RAW = {"clever_csv_schools": 2, "clever_csv_students": 3, "clever_csv_teachers": 3,
                "clever_csv_sections": 2, "clever_csv_enrollments": 3, "clever_csv_staff": 1}


@pytest.mark.parametrize("newline", ["\r", "\r\n", "\n"])
def test_upload_lands_with_any_line_ending_and_no_final_newline(con, tmp_path, newline) -> None:
    result = clever_csv.land_directory(con, write_upload(tmp_path / "up", newline),
                                       run_id="r1", work_dir=tmp_path / "work")
    assert result.complete, [p.describe() for p in result.problems]
    assert counts(con) == EXPECTED_RAW
    assert con.execute("select School_name from raw.clever_csv_schools where School_id = 'S2'"
                       ).fetchall() == [("South Middle, Campus B",)]
    assert con.execute("select _ext->>'$.\"ext.house\"', _source_row from raw.clever_csv_students "
                       "order by _source_row").fetchall() == [("Red", 2), (None, 3), ("Blue", 4)]


def test_zip_upload_stages_to_the_contract(con, tmp_path) -> None:
    directory = write_upload(tmp_path / "up", "\r")
    archive = tmp_path / "clever.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in directory.iterdir():
            zf.write(path, f"export/{path.name}")
    result = fetch_and_land(con, CleverCsvSource(path=str(archive)), LandingContext(
        run_id="r1", work_dir=tmp_path / "work", bundle=archive))
    assert result.complete and result.row_counts["users"] == 7
    create_staging_views(con, "clever")
    users = con.execute(
        "select user_source_id, role, school_source_ids, program_names, birth_date::varchar, "
        "email from staging.stg_clever__users order by 1").fetchall()
    assert users == [
        ("1001", "student", ["S1"], ["ELL"], "2015-09-01", "ann@example.org"),
        # the flags' programs and the ext.programs column, sorted as every provider's
        ("1002", "student", ["S2"], ["Chess", "IEP", "Robotics"], "2011-04-30", None),
        ("1003", "student", ["S1"], [], None, "cy@example.org"),
        ("ST1", "other", ["S1"], [], None, "st1@example.org"),
        ("T1", "educator", ["S1", "S2"], [], None, "t1@example.org"),
        ("T2", "educator", ["S2"], [], None, "t2@example.org"),
    ]
    enrollments = con.execute(
        "select enrollment_source_id, role from staging.stg_clever__enrollments order by 1"
    ).fetchall()
    assert enrollments == [("SEC1:1001:student", "student"), ("SEC1:1003:student", "student"),
                           ("SEC1:T1:teacher", "teacher"), ("SEC2:1002:student", "student"),
                           ("SEC2:T1:teacher", "teacher"), ("SEC2:T2:teacher", "teacher")]
    sections = con.execute("select section_source_id, course_source_id, term_source_id "
                           "from staging.stg_clever__sections order by 1").fetchall()
    assert sections[0] == ("SEC1", "course:S1:M3", "term:S1:Fall:08/15/2024:12/20/2024")
    terms = con.execute("select count(*), min(start_date)::varchar, max(school_year) "
                        "from staging.stg_clever__terms").fetchall()
    # a fall term ending in December belongs to the school year ending the next June
    assert terms == [(2, "2024-08-15", "2025")]
    assert con.execute("select count(*) from staging.stg_clever__courses").fetchall() == [(2,)]
    assert con.execute("select count(*) from staging.stg_clever__schools").fetchall() == [(2,)]


def test_bad_row_is_reported_with_file_and_line(con, tmp_path) -> None:
    files = dict(FILES)
    files["enrollments.csv"] = [*FILES["enrollments.csv"], "S1,SEC1,1004,surplus",
                                "S2,SEC2,1005"]
    result = clever_csv.land_directory(con, write_upload(tmp_path / "up", "\r", files),
                                       run_id="r1", work_dir=tmp_path / "work")
    assert not result.complete
    [bad] = [p for p in result.problems if p.location == "enrollments.csv"]
    assert (bad.row, bad.error_code) == (5, "MALFORMED_ROW")
    assert con.execute("select count(*) from raw.clever_csv_enrollments").fetchall() == [(4,)]


def test_unparseable_file_is_a_problem_not_a_crash(con, tmp_path) -> None:
    files = dict(FILES)
    files["enrollments.csv"] = [*FILES["enrollments.csv"], 'S1,SEC1,"1004', "S2,SEC2,1005"]
    result = clever_csv.land_directory(con, write_upload(tmp_path / "up", "\n", files),
                                       run_id="r1", work_dir=tmp_path / "work")
    assert not result.complete
    assert [p.location for p in result.problems if p.blocks_deactivation] == ["enrollments.csv"]


def test_missing_required_file_makes_the_fetch_incomplete(con, tmp_path) -> None:
    files = {k: v for k, v in FILES.items() if k != "enrollments.csv"}
    result = clever_csv.land_directory(con, write_upload(tmp_path / "up", "\n", files),
                                       run_id="r1", work_dir=tmp_path / "work")
    assert not result.complete
    assert [p.location for p in result.problems] == ["enrollments.csv"]
    assert result.entity_modes["enrollments"] == "absent"


def test_short_row_is_one_problem_naming_its_first_missing_field(con, tmp_path) -> None:
    files = dict(FILES)
    files["students.csv"] = [*FILES["students.csv"], "S1,1009,N1009"]
    result = clever_csv.land_directory(con, write_upload(tmp_path / "up", "\n", files),
                                       run_id="r1", work_dir=tmp_path / "work")
    bad = [p for p in result.problems if p.location == "students.csv"]
    assert [(p.row, p.field, p.error_code) for p in bad] == [(5, "State_id", "MALFORMED_ROW")]
    assert not result.complete


def test_contacts_on_students_csv_are_guardians_listing_their_students(con, tmp_path) -> None:
    """Clever CSV contacts (#13.1): siblings' rows naming one contact give one guardian (by
    Contact_sis_id, or without one by name, email and phone), listing each student with the
    relationship its row names; a row without contact columns lists no guardian."""
    header = ("School_id,Student_id,Last_name,First_name,Grade,Contact_relationship,"
              "Contact_type,Contact_name,Contact_phone,Contact_email,Contact_sis_id")
    files = dict(FILES)
    files["students.csv"] = [
        header,
        "S1,1001,Doe,Ann,3,Mother,guardian,Jo Doe,555-0101,Jo@Example.org,P1",
        "S2,1002,Doe,Bob,7,Mother,guardian,Jo Doe,555-0101,jo@example.org,P1",
        "S1,1001,Doe,Ann,3,Uncle,emergency,Al Doe,555-0102,,",
        "S2,1002,Doe,Bob,7,Uncle,emergency,Al Doe,555-0102,,",
        "S1,1003,Poe,Cy,K,,,,,,",
    ]
    result = clever_csv.land_directory(con, write_upload(tmp_path / "up", "\n", files),
                                       run_id="r1", work_dir=tmp_path / "work")
    assert result.complete, [p.describe() for p in result.problems]
    create_staging_views(con, "clever")
    guardians = con.execute(
        "select user_source_id, sis_id, email, last_name, school_source_ids, "
        "list_sort(relationships), source_row from staging.stg_clever__users "
        "where role = 'guardian' order by source_row").fetchall()
    uncle = "contact:" + con.execute(
        "select md5('al doe||555-0102')").fetchall()[0][0]
    assert guardians == [
        ("P1", "P1", "Jo@Example.org", "Jo Doe", ["S1", "S2"],
         [{"user_source_id": "1001", "relationship": "Mother"},
          {"user_source_id": "1002", "relationship": "Mother"}], 2),
        (uncle, None, None, "Al Doe", ["S1", "S2"],
         [{"user_source_id": "1001", "relationship": "Uncle"},
          {"user_source_id": "1002", "relationship": "Uncle"}], 4),
    ]
    # the students are still one user each (their repeated rows differ only in the contact)
    assert con.execute("select user_source_id from staging.stg_clever__users "
                       "where role = 'student' order by 1").fetchall() == [
        ("1001",), ("1002",), ("1003",)]
