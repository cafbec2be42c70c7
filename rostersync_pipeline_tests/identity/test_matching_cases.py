"""``sync.matches`` (and ``sync.match_alerts``) case by case, on a real in-memory DuckDB.

Each case is ``description / incoming / app roster / config / expected``: the incoming
``core.*`` rows and the app's ``roster.*`` rows of a tiny district (see
``rostersync_pipeline_tests/fixtures/tiny_district.py``), the district config, and every row
``sync.matches`` must hold, with the alerts and the run's error rows (none unless listed).
The rules are those of ``docs/identity.md``: a recorded decision wins; otherwise the first
configured key that finds any app record decides (one -> matched, several -> ambiguous).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import duckdb
import pytest

from rostersync_pipeline.lib.transform.sql_runner import load_models, run_models
from rostersync_pipeline_tests.fixtures.tiny_district import (
    CORE_COLUMNS,
    NO_RELATIONSHIPS,
    Row,
    TinyDistrict,
    app_educator,
    app_school,
    app_section,
    app_student,
    decision,
    educator,
    match_and_plan,
    match_and_plan_models,
    rows,
    school,
    section,
    sorted_rows,
    student,
    write_district,
)

EMAIL_FIRST = {"match_keys": {"students": ["email"], "educators": ["email"]}}
ADA = "ada.byron@example.org"


@dataclass(frozen=True)
class Case:
    description: str
    incoming: Sequence[Row]
    app: Sequence[Row]
    # (entity, source_id, match_status, matched_rule, matched_value, app_id, candidate_app_ids)
    matches: Sequence[tuple]
    config: Mapping[str, Any] = field(default_factory=dict)
    # (entity, source_id_l, app_id_r, rules, score, status)
    alerts: Sequence[tuple] = ()
    # (record_type, error_code, source_id, field, app_id)
    errors: Sequence[tuple] = ()


CASES = [
    Case(
        "source_id is tried first and decides, although sis_id finds another record",
        incoming=[student("s1", sis_id="S1")],
        app=[app_student(7, "s1", sis_id="S0"), app_student(8, "x8", sis_id="S1")],
        matches=[("students", "s1", "matched", "source_id", "s1", 7, [7])],
    ),
    Case(
        "the configured order decides: sis_id before source_id",
        incoming=[student("s1", sis_id="S1")],
        app=[app_student(7, "s1", sis_id="S0"), app_student(8, "x8", sis_id="S1")],
        config={"match_keys": {"students": ["sis_id", "source_id"]}},
        matches=[("students", "s1", "matched", "sis_id", "S1", 8, [8])],
    ),
    Case(
        "a rotated source id is matched on sis_id and keeps the app id",
        incoming=[student("s1-new", sis_id="S1")],
        app=[app_student(7, "s1-old", sis_id="S1")],
        matches=[("students", "s1-new", "matched", "sis_id", "S1", 7, [7])],
    ),
    Case(
        "rotated source and sis ids are matched on email",
        incoming=[student("s1-new", sis_id="S1-new", email=ADA)],
        app=[app_student(7, "s1-old", sis_id="S1-old", email=ADA)],
        matches=[("students", "s1-new", "matched", "email", ADA, 7, [7])],
    ),
    Case(
        "email is compared lower-cased and trimmed (the app holds capitals and spaces)",
        incoming=[student("s1", sis_id="S1", email=ADA)],
        app=[app_student(7, "manual-1", email="  Ada.Byron@EXAMPLE.org ", origin="manual")],
        config=EMAIL_FIRST,
        matches=[("students", "s1", "matched", "email", ADA, 7, [7])],
    ),
    Case(
        "username is compared lower-cased and trimmed on both sides",
        incoming=[student("s1", sis_id="S1", username=" ABYRON ")],
        app=[app_student(7, "x7", username="AByron")],
        config={"match_keys": {"students": ["username"]}},
        matches=[("students", "s1", "matched", "username", "abyron", 7, [7])],
    ),
    Case(
        "a key that finds two app records is ambiguous, naming both",
        incoming=[student("s1", sis_id="S1", email=ADA)],
        app=[app_student(7, "x7", email=ADA), app_student(9, "x9", email=ADA.upper())],
        config=EMAIL_FIRST,
        matches=[("students", "s1", "ambiguous", "email", ADA, None, [7, 9])],
        errors=[("student", "EXACT_MATCH_MULTIPLE", "s1", "email", 7)],
    ),
    Case(
        "the first key that finds anything decides, even when a later key finds exactly one",
        incoming=[student("s1", sis_id="S1", email=ADA)],
        app=[app_student(7, "x7", sis_id="S1"), app_student(8, "x8", sis_id="S1"),
             app_student(9, "x9", email=ADA)],
        config={"match_keys": {"students": ["sis_id", "email"]}},
        matches=[("students", "s1", "ambiguous", "sis_id", "S1", None, [7, 8])],
        errors=[("student", "EXACT_MATCH_MULTIPLE", "s1", "sis_id", 7)],
    ),
    Case(
        "no key finds an app record: new",
        incoming=[student("s1", sis_id="S1", email=ADA)],
        app=[app_student(7, "x7", sis_id="S7", email="someone.else@example.org")],
        matches=[("students", "s1", "new", None, None, None, [])],
    ),
    Case(
        "students never match educators, even on source_id and sis_id",
        incoming=[student("u1", sis_id="U1"),
                  educator("t-u1", sis_id="U1", email="teacher@example.org")],
        app=[app_educator(7, "u1", sis_id="U1")],
        matches=[("educators", "t-u1", "matched", "sis_id", "U1", 7, [7]),
                 ("students", "u1", "new", None, None, None, [])],
    ),
    Case(
        "a recorded decision wins over the keys",
        incoming=[student("s1", sis_id="S1")],
        app=[app_student(7, "s1", sis_id="S1"), app_student(9, "x9", sis_id="S9"),
             decision("s1", "match", 9)],
        matches=[("students", "s1", "matched", "decision", "9", 9, [9])],
    ),
    Case(
        "the latest decision counts: a later create decision undoes a match decision",
        incoming=[student("s1", sis_id="S1")],
        app=[app_student(7, "s1", sis_id="S1"), app_student(9, "x9", sis_id="S9"),
             decision("s1", "match", 9, decided_at=datetime(2026, 11, 1)),
             decision("s1", "create", decided_at=datetime(2026, 11, 2))],
        matches=[("students", "s1", "matched", "source_id", "s1", 7, [7])],
    ),
    Case(
        "a decision naming an app record that no longer exists is ignored",
        incoming=[student("s1", sis_id="S1")],
        app=[app_student(7, "s1", sis_id="S1"), decision("s1", "match", 404)],
        matches=[("students", "s1", "matched", "source_id", "s1", 7, [7])],
    ),
    Case(
        "a deactivated app record is a candidate like any other",
        incoming=[student("s1", sis_id="S1")],
        app=[app_student(7, "s1-old", sis_id="S1", status="inactive")],
        matches=[("students", "s1", "matched", "sis_id", "S1", 7, [7])],
    ),
    Case(
        "an empty incoming value skips its key: no sis_id, so email decides "
        "(app records without a sis_id are not found by it)",
        incoming=[student("s1", email=ADA)],
        app=[app_student(7, "x7", email=ADA), app_student(8, "x8")],
        config={"match_keys": {"students": ["sis_id", "email"]}},
        matches=[("students", "s1", "matched", "email", ADA, 7, [7])],
        errors=[("student", "VALUE_NOT_SPECIFIED", "s1", "sis_id", None)],
    ),
    Case(
        "a school matches the app's custom name configured for its sis_id",
        incoming=[school("sch9", "Lincoln Elem. (SIS name)", sis_id="LIN-01")],
        app=[app_school(3, "Lincoln Elementary"), app_school(4, "Lincoln Middle")],
        config={"schools": {"custom_names": {"LIN-01": "Lincoln Elementary"}}},
        matches=[("schools", "sch9", "matched", "name", "lincoln elementary", 3, [3])],
    ),
    Case(
        "a school without a configured custom name matches on its own name, case-insensitively; "
        "one that matches nothing is SCHOOL_NOT_MATCHED",
        incoming=[school("sch1", "NORTH HIGH"), school("sch2", "South Hgh")],
        app=[app_school(3, "North High"), app_school(4, "South High")],
        matches=[("schools", "sch1", "matched", "name", "north high", 3, [3]),
                 ("schools", "sch2", "new", None, None, None, [])],
        errors=[("school", "SCHOOL_NOT_MATCHED", "sch2", "name", None)],
    ),
    Case(
        "a section with a rotated source id is matched on sis_id",
        incoming=[section("sec1-new", sis_id="ALG-1")],
        app=[app_section(20, "sec1-old", sis_id="ALG-1")],
        matches=[("sections", "sec1-new", "matched", "sis_id", "ALG-1", 20, [20])],
    ),
    Case(
        "a new student with the name (nickname folded) and birth date of an app record: alert",
        incoming=[student("s2", sis_id="S2", first_name="Bill", last_name="Smith",
                          birth_date=date(2012, 3, 4))],
        app=[app_student(7, "x7", sis_id="S7", first_name="William", last_name="Smith",
                         birth_date=date(2012, 3, 4)),
             app_student(8, "x8", sis_id="S8", first_name="William", last_name="Smith",
                         birth_date=date(2012, 3, 5))],
        matches=[("students", "s2", "new", None, None, None, [])],
        alerts=[("students", "s2", 7, ["same_name_birth_date"], 0.95, "open")],
    ),
    Case(
        "a deactivated lookalike adds its evidence; a create decision closes the alert",
        incoming=[student("s2", sis_id="S2", last_name="Smith", birth_date=date(2012, 3, 4)),
                  student("s3", sis_id="S3", last_name="Jones", birth_date=date(2011, 1, 2))],
        app=[app_student(7, "x7", sis_id="S7", last_name="Smith", birth_date=date(2012, 3, 4),
                         status="inactive"),
             app_student(8, "x8", sis_id="S8", last_name="Jones", birth_date=date(2011, 1, 2)),
             decision("s3", "create")],
        matches=[("students", "s2", "new", None, None, None, []),
                 ("students", "s3", "new", None, None, None, [])],
        alerts=[("students", "s2", 7, ["same_name_birth_date", "deactivated_lookalike"], 0.97,
                 "open"),
                ("students", "s3", 8, ["same_name_birth_date"], 0.95, "decided_create")],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.description for case in CASES])
def test_matching(case: Case) -> None:
    district = TinyDistrict(incoming=case.incoming, app=case.app, config=case.config)
    with match_and_plan(district) as con:
        matches = rows(con, "select entity, source_id, match_status, matched_rule, "
                            "matched_value, app_id, candidate_app_ids from sync.matches")
        alerts = rows(con, "select entity, source_id_l, app_id_r, rules, score, status "
                           "from sync.match_alerts")
        errors = rows(con, "select record_type, error_code, source_id, field, app_id "
                           "from sync.run_errors")

    assert matches == sorted_rows(case.matches)
    assert alerts == sorted_rows(case.alerts)
    assert errors == sorted_rows(case.errors)


def test_the_incoming_email_is_lower_cased_and_trimmed_before_it_is_compared() -> None:
    """The incoming half of "emails are compared lower-cased and trimmed" is core.users' job:
    a landed user whose email has capitals and spaces goes through that model, then matching."""
    models = load_models()
    with duckdb.connect() as con:
        write_district(con, TinyDistrict(app=[app_student(7, "x7", email=ADA)], config=EMAIL_FIRST))
        # what core.users reads: the landed users (its columns but the two it derives) and schools
        con.execute("drop view intermediate.int_users_unioned")
        con.execute("create table intermediate.int_users_unioned as select * exclude "
                    "(grade_code, school_source_id, roles), roles as source_roles, "
                    f"{NO_RELATIONSHIPS} from core.users")
        con.execute("insert into intermediate.int_users_unioned by name select "
                    "'s1' as user_source_id, 'student' as role, 'S1' as sis_id, "
                    "' Ada.Byron@Example.ORG ' as email, 'Ada' as first_name, "
                    "'Byron' as last_name, '5' as grade_raw, [] as school_source_ids, "
                    "[] as program_names, false as is_deleted, 'oneroster' as provider")
        con.execute("create view intermediate.int_schools_unioned as select * from core.schools")
        run_models(con, models, only={"core.users", *match_and_plan_models()})

        core_users = rows(con, "select user_source_id, email, grade_code from core.users")
        matches = rows(con, "select source_id, match_status, matched_value, app_id "
                            "from sync.matches")

    assert core_users == [("s1", ADA, "05")]
    assert matches == [("s1", "matched", ADA, 7)]


def test_the_fixture_writes_the_columns_the_core_models_produce() -> None:
    """The cases stand in for marts/core/*.sql: on an empty landing those models produce exactly
    the columns and types the fixture writes."""
    models = load_models()
    with duckdb.connect() as con:
        write_district(con, TinyDistrict())
        con.execute("drop view intermediate.int_users_unioned")
        run_models(con, models, only={key for key, model in models.items()
                                      if model.schema in ("staging", "intermediate", "core")})
        produced = {
            table: dict(con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'core' and table_name = ? order by ordinal_position",
                [table]).fetchall())
            for table in CORE_COLUMNS
        }

    assert produced == CORE_COLUMNS
