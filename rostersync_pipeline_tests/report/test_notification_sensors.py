"""Run-status e-mail end to end: a real sync run, then the sensor, then a real SMTP server.

Each test syncs a tiny district through ``run_sync`` on an ``instance_for_test()`` instance,
evaluates the notification sensor for that run with ``build_run_status_sensor_context`` and reads
what the loopback SMTP server (STARTTLS + AUTH) received.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from rostersync_pipeline.defs.notifications import (
    RUN_FAILED_SENSOR,
    RUN_OUTCOME_SENSOR,
    run_failed_notification,
    run_outcome_notification,
)
from rostersync_pipeline.resources.smtp import SmtpResource
from rostersync_pipeline.resources.warehouse import RosterWarehouse
from rostersync_pipeline.runner import SyncOutcome, run_sync
from rostersync_pipeline_tests.fakes.smtp_server import (
    FakeSmtpServer,
    LoopbackTls,
    loopback_tls,
    smtp_server,
)
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

SMTP_USER = "rostersync-mailer"
SMTP_PASSWORD = "sensor-test-password-9f2c"
FROM_ADDR = "rostersync@ops.example.org"
RECIPIENTS = ["it-admin@district-a.example.org", "registrar@district-a.example.org"]
DISTRICT_NAME = "Synthetic district district-a"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> LoopbackTls:
    return loopback_tls(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture(scope="module")
def _server(tls: LoopbackTls) -> Iterator[FakeSmtpServer]:
    with smtp_server(SMTP_USER, SMTP_PASSWORD, tls=tls) as server:
        yield server


@pytest.fixture
def mail(_server: FakeSmtpServer, monkeypatch: pytest.MonkeyPatch) -> FakeSmtpServer:
    """The SMTP server, with ROSTERSYNC_SMTP_* pointing at it."""
    _server.clear()
    for key, value in {
        "HOST": _server.host, "PORT": str(_server.port), "TLS": "starttls",
        "USERNAME": SMTP_USER, "PASSWORD": SMTP_PASSWORD, "FROM": FROM_ADDR,
    }.items():
        monkeypatch.setenv(f"ROSTERSYNC_SMTP_{key}", value)
    return _server


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


def tiny_bundle(directory: Path, *, bad_students: int = 0) -> Path:
    """One school, 4 good students and a teacher in one section, plus ``bad_students`` with no
    grade and no SIS id (VALUE_NOT_SPECIFIED)."""
    students = [student(f"s{i}", "sch1") for i in range(1, 5)]
    students += [student(f"bad{i}", "sch1", grades="", identifier="") for i in range(bad_students)]
    users = [*students, teacher("t1", "sch1")]
    enrollments = [enrollment(f"e-{u['sourcedId']}", "sec1", u["sourcedId"], "sch1",
                              role=u["role"]) for u in users]
    return write_bundle(directory, orgs=[org("sch1", "Lincoln Elementary")], users=users,
                        classes=[section("sec1", "sch1")], enrollments=enrollments)


def district_with(tmp_path: Path, bundle: Path, **overrides: Any) -> District:
    notifications = {"emails": RECIPIENTS, **overrides.pop("notifications", {})}
    return make_district(
        tmp_path, bundle, schools={"create_unmatched": True},
        notifications=notifications, **overrides,
    )


def sync(district: District, instance: dg.DagsterInstance) -> SyncOutcome:
    return run_sync(district.district_id, config_dir=district.config_dir,
                    warehouse_dir=district.warehouse_dir, instance=instance)


def evaluate(
    sensor: dg.RunStatusSensorDefinition,
    name: str,
    district: District,
    instance: dg.DagsterInstance,
    run_id: str,
    smtp: SmtpResource,
) -> Any:
    """Evaluate ``sensor`` for the run's final status event, as the daemon would."""
    run = instance.get_run_by_id(run_id)
    assert run is not None
    final = {dg.DagsterRunStatus.SUCCESS: dg.DagsterEventType.RUN_SUCCESS,
             dg.DagsterRunStatus.FAILURE: dg.DagsterEventType.RUN_FAILURE}[run.status]
    records = instance.get_records_for_run(run_id, of_type=final).records
    event = records[-1].event_log_entry.dagster_event
    assert event is not None
    warehouse = RosterWarehouse(config_dir=str(district.config_dir),
                                warehouse_dir=str(district.warehouse_dir))
    with dg.build_run_status_sensor_context(
        sensor_name=name, dagster_event=event, dagster_instance=instance, dagster_run=run,
        resources={"warehouse": warehouse, "smtp": smtp},
    ) as context:
        if run.status == dg.DagsterRunStatus.FAILURE:
            return sensor(context.for_run_failure())
        return sensor(context)


