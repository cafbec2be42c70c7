"""Several roles per person (issue #13 point 2): ``roster.users.roles`` keeps every role word the
source gives, the primary first; ``role`` (student / educator / guardian) still decides how the
person is imported. OneRoster 1.2 ``roles.csv`` and a Clever user with several roles."""

from __future__ import annotations

from pathlib import Path

import pytest

from rostersync_pipeline_tests.fakes.clever_server import CleverServer
from rostersync_pipeline_tests.ingest.test_live_providers_e2e import (
    CLEVER_TOKEN,
    clever_source,
    make_live_district,
)
from rostersync_pipeline_tests.transform.bad_input import NIGHT_0, user_rows


def role_row(row_id: str, user: str, role: str, role_type: str = "primary",
             org: str = "sch1") -> dict[str, str]:
    return {"sourcedId": row_id, "status": "active", "userSourcedId": user,
            "roleType": role_type, "role": role, "orgSourcedId": org}


ROLES = [role_row("r1", "t1", "teacher"), role_row("r2", "t1", "administrator", "secondary"),
         role_row("r3", "s1", "student"), role_row("r4", "s2", "student")]
# OneRoster 1.2: users.csv has no role, roles.csv has every role of each user
NO_ROLE_COLUMN = user_rows(t1={"role": ""}, s1={"role": ""}, s2={"role": ""})


def test_oneroster_roles_csv_gives_every_role_primary_first(tmp_path: Path) -> None:
    from rostersync_pipeline_tests.helpers import make_district

    bundle = NIGHT_0.but(users=NO_ROLE_COLUMN, roles=ROLES)
    district = make_district(tmp_path, bundle.write(tmp_path / "night-0"),
                             schools={"create_unmatched": True})
    night_0 = district.sync()
    assert night_0.status == "applied", (night_0.failure, night_0.summary)
    assert district.query("select source_id, role, roles from roster.users order by 1") == [
        ("s1", "student", ["student"]), ("s2", "student", ["student"]),
        ("t1", "educator", ["teacher", "administrator"])]

    # night 1: she is no longer an administrator: an update of roles only
    night_1 = district.sync(NIGHT_0.but(users=NO_ROLE_COLUMN, roles=ROLES[:1] + ROLES[2:])
                            .write(tmp_path / "night-1"))
    assert night_1.status == "applied", (night_1.failure, night_1.summary)
    assert [(row[0], row[1], row[3], row[4]) for row in district.plan()] == [
        ("educators", "update", "t1", ["roles"])]
    assert district.query("select roles from roster.users where source_id = 't1'") == [
        (["teacher"],)]
    # and the history keeps the version with both
    assert district.query("select roles from roster.users_history where source_id = 't1' "
                          "order by valid_from") == [(["teacher", "administrator"],),
                                                     (["teacher"],)]


def test_a_clever_user_with_several_roles_keeps_them_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with CleverServer(token=CLEVER_TOKEN) as server:
        users = server.collections["users"]
        teacher = next(u for u in users if "teacher" in u["roles"])
        teacher["roles"]["staff"] = {"schools": teacher["roles"]["teacher"].get("schools", [])}
        monkeypatch.setenv("RS_E2E_CLEVER", CLEVER_TOKEN)
        district = make_live_district(tmp_path, clever_source(server))
        outcome = district.sync()
    assert outcome.success, outcome.failure
    assert district.query("select role, roles from roster.users where source_id = ?",
                          [teacher["id"]]) == [("educator", ["teacher", "staff"])]
    assert {tuple(roles): n for roles, n in district.query(
        "select roles, count(*) from roster.users group by all")} == {
        ("student",): district.scalar("select count(*) from roster.users where role = 'student'"),
        ("contact",): 1002, ("teacher",): 88, ("teacher", "staff"): 1}
