"""Live providers through the whole ``sync_district`` job: the fake Clever and OneRoster REST
servers on 127.0.0.1, ``run_sync`` in-process, assertions on core.*, roster.* and sync.*.

One module-scoped first sync per provider (Clever's done once per session, shared with
test_response_shapes); each later test copies that warehouse into its own ``tmp_path`` so the
tests stay independent and fast.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from rostersync_pipeline.demo.district import write_district_config
from rostersync_pipeline.runner import SyncOutcome
from rostersync_pipeline_tests.fakes import CLEVER_DEMO_DIR
from rostersync_pipeline_tests.fakes.clever_server import CleverServer
from rostersync_pipeline_tests.fakes.oneroster_server import OneRosterServer
from rostersync_pipeline_tests.helpers import District, synced_once_per_session
from rostersync_pipeline_tests.ingest.test_clever_api import expected_enrollments

CLEVER_TOKEN = "clever-e2e-token-7f3a9c"
OR_ID, OR_SECRET = "e2e-client-id", "e2e-client-secret-51d2"
STUDENTS, EDUCATORS, SECTIONS, SCHOOLS = 1004, 89, 378, 5
# Six pairs of #DEMO students share a district username: the second of each is
# DUPLICATE_USERNAME (a real collision in the sample), so 998 students are created.
DUPLICATE_USERNAMES = 6
FAST_RETRY = {"retry_max_attempts": 2, "retry_backoff_s": 0.01}


def clever_source(server: CleverServer, **extra) -> dict:
    return {"type": "clever_api", "base_url": server.base_url, "token_env": "RS_E2E_CLEVER",
            "page_limit": 500, "timeout_s": 5, **FAST_RETRY, **extra}


def oneroster_source(server: OneRosterServer, **extra) -> dict:
    return {"type": "oneroster_rest", "base_url": server.base_url, "oneroster_version": "1.2",
            "client_id_env": "RS_E2E_OR_ID", "client_secret_env": "RS_E2E_OR_SECRET",
            "page_limit": 500, "timeout_s": 5, **FAST_RETRY, **extra}


def make_live_district(root: Path, source: dict, district_id: str = "live") -> District:
    write_district_config(root / "config", district_id, root / "unused", source=source,
                          schools={"create_unmatched": True})
    return District(district_id, root / "config", root / "warehouse")


def copy_district(district: District, root: Path, source: dict) -> District:
    """The district's warehouse after its first sync, under ``root``, with a new source."""
    shutil.copytree(district.warehouse_dir, root / "warehouse")
    copy = make_live_district(root, source, district.district_id)
    return replace(copy, warehouse_dir=root / "warehouse")


def active_counts(district: District) -> dict[str, int]:
    rows = district.query(
        "select role, count(*) from roster.users where status = 'active' group by all "
        "union all select 'sections', count(*) from roster.sections where status = 'active' "
        "union all select 'enrollments', count(*) from roster.enrollments "
        "where status = 'active'")
    return dict(rows)


def active_ids(district: District) -> set[tuple[str, int]]:
    return set(district.query(
        "select 'user', app_id from roster.users where status = 'active' "
        "union all select 'section', app_id from roster.sections where status = 'active' "
        "union all select 'enrollment', app_id from roster.enrollments where status = 'active'"))


def assert_nothing_deactivated(district: District, before: set[tuple[str, int]],
                               outcome) -> None:
    """Every record active before is active after (creates may still happen)."""
    assert before <= active_ids(district)
    assert not any("deactivate" in actions for actions in outcome.summary.counts.values())
    assert district.scalar("select count(*) from roster.change_log where run_id = ? "
                           "and action = 'deactivate'", [outcome.run_id]) == 0


@pytest.fixture(autouse=True)
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RS_E2E_CLEVER", CLEVER_TOKEN)
    monkeypatch.setenv("RS_E2E_OR_ID", OR_ID)
    monkeypatch.setenv("RS_E2E_OR_SECRET", OR_SECRET)


def first_clever_sync(root: Path) -> tuple[District, SyncOutcome]:
    """The #DEMO district's first sync from the fake Clever API (stopped after)."""
    with pytest.MonkeyPatch.context() as mp, CleverServer(token=CLEVER_TOKEN) as server:
        mp.setenv("RS_E2E_CLEVER", CLEVER_TOKEN)
        district = make_live_district(root, clever_source(server))
        return district, district.sync()


