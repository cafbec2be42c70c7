"""The plain CSV user import (``source.type: csv_import``, issue #13 point 4): a SIS export with
its own headers, mapped by ``source.columns``, landed through the shared bundle code and synced
for real into the roster; its errors are the other sources' (file, row, field, code)."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import duckdb
import pytest
import yaml

from rostersync_pipeline.config import ConfigError
from rostersync_pipeline.lib.ingest.providers import fetch_and_land, raw_table_ddl
from rostersync_pipeline.lib.ingest.providers.base import LandingContext
from rostersync_pipeline.lib.ingest.providers.csv_import import FIELDS, CsvImportSource
from rostersync_pipeline.lib.storage.warehouse import ensure_schemas
from rostersync_pipeline_tests.helpers import (
    District,
    enrollment,
    make_district,
    org,
    section,
    student,
    teacher,
    write_bundle,
)

TEMPLATES = Path(__file__).resolve().parents[2] / "docs" / "templates" / "csv_import"

# A SIS export as a school coordinator downloads it: the SIS's own headers, one row per person
# and school (Tess Teach teaches at both schools), columns the app does not need, a parent of
# two students.
PEOPLE = [
    "Student ID,Last Name,First Name,Grade Level,Birthdate,School Code,School,Email Address,"
    "User Type,ELL,Homeroom,Bus Route,Guardian Of,Relationship",
    "1001,Doe,Ann,05,9/1/2014,S1,North Elementary,ann@example.org,Student,Y,R12,7,,",
    "1002,Roe,Bob,05,2014-03-30,S1,North Elementary,bob@example.org,Student,N,R12,,,",
    "1003,Poe,Cy,07,11/30/2012,S2,South Middle,cy@example.org,student,,R3,4,,",
    "T1,Teach,Tess,,,S1,North Elementary,tess@example.org,Teacher,,,,,",
    "T1,Teach,Tess,,,S2,South Middle,tess@example.org,Teacher,,,,,",
    "T2,Ukon,Uma,,,S2,South Middle,uma@example.org,Educator,,,,,",
    "P1,Doe,Jo,,,S1,North Elementary,jo@example.org,Parent,,,,1001;1002,Guardian",
]
CLASSES = [
    "Section Number,School Code,Course Title,Course Number,Teacher ID,Term,Term Begin,Term End,"
    "Period",
    "SEC1,S1,Math 5,M5,T1,Fall,8/15/2024,12/20/2024,2",
    "SEC2,S2,Science 7,SC7,T2,Fall,8/15/2024,12/20/2024,3",
]
ENROLLMENTS = [
    "Section Number,Student ID",
    "SEC1,1001",
    "SEC1,1002",
    "SEC2,1003",
    "SEC2,T1",
]
COLUMNS = {
    "people": {"Student ID": "sis_id", "Last Name": "last_name", "First Name": "first_name",
               "Grade Level": "grade", "Birthdate": "birth_date", "School Code": "school_id",
               "School": "school_name", "Email Address": "email", "User Type": "role",
               "ELL": "ell_status", "Homeroom": "not_imported", "Guardian Of": "related_sis_ids",
               "Relationship": "relationship"},
    "classes": {"Section Number": "class_id", "School Code": "school_id",
                "Course Title": "class_name", "Course Number": "course_code",
                "Teacher ID": "teacher_sis_id", "Term": "term_name", "Term Begin": "term_start",
                "Term End": "term_end", "Period": "not_imported"},
    "enrollments": {"Section Number": "class_id", "Student ID": "person_sis_id"},
}


def write_export(directory: Path, people: list[str] = PEOPLE, classes: list[str] = CLASSES,
                 enrollments: list[str] = ENROLLMENTS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, lines in (("people", people), ("classes", classes),
                        ("enrollments", enrollments)):
        (directory / f"{name}.csv").write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return directory


def import_district(tmp_path: Path, bundle: Path, columns: dict = COLUMNS,
                    district_id: str = "district-a") -> District:
    return make_district(tmp_path, bundle, district_id,
                         source={"type": "csv_import", "columns": columns},
                         schools={"create_unmatched": True})


def error_rows(district: District, run_id: str) -> set[tuple]:
    return {(e["error_code"], e["field"], e["error_value"], e["source_file"], e["source_row"])
            for e in district.errors(run_id)}


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    ensure_schemas(connection)
    yield connection
    connection.close()


def land(con: duckdb.DuckDBPyConnection, bundle: Path, work_dir: Path, **source: object):
    settings = CsvImportSource(path=str(bundle), **source)
    return fetch_and_land(con, settings, LandingContext(run_id="r1", work_dir=work_dir,
                                                        bundle=bundle))


def test_a_sis_export_with_its_own_headers_syncs_into_the_roster(tmp_path: Path) -> None:
    district = import_district(tmp_path, write_export(tmp_path / "export"))
    outcome = district.sync()
    assert outcome.status == "applied", (outcome.failure, outcome.summary)
    # the one column neither mapped nor set aside is reported once, not imported
    assert error_rows(district, outcome.run_id) == {
        ("UNKNOWN_COLUMN", "Bus Route", None, "people.csv", 1)}
    users = district.query(
        "select u.source_id, u.role, u.sis_id, u.first_name, u.last_name, u.email, u.grade, "
        "u.birth_date::varchar, s.custom_name from roster.users as u "
        "left join roster.schools as s on s.app_id = u.school_app_id "
        "where u.role <> 'guardian' order by 1")
    assert users == [
        ("1001", "student", "1001", "Ann", "Doe", "ann@example.org", "05", "2014-09-01",
         "North Elementary"),
        ("1002", "student", "1002", "Bob", "Roe", "bob@example.org", "05", "2014-03-30",
         "North Elementary"),
        ("1003", "student", "1003", "Cy", "Poe", "cy@example.org", "07", "2012-11-30",
         "South Middle"),
        ("T1", "educator", "T1", "Tess", "Teach", "tess@example.org", None, None,
         "North Elementary"),
        ("T2", "educator", "T2", "Uma", "Ukon", "uma@example.org", None, None, "South Middle"),
    ]
    assert district.query("select source_id, custom_name from roster.schools order by 1") == [
        ("S1", "North Elementary"), ("S2", "South Middle")]
    assert district.query(
        "select sec.source_id, sec.name, s.custom_name from roster.sections as sec "
        "join roster.schools as s on s.app_id = sec.school_app_id order by 1") == [
        ("SEC1", "Math 5", "North Elementary"), ("SEC2", "Science 7", "South Middle")]
    assert district.query(
        "select source_id, role, status from roster.enrollments order by 1") == [
        ("SEC1:1001:student", "student", "active"), ("SEC1:1002:student", "student", "active"),
        ("SEC1:T1:teacher", "teacher", "active"), ("SEC2:1003:student", "student", "active"),
        ("SEC2:T1:teacher", "teacher", "active"), ("SEC2:T2:teacher", "teacher", "active"),
    ]
    with district.delivered(None):
        programs = district.query(
            "select user_source_id, program_names, school_source_ids from core.users order by 1")
        relationships = district.query(
            "select guardian_source_id, student_source_id, relationship "
            "from core.guardian_relationships order by all")
    assert programs[0] == ("1001", ["ELL"], ["S1"])
    assert programs[3] == ("T1", [], ["S1", "S2"])
    # the parent is a guardian of both students, not a user of the roster
    assert relationships == [("P1", "1001", "Guardian"), ("P1", "1002", "Guardian")]


def test_a_mapped_header_missing_names_file_and_header_and_deactivates_nobody(
    tmp_path: Path,
) -> None:
    district = import_district(tmp_path, write_export(tmp_path / "night-0"))
    assert district.sync().status == "applied"
    before = district.roster_snapshot()
    # night 1: the SIS export lost its email column, and a student left
    people = [",".join(c for i, c in enumerate(line.split(",")) if i != 7)
              for line in PEOPLE if not line.startswith("1002,")]
    night_1 = write_export(tmp_path / "night-1", people=people)
    outcome = district.sync(night_1)
    [error] = district.errors(outcome.run_id, "FETCH_INCOMPLETE")
    assert (error["field"], error["source_file"], error["source_row"]) == (
        "Email Address", "people.csv", 1)
    assert "source.columns.people maps to email, is not in the file" in error["message"]
    # its people are not landed: their enrollments have no one to refer to (as in OneRoster)
    assert {e["error_code"] for e in district.errors(outcome.run_id)} == {
        "FETCH_INCOMPLETE", "ORPHAN_ENROLLMENT"}
    assert district.query("select count(*) from raw.csv_import_users") == [(0,)]
    assert not [row for row in district.plan() if row[1] == "deactivate"]
    after = district.roster_snapshot()
    assert after["users"] == before["users"] and after["enrollments"] == before["enrollments"]


def test_bad_dates_grades_and_roles_are_error_rows(tmp_path: Path) -> None:
    people = [*PEOPLE[:1],
              "1001,Doe,Ann,05,13/45/2014,S1,North Elementary,ann@example.org,Student,Y,R12,7,,",
              "1002,Roe,Bob,5th,2014-03-30,S1,North Elementary,bob@example.org,Student,maybe,,,,",
              "1003,Poe,Cy,07,11/30/2012,S2,South Middle,cy@example.org,Pupil,,R3,4,,",
              *PEOPLE[4:]]
    classes = [*CLASSES[:2], "SEC2,S2,Science 7,SC7,T2,Fall,August 15,12/20/2024,3"]
    enrollments = [*ENROLLMENTS[:3], "SEC2,1003", "SEC2,T1"]
    district = import_district(tmp_path, write_export(tmp_path / "export", people, classes,
                                                       enrollments))
    outcome = district.sync()
    assert outcome.status == "applied", outcome.summary
    errors = error_rows(district, outcome.run_id)
    assert errors == {
        ("UNKNOWN_COLUMN", "Bus Route", None, "people.csv", 1),
        ("INVALID_VALUE", "birth_date", "13/45/2014", "people.csv", 2),
        ("INVALID_GRADE", "grade", "5th", "people.csv", 3),
        ("INVALID_VALUE", "ell_status", "maybe", "people.csv", 3),
        ("INVALID_VALUE", "role", "Pupil", "people.csv", 4),
        # the enrollment names no role and its person's role could not be read
        ("INVALID_VALUE", "role", None, "enrollments.csv", 4),
        ("INVALID_VALUE", "start_date", "August 15", "classes.csv", 3),
    }, errors
    # a birth date that cannot be read is left out; a role that cannot be read keeps the
    # person out (and so their enrollment)
    assert district.query("select source_id, birth_date from roster.users "
                          "where role <> 'guardian' order by 1") == [
        ("1001", None), ("T1", None), ("T2", None)]


def test_the_same_district_as_oneroster_csv_and_as_csv_import_gives_the_same_core_users(
    tmp_path: Path,
) -> None:
    oneroster = write_bundle(
        tmp_path / "oneroster",
        orgs=[org("S1", "North Elementary"), org("S2", "South Middle")],
        users=[student("or-1001", "S1", identifier="1001", givenName="Ann", familyName="Doe",
                       email="ann@example.org", username="ann", grades="05"),
               student("or-1003", "S2", identifier="1003", givenName="Cy", familyName="Poe",
                       email="cy@example.org", username="cy", grades="07"),
               teacher("or-T1", "S1,S2", identifier="T1", givenName="Tess", familyName="Teach",
                       email="tess@example.org", username="tess")],
        classes=[section("SEC1", "S1", title="Math 5")],
        enrollments=[enrollment("e1", "SEC1", "or-1001", "S1"),
                     enrollment("e2", "SEC1", "or-T1", "S1", role="teacher")],
    )
    csv_import = write_export(
        tmp_path / "csv_import",
        people=["sis_id,role,school_id,school_name,first_name,last_name,email,username,grade",
                "1001,student,S1,North Elementary,Ann,Doe,ann@example.org,ann,05",
                "1003,student,S2,South Middle,Cy,Poe,cy@example.org,cy,07",
                "T1,teacher,S1,North Elementary,Tess,Teach,tess@example.org,tess,",
                "T1,teacher,S2,South Middle,Tess,Teach,tess@example.org,tess,"],
        classes=["class_id,school_id,class_name,teacher_sis_id", "SEC1,S1,Math 5,T1"],
        enrollments=["class_id,person_sis_id", "SEC1,1001"],
    )
    districts = {
        "oneroster": make_district(tmp_path / "a", oneroster, "district-or",
                                   schools={"create_unmatched": True}),
        "csv_import": import_district(tmp_path / "b", csv_import, columns={},
                                      district_id="district-ci"),
    }
    users = {}
    for name, district in districts.items():
        outcome = district.sync()
        assert outcome.status == "applied", (name, outcome.summary)
        assert district.errors(outcome.run_id) == [], name
        users[name] = district.query(
            "select * exclude (user_source_id, provider, source_file, source_row) "
            "from core.users order by sis_id")
    assert len(users["csv_import"]) == 3
    assert users["csv_import"] == users["oneroster"]


def test_guardians_name_their_students_with_the_relationship_word(tmp_path: Path) -> None:
    people = [
        "sis_id,role,school_id,school_name,first_name,last_name,email,grade,related_sis_ids,"
        "relationship",
        "1001,student,S1,North Elementary,Ann,Doe,ann@example.org,05,,",
        "1002,student,S1,North Elementary,Bob,Doe,bob@example.org,05,,",
        # a student may name its guardian itself
        "1003,student,S2,South Middle,Cy,Poe,cy@example.org,07,P4,",
        "T1,teacher,S1,North Elementary,Tess,Teach,tess@example.org,,,",
        "T1,teacher,S2,South Middle,Tess,Teach,tess@example.org,,,",
        # an educator has no related people: not followed, the educator is imported
        "T2,teacher,S2,South Middle,Uma,Ukon,uma@example.org,,1003,Aunt",
        # one guardian shared by the siblings
        "P1,guardian,S1,North Elementary,Jo,Doe,jo@example.org,,1001; 1002,Mother",
        # one guardian on two rows: two schools, a word per student
        "P2,parent,S1,North Elementary,Al,Doe,al@example.org,,1001,Grandfather",
        "P2,parent,S2,South Middle,Al,Doe,al@example.org,,1003,Uncle",
        # ids run together with a space, and an id that is nobody in the file
        "P3,contact,S2,South Middle,Vi,Poe,vi@example.org,,1003 1002;9999,Guardian",
        "P4,guardian,S2,South Middle,Mo,Poe,mo@example.org,,,",
    ]
    export = write_export(tmp_path / "export", people=people)
    district = import_district(tmp_path, export, columns={
        "classes": COLUMNS["classes"], "enrollments": COLUMNS["enrollments"]})
    outcome = district.sync()
    assert outcome.status == "applied", outcome.summary
    with district.delivered(None):
        guardians = district.query(
            "select user_source_id, email, first_name, last_name, school_source_ids "
            "from core.guardians order by 1")
        relationships = district.query(
            "select guardian_source_id, student_source_id, relationship "
            "from core.guardian_relationships order by 1, 2")
    assert guardians == [("P1", "jo@example.org", "Jo", "Doe", ["S1"]),
                         ("P2", "al@example.org", "Al", "Doe", ["S1", "S2"]),
                         ("P3", "vi@example.org", "Vi", "Poe", ["S2"]),
                         ("P4", "mo@example.org", "Mo", "Poe", ["S2"])]
    assert relationships == [("P1", "1001", "Mother"), ("P1", "1002", "Mother"),
                             ("P2", "1001", "Grandfather"), ("P2", "1003", "Uncle"),
                             ("P4", "1003", None)]
    errors = {(e["record_type"], e["source_id"], e["error_code"], e["field"], e["error_value"],
               e["source_file"], e["source_row"]) for e in district.errors(outcome.run_id)}
    assert errors == {
        ("guardian", "P3", "INVALID_VALUE", "related_sis_ids", "1003 1002;9999", "people.csv",
         11),
        ("guardian", "P3", "RELATIONSHIP_NOT_FOUND", "student", "9999", "people.csv", 11),
        ("educator", "T2", "INVALID_VALUE", "related_sis_ids", "1003", "people.csv", 7),
    }, errors
    # neither problem keeps its person out
    assert district.query("select source_id from roster.users "
                          "where role <> 'guardian' order by 1") == [
        ("1001",), ("1002",), ("1003",), ("T1",), ("T2",)]
    # the app holds the guardians, linked to their students with the word
    assert district.query(
        "select g.source_id, s.source_id, l.relationship from roster.guardian_relationships "
        "as l join roster.users as g on g.app_id = l.guardian_app_id "
        "join roster.users as s on s.app_id = l.student_app_id order by all") == relationships


def test_the_bundle_goes_through_the_shared_safety_and_encoding_code(con, tmp_path) -> None:
    export = write_export(tmp_path / "export")
    (export / "people.csv").write_bytes(
        (export / "people.csv").read_bytes().replace(b"Roe", b"R\xf6e"))
    result = land(con, export, tmp_path / "work", columns=COLUMNS)
    [bad] = [p for p in result.problems if p.error_code == "INVALID_ENCODING"]
    assert (bad.location, bad.row) == ("people.csv", 3) and "utf-8" in bad.reason
    assert not result.complete
    # declared, the same bytes read as cp1252
    result = land(con, export, tmp_path / "work2", columns=COLUMNS, encoding="cp1252")
    assert result.complete, [p.describe() for p in result.problems]
    assert con.execute("select last_name from raw.csv_import_users where sis_id = '1002'"
                       ).fetchall() == [("Röe",)]
    # a symlink among the files refuses the bundle
    linked = write_export(tmp_path / "linked")
    (linked / "classes.csv").unlink()
    (linked / "classes.csv").symlink_to(export / "classes.csv")
    result = land(con, linked, tmp_path / "work3", columns=COLUMNS)
    assert [p.error_code for p in result.problems] == ["BUNDLE_REFUSED"]
    assert con.execute("select count(*) from raw.csv_import_users").fetchall() == [(0,)]


def test_a_zip_with_a_person_without_id_is_missing_source_id(con, tmp_path) -> None:
    export = write_export(tmp_path / "export",
                          people=[*PEOPLE, ",Nobody,No,05,,S1,North Elementary,,Student,,,,,"])
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(export.iterdir()):
            zf.write(path, f"sis/{path.name}")
    result = land(con, archive, tmp_path / "work", columns=COLUMNS)
    missing = [(p.location, p.row, p.field, p.record_type) for p in result.problems
               if p.error_code == "MISSING_SOURCE_ID"]
    assert missing == [("people.csv", 9, "sis_id", "user")]
    assert not result.complete
    assert result.row_counts["users"] == 8 and result.entity_modes["enrollments"] == "bulk"


def test_people_csv_is_required_and_the_others_are_optional(con, tmp_path) -> None:
    export = write_export(tmp_path / "export")
    (export / "classes.csv").unlink()
    (export / "enrollments.csv").unlink()
    result = land(con, export, tmp_path / "work", columns=COLUMNS)
    assert result.complete, [p.describe() for p in result.problems]
    assert result.entity_modes == {"users": "bulk", "schools": "bulk", "sections": "absent",
                                   "terms": "absent", "courses": "absent",
                                   "enrollments": "absent"}
    (export / "people.csv").unlink()
    result = land(con, export, tmp_path / "work2", columns=COLUMNS)
    assert [(p.location, p.error_code) for p in result.problems] == [
        ("people.csv", "FETCH_INCOMPLETE")]
    assert not result.complete


def test_a_file_without_its_id_or_role_column_is_not_landed(con, tmp_path) -> None:
    export = write_export(tmp_path / "export")
    result = land(con, export, tmp_path / "work",
                  columns={"people": {"Last Name": "last_name"}})
    blocking = [(p.location, p.field) for p in result.problems if p.blocks_deactivation]
    assert blocking == [("people.csv", "sis_id"), ("people.csv", "role"),
                        ("classes.csv", "class_id"), ("enrollments.csv", "class_id"),
                        ("enrollments.csv", "person_sis_id")]
    assert con.execute("select count(*) from raw.csv_import_users").fetchall() == [(0,)]


@pytest.mark.parametrize(("columns", "key", "reason"), [
    ({"people": {"Student ID": "student_id"}}, "source.columns.people.Student ID",
     "Input should be 'sis_id'"),
    ({"people": {"A": "sis_id", "B": "sis_id"}}, "source.columns.people",
     "both mapped to sis_id"),
    ({"schools": {"Code": "school_id"}}, "source.columns.schools", "Extra inputs"),
    ({"classes": {"Section": "person_sis_id"}}, "source.columns.classes.Section",
     "Input should be"),
])
def test_a_bad_columns_mapping_is_a_config_error_naming_the_key(
    tmp_path: Path, columns: dict, key: str, reason: str,
) -> None:
    with pytest.raises(ConfigError) as raised:
        import_district(tmp_path, tmp_path, columns=columns)
    assert f"key {key}: " in str(raised.value) and reason in str(raised.value)


def test_the_downloadable_template_lands_as_is(con, tmp_path) -> None:
    bundle = tmp_path / "template"
    shutil.copytree(TEMPLATES, bundle)
    result = land(con, bundle, tmp_path / "work")
    assert result.complete and result.problems == [], [p.describe() for p in result.problems]
    for name, fields in FIELDS.items():
        header = (TEMPLATES / f"{name}.csv").read_text(encoding="utf-8").splitlines()[0]
        assert tuple(header.split(",")) == fields, name
    assert result.row_counts["users"] > 0 and result.row_counts["enrollments"] > 0


def test_a_raw_table_made_before_the_relationship_fields_gains_them(tmp_path) -> None:
    connection = duckdb.connect()
    connection.execute("create schema raw")
    older = [f for f in FIELDS["people"] if f not in ("related_sis_ids", "relationship")]
    connection.execute(raw_table_ddl("csv_import_users", tuple(older)))
    connection.execute("insert into raw.csv_import_users (sis_id, role) values ('1001', 'student')")
    ensure_schemas(connection)
    columns = [row[0] for row in connection.execute(
        "select column_name from information_schema.columns where table_schema = 'raw' "
        "and table_name = 'csv_import_users' order by ordinal_position").fetchall()]
    assert columns[-2:] == ["related_sis_ids", "relationship"]
    assert connection.execute("select sis_id, related_sis_ids from raw.csv_import_users"
                              ).fetchall() == [("1001", None)]
    bundle = tmp_path / "template"
    shutil.copytree(TEMPLATES, bundle)
    result = land(connection, bundle, tmp_path / "work")
    assert result.complete, [p.describe() for p in result.problems]
    assert connection.execute(
        "select related_sis_ids, relationship from raw.csv_import_users where sis_id = 'P-9002'"
    ).fetchall() == [("1002;2001", "Guardian")]
    connection.close()


def test_the_example_in_providers_md_is_a_valid_source_and_maps_the_export_above() -> None:
    text = (TEMPLATES.parents[1] / "providers.md").read_text(encoding="utf-8")
    section = text.split("## `csv_import`", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    source = CsvImportSource(**yaml.safe_load(example)["source"])
    # the documented mapping reads this test's SIS export (its headers are those of the example)
    for name in ("people", "classes", "enrollments"):
        documented = getattr(source.columns, name)
        assert {h: f for h, f in COLUMNS[name].items() if h in documented} == documented, name