def assert_clean(raw: bytes, district: District) -> None:
    """No student or teacher name, e-mail or the SMTP password in the message."""
    text = raw.decode("utf-8", "replace")
    for name in ("Givens", "Familys", "Givent1", "Familyt1", "s1@example.org", SMTP_PASSWORD):
        assert name not in text
    names = district.query("select first_name, last_name, email from roster.users")
    for row in names:
        for value in row:
            if value:
                assert value not in text


def test_held_plan_is_mailed_to_the_district_recipients(
    tmp_path: Path, instance: dg.DagsterInstance, mail: FakeSmtpServer, tls: LoopbackTls
) -> None:
    district = district_with(tmp_path, tiny_bundle(tmp_path / "bundle"), require_approval=True)
    outcome = sync(district, instance)
    assert outcome.success and outcome.status == "requires_review"

    result = evaluate(run_outcome_notification, RUN_OUTCOME_SENSOR, district, instance,
                      outcome.run_id, SmtpResource(ca_file=str(tls.cert_path)))

    assert result is None
    assert len(mail.messages) == 1
    received = mail.messages[0]
    assert received.rcpt_tos == RECIPIENTS
    assert received.authenticated_as == SMTP_USER
    assert received.subject.strip() == (
        f"[rostersync] {DISTRICT_NAME}: held for review (run {outcome.run_id[:8]})")
    assert received.email["X-Rostersync-Event"] == "held"
    assert received.email["X-Rostersync-Run-Id"] == outcome.run_id
    body = received.body
    assert "held for review and NOT applied" in body
    assert "Reason: the district requires approval of every plan" in body
    assert f"Plan: {outcome.run_id}" in body
    assert "students: create 4" in body
    assert "educators: create 1" in body
    assert district.scalar("select count(*) from roster.users") == 0
    assert_clean(received.raw, district)


def test_errors_digest_names_codes_counts_and_the_export(
    tmp_path: Path, instance: dg.DagsterInstance, mail: FakeSmtpServer, tls: LoopbackTls
) -> None:
    district = district_with(tmp_path, tiny_bundle(tmp_path / "bundle", bad_students=2))
    outcome = sync(district, instance)
    assert (outcome.success, outcome.status) == (True, "applied")
    assert outcome.summary is not None
    errors = outcome.summary.error_counts
    assert errors.get("VALUE_NOT_SPECIFIED", 0) >= 2
    total = sum(errors.values())

    result = evaluate(run_outcome_notification, RUN_OUTCOME_SENSOR, district, instance,
                      outcome.run_id, SmtpResource(ca_file=str(tls.cert_path)))

    assert result is None
    assert [m.rcpt_tos for m in mail.messages] == [RECIPIENTS]
    received = mail.messages[0]
    assert received.subject.strip() == (f"[rostersync] {DISTRICT_NAME}: succeeded with {total} errors "
                                f"(run {outcome.run_id[:8]})")
    body = received.body
    assert f"{total} record problem(s)" in body
    for code, n in errors.items():
        assert f"  {code}: {n}" in body
    export = outcome.summary.export_path
    assert export and Path(export).is_file()
    assert f"Error export (CSV in a .zip, one row per problem): {export}" in body
    assert "students: create 4" in body
    assert_clean(received.raw, district)