def clever_synced_copy(root: Path, session_cache: Path) -> tuple[District, SyncOutcome]:
    """A copy under ``root`` of the #DEMO district after its first Clever sync, done once per
    test session (this module and test_response_shapes start from it)."""
    district, outcome = synced_once_per_session(session_cache, "clever-demo", first_clever_sync)
    return district.copy_to(root), outcome


@pytest.fixture(scope="module")
def clever_synced(tmp_path_factory: pytest.TempPathFactory,
                  session_cache: Path) -> tuple[District, str]:
    district, outcome = clever_synced_copy(tmp_path_factory.mktemp("clever"), session_cache)
    assert outcome.success, outcome.failure
    return district, outcome.run_id


@pytest.fixture(scope="module")
def oneroster_synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[District, str]]:
    root = tmp_path_factory.mktemp("oneroster")
    with pytest.MonkeyPatch.context() as mp, \
            OneRosterServer("1.2", client_id=OR_ID, client_secret=OR_SECRET) as server:
        mp.setenv("RS_E2E_OR_ID", OR_ID)
        mp.setenv("RS_E2E_OR_SECRET", OR_SECRET)
        district = make_live_district(root, oneroster_source(server))
        outcome = district.sync()
        assert outcome.success, outcome.failure
        yield district, outcome.run_id


def assert_demo_district_created(district: District, run_id: str,
                                 other_codes: frozenset[str] = frozenset()) -> None:
    core = dict(district.query(
        "select role, count(*) from core.users group by all "
        "union all select 'sections', count(*) from core.sections "
        "union all select 'enrollments', count(*) from core.enrollments "
        "union all select 'schools', count(*) from core.schools"))
    assert core == {"student": STUDENTS, "educator": EDUCATORS, "sections": SECTIONS,
                    "enrollments": expected_enrollments(), "schools": SCHOOLS}
    run = district.query("select status, fetch_complete, fetch_mode from sync.runs "
                         "where run_id = ?", [run_id])
    assert run == [("applied", True, "bulk")]
    errors = [e for e in district.errors(run_id) if e["error_code"] not in other_codes]
    assert {e["error_code"] for e in errors} == {"DUPLICATE_USERNAME"}
    assert len(errors) == DUPLICATE_USERNAMES
    created = active_counts(district)
    assert created["student"] == STUDENTS - DUPLICATE_USERNAMES
    assert created["educator"] == EDUCATORS
    assert created["sections"] == SECTIONS
    assert district.scalar("select count(*) from roster.schools") == SCHOOLS
    importable = district.scalar(
        "select count(*) from core.enrollments where user_source_id not in (select source_id "
        "from sync.sync_errors where run_id = ? and error_code = 'DUPLICATE_USERNAME')", [run_id])
    assert created["enrollments"] == importable > 9000


def test_clever_demo_district_synced_end_to_end(clever_synced) -> None:
    assert_demo_district_created(*clever_synced)


def test_clever_contacts_are_guardians_with_their_student_relationships(clever_synced) -> None:
    """The sample's 1002 contacts (two with two students) as guardians, each relationship as
    Clever sends it; in the roster as guardians linked to their students, never as students or
    educators."""
    district, run_id = clever_synced
    users = [u["data"] for u in json.loads((CLEVER_DEMO_DIR / "users.json").read_text())["data"]]
    students = {u["id"] for u in users if "student" in u["roles"]}
    contacts = [u for u in users if "contact" in u["roles"]]
    expected = {(c["id"], r["student"], r["relationship"])
                for c in contacts for r in c["roles"]["contact"]["student_relationships"]}
    assert len(contacts) == 1002 and len(expected) == 1004
    assert {s for _, s, _ in expected} <= students  # every related student is in the sample
    assert district.scalar("select count(*) from core.guardians") == len(contacts)
    assert set(district.query(
        "select guardian_source_id, student_source_id, relationship "
        "from core.guardian_relationships")) == expected
    # a relationship waits with a student the sample's errors keep out of the roster
    imported = {s for (s,) in district.query(
        "select source_id from roster.users where role = 'student'")}
    assert len(imported) > 0.9 * len(students)
    assert district.query(
        "select role, count(*) from roster.users where source_id in "
        "(select user_source_id from core.guardians) group by all") == [("guardian", 1002)]
    assert set(district.query(
        "select g.source_id, s.source_id, l.relationship "
        "from roster.guardian_relationships as l "
        "join roster.users as g on g.app_id = l.guardian_app_id "
        "join roster.users as s on s.app_id = l.student_app_id "
        "where l.status = 'active' and s.role = 'student'")) == {
        (g, s, r) for g, s, r in expected if s in imported}
    # the full name is in name.last, as Clever documents
    assert district.query("select last_name from core.guardians "
                          "where user_source_id = '603ebb2bb452fb006c7639cd'") == [
        ("Aaron Berge",)]
    assert district.errors(run_id, "RELATIONSHIP_NOT_FOUND") == []


