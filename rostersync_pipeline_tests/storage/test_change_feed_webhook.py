"""The change feed and its webhook: one signed POST per applied run, retried, never rolling back.

A real HTTP server on loopback receives the webhook and verifies its HMAC signature; the
destination is a real PostgreSQL database (and, once, the DuckDB file).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rostersync_pipeline.lib.storage.destinations.webhook import signature, verify_signature
from rostersync_pipeline_tests.helpers import (
    enrollment,
    make_district,
    org,
    section,
    student,
    write_bundle,
)
from rostersync_pipeline_tests.storage.pg_destination import pg_query, postgres_district
from rostersync_pipeline_tests.storage.webhook_receiver import webhook_receiver

SECRET_ENV = "ROSTERSYNC_TEST_WEBHOOK_SECRET"
SECRET = "s3cret-shared-with-the-app"
CREATE_SCHOOLS = {"schools": {"create_unmatched": True}}


def night(directory: Path, *student_ids: str) -> Path:
    return write_bundle(
        directory, orgs=[org("sch1", "North High")],
        users=[student(s, "sch1") for s in student_ids],
        classes=[section("sec1", "sch1")],
        enrollments=[enrollment(f"e-{s}", "sec1", s, "sch1") for s in student_ids],
    )


def webhook(url: str, **settings) -> dict:
    return {"webhook": {"url": url, "secret_env": SECRET_ENV, "backoff_s": 0.05, **settings}}


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)


def test_the_signature_is_an_hmac_of_the_exact_body() -> None:
    body = b'{"run_id":"r1"}'
    assert signature("k", body) == (
        "sha256=" + __import__("hmac").new(b"k", body, "sha256").hexdigest())
    assert verify_signature("k", body, signature("k", body))
    assert not verify_signature("k", body + b" ", signature("k", body))
    assert not verify_signature("other", body, signature("k", body))


def test_each_applied_run_posts_a_signed_summary_with_its_feed_cursor(tmp_path: Path,
                                                                      pg) -> None:
    with webhook_receiver(SECRET) as app:
        district = postgres_district(tmp_path, night(tmp_path / "n1", "s1", "s2"),
                                     destination=webhook(app.url), **CREATE_SCHOOLS)
        first = district.sync()
        second = district.sync(night(tmp_path / "n2", "s1", "s3"))
        held = district.sync(night(tmp_path / "n3", "s4"))  # deactivates all: held, no webhook

    assert (first.status, second.status, held.status) == ("applied", "applied",
                                                          "requires_review")
    assert [r.answered for r in app.received] == [204, 204]
    assert all(r.signature_ok for r in app.received)
    one, two = (r.payload for r in app.received)
    assert one["district_id"] == district.district_id and one["run_id"] == first.run_id
    assert one["status"] == "applied" and one["counts"]["students"] == {"create": 2}
    assert one["feed"]["after"] == 0 and two["feed"]["after"] == one["feed"]["until"]
    assert app.received[1].headers["X-Rostersync-Run-Id"] == second.run_id
    # what the app does with the cursor: exactly this run's changes, in order
    changes = pg_query(pg, "select run_id, entity, action from rostersync.change_feed "
                           "where feed_id > %s and feed_id <= %s order by feed_id",
                       [two["feed"]["after"], two["feed"]["until"]])
    assert {run for run, _, _ in changes} == {second.run_id}
    assert sorted((e, a) for _, e, a in changes) == [
        ("enrollments", "create"), ("enrollments", "deactivate"), ("students", "create"),
        ("students", "deactivate"), ("user_schools", "create")]
    assert pg_query(pg, "select status, attempts from rostersync.webhook_deliveries") == [
        ("delivered", 1), ("delivered", 1)]


def test_a_failing_webhook_is_retried_then_redelivered_next_run_never_rolling_back(
    tmp_path: Path, pg
) -> None:
    with webhook_receiver(SECRET) as app:
        district = postgres_district(tmp_path, night(tmp_path / "n1", "s1"),
                                     destination=webhook(app.url, retries=2), **CREATE_SCHOOLS)
        app.fail_next = 2
        retried = district.sync()
        assert [r.answered for r in app.received] == [503, 503, 204]

        app.fail_next = 100
        failed = district.sync(night(tmp_path / "n2", "s1", "s2"))
        assert failed.success and failed.status == "applied", failed.failure
        assert pg_query(pg, "select count(*) from rostersync.users where source_id = 's2'") == [
            (1,)]
        assert pg_query(pg, "select status, attempts, last_status_code from "
                            "rostersync.webhook_deliveries where run_id = %s",
                        [failed.run_id]) == [("failed", 3, 503)]

        app.fail_next = 0
        app.received.clear()
        nothing_new = district.sync(night(tmp_path / "n3", "s1", "s2"))
    assert nothing_new.status == "applied"
    assert [r.payload["run_id"] for r in app.accepted] == [failed.run_id, nothing_new.run_id]
    assert all(r.signature_ok for r in app.received)
    assert pg_query(pg, "select run_id, status from rostersync.webhook_deliveries "
                        "order by created_at") == [
        (retried.run_id, "delivered"), (failed.run_id, "delivered"),
        (nothing_new.run_id, "delivered")]


def test_the_duckdb_destination_keeps_the_same_feed_and_webhook(tmp_path: Path) -> None:
    with webhook_receiver(SECRET) as app:
        district = make_district(tmp_path, night(tmp_path / "n1", "s1", "s2"),
                                 destination={"type": "duckdb", **webhook(app.url)},
                                 **CREATE_SCHOOLS)
        first = district.sync()
        second = district.sync(night(tmp_path / "n2", "s1"))
    assert (first.status, second.status) == ("applied", "applied")
    assert [r.payload["run_id"] for r in app.accepted] == [first.run_id, second.run_id]
    cursor = app.accepted[1].payload["feed"]
    assert district.query("select entity, action from roster.change_feed "
                          "where feed_id > ? and feed_id <= ? order by feed_id",
                          [cursor["after"], cursor["until"]]) == [
        ("enrollments", "deactivate"), ("students", "deactivate")]
    assert district.scalar("select count(*) from roster.change_feed") == district.scalar(
        "select count(*) from roster.change_log")
    assert district.query("select status from roster.webhook_deliveries") == [
        ("delivered",), ("delivered",)]