def test_failed_run_is_mailed_with_the_failing_stage(
    tmp_path: Path, instance: dg.DagsterInstance, mail: FakeSmtpServer, tls: LoopbackTls
) -> None:
    # a step that cannot run at all: the secret the source names is not in the environment
    district = district_with(tmp_path, tmp_path / "unused", source={
        "type": "clever_api", "base_url": "http://127.0.0.1:9",
        "token_env": "ROSTERSYNC_TEST_TOKEN_NOT_SET"})
    outcome = sync(district, instance)
    assert not outcome.success

    result = evaluate(run_failed_notification, RUN_FAILED_SENSOR, district, instance,
                      outcome.run_id, SmtpResource(ca_file=str(tls.cert_path)))

    assert result is None
    assert [m.rcpt_tos for m in mail.messages] == [RECIPIENTS]
    received = mail.messages[0]
    assert received.subject.strip() == f"[rostersync] {DISTRICT_NAME}: run failed (run {outcome.run_id[:8]})"
    assert received.email["X-Rostersync-Event"] == "failed"
    assert "Nothing was applied" in received.body
    assert "Reason: land_raw_roster:" in received.body
    assert "ROSTERSYNC_TEST_TOKEN_NOT_SET" in received.body


def test_clean_runs_and_unwanted_events_send_nothing(
    tmp_path: Path, instance: dg.DagsterInstance, mail: FakeSmtpServer, tls: LoopbackTls
) -> None:
    smtp = SmtpResource(ca_file=str(tls.cert_path))
    clean = district_with(tmp_path / "clean", tiny_bundle(tmp_path / "clean-bundle"))
    outcome = sync(clean, instance)
    assert outcome.status == "applied" and not outcome.summary.error_counts
    skipped = evaluate(run_outcome_notification, RUN_OUTCOME_SENSOR, clean, instance,
                       outcome.run_id, smtp)
    assert isinstance(skipped, dg.SkipReason)
    assert "nothing to notify" in skipped.skip_message

    muted = district_with(tmp_path / "muted", tiny_bundle(tmp_path / "muted-bundle"),
                          require_approval=True, notifications={"on": ["failed"]})
    outcome = sync(muted, instance)
    assert outcome.status == "requires_review"
    skipped = evaluate(run_outcome_notification, RUN_OUTCOME_SENSOR, muted, instance,
                       outcome.run_id, smtp)
    assert isinstance(skipped, dg.SkipReason)
    assert "notifications.on" in skipped.skip_message
    assert mail.messages == []


def test_without_an_smtp_host_the_sensor_skips_and_logs(
    tmp_path: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("ROSTERSYNC_SMTP_HOST", raising=False)
    district = district_with(tmp_path, tiny_bundle(tmp_path / "bundle"), require_approval=True)
    outcome = sync(district, instance)

    result = evaluate(run_outcome_notification, RUN_OUTCOME_SENSOR, district, instance,
                      outcome.run_id, SmtpResource())

    assert isinstance(result, dg.SkipReason)
    assert "ROSTERSYNC_SMTP_HOST is not set" in result.skip_message
    logged = capfd.readouterr().err
    assert "ROSTERSYNC_SMTP_HOST is not set" in logged
    for address in RECIPIENTS:
        assert address not in logged


def test_sensors_are_registered_and_running_by_default(tmp_path: Path) -> None:
    from rostersync_pipeline.definitions import build_definitions

    defs = build_definitions(str(tmp_path / "config"), str(tmp_path / "warehouse"))
    for name in (RUN_FAILED_SENSOR, RUN_OUTCOME_SENSOR):
        sensor = defs.resolve_sensor_def(name)
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert isinstance(defs.resources["smtp"], SmtpResource)