def test_oneroster_1_2_demo_district_synced_end_to_end(oneroster_synced) -> None:
    district, run_id = oneroster_synced
    # the fake offers no demographics: recorded, but it does not block anything
    assert_demo_district_created(district, run_id, frozenset({"ENDPOINT_NOT_OFFERED"}))


CLEVER_FAULTS = {
    "users page 3 of 5 fails after retries":
        (lambda f: f.server_errors.update({("users", 3): 99}), "clever users page 3"),
    "401 midway (sections page 1)":
        (lambda f: setattr(f, "unauthorized_from", ("sections", 1)), "clever sections page 1"),
    "truncated JSON on users page 2":
        (lambda f: f.truncated.update({("users", 2): 99}), "clever users page 2"),
}


@pytest.mark.parametrize("fault", list(CLEVER_FAULTS))
def test_clever_faulty_second_fetch_deactivates_nothing(clever_synced, tmp_path, fault) -> None:
    first, _ = clever_synced
    inject, location = CLEVER_FAULTS[fault]
    with CleverServer(token=CLEVER_TOKEN) as server:
        server.collections["users"] = server.collections["users"][:1500]
        inject(server.faults)
        district = copy_district(first, tmp_path, clever_source(server))
        before = active_ids(district)
        outcome = district.sync()
    assert outcome.success, outcome.failure
    assert outcome.summary.fetch_complete is False
    assert_nothing_deactivated(district, before, outcome)
    incomplete = district.errors(outcome.run_id, "FETCH_INCOMPLETE")
    assert any(location in (e["message"] or "") + (e["source_file"] or "")
               for e in incomplete), incomplete


@pytest.mark.parametrize("state", ["paused"])
def test_clever_unhealthy_district_is_skipped_and_nothing_wiped(clever_synced, tmp_path,
                                                                 state) -> None:
    first, _ = clever_synced
    with CleverServer(token=CLEVER_TOKEN, district_state=state) as server:
        district = copy_district(first, tmp_path, clever_source(server))
        before = district.roster_snapshot()
        outcome = district.sync()
    assert outcome.success, outcome.failure
    assert outcome.status == "skipped"
    assert f"provider state is {state!r}" in "; ".join(outcome.summary.reasons)
    assert district.roster_snapshot() == before
    assert [e["error_code"] for e in district.errors(outcome.run_id)] == ["PROVIDER_NOT_HEALTHY"]


def test_oneroster_faulty_second_fetch_deactivates_nothing(oneroster_synced, tmp_path) -> None:
    first, _ = oneroster_synced
    with OneRosterServer("1.2", client_id=OR_ID, client_secret=OR_SECRET) as server:
        server.collections["users"] = server.collections["users"][:800]
        server.faults.server_errors[("enrollments", 3)] = 99
        district = copy_district(first, tmp_path, oneroster_source(server))
        before = active_ids(district)
        outcome = district.sync()
    assert outcome.success, outcome.failure
    assert outcome.summary.fetch_complete is False
    assert_nothing_deactivated(district, before, outcome)
    incomplete = district.errors(outcome.run_id, "FETCH_INCOMPLETE")
    assert any("oneroster enrollments page 3" in (e["message"] or "") + (e["source_file"] or "")
               for e in incomplete), incomplete


def test_oneroster_token_expired_midway_is_refreshed(oneroster_synced, tmp_path) -> None:
    first, _ = oneroster_synced
    with OneRosterServer("1.2", client_id=OR_ID, client_secret=OR_SECRET) as server:
        server.expire_tokens_at = ("users", 2)
        district = copy_district(first, tmp_path, oneroster_source(server))
        before = active_counts(district)
        outcome = district.sync()
        assert server.tokens_issued == 2
    assert outcome.success and outcome.status == "applied"
    assert outcome.summary.fetch_complete is True
    assert active_counts(district) == before
