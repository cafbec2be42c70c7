"""Operations infrastructure with real parts.

- Run-status email goes through smtplib to a loopback SMTP server with TLS and AUTH.
- ``deploy/dagster.yaml`` opens a Dagster instance on a real PostgreSQL server: runs,
  materializations and sensor cursors (stored by the ``dagster sensor`` CLI) survive reopening;
  the run queue of a real ``dagster-daemon`` allows one run per district.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
import yaml

from rostersync_pipeline.lib.report import notifications
from rostersync_pipeline.lib.report.notifications import (
    NotificationError,
    NotificationMessage,
    SmtpSettings,
    compose_held_for_review,
    compose_run_failed,
    compose_succeeded_with_errors,
    send,
)
from rostersync_pipeline_tests import pg_server
from rostersync_pipeline_tests.fakes.smtp_server import (
    FakeSmtpServer,
    LoopbackTls,
    loopback_tls,
    smtp_server,
)
from rostersync_pipeline_tests.fixtures.dagster_location import (
    DROP_FOLDER_ENV,
    LOCATION_ARGS,
    drop_folder,
)
from rostersync_pipeline_tests.fixtures.dagster_processes import (
    dagster_cli,
    dagster_daemon,
    instigator_state,
)
from rostersync_pipeline_tests.pg_server import (
    PostgresServer,
    PostgresUnavailableError,
    postgres_server,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DAGSTER_YAML = REPO_ROOT / "deploy" / "dagster.yaml"
EMPTY_ZIP = b"PK\x05\x06" + b"\0" * 18

SMTP_USER = "rostersync-mailer"
SMTP_PASSWORD = "correct-horse-battery-staple"
FROM_ADDR = "rostersync@district-ops.example.org"
RECIPIENTS = ["it-admin@springfield.example.org", "registrar@springfield.example.org"]
DISTRICT_ID = "springfield"
DISTRICT_NAME = "Springfield USD"
RUN_ID = "1a2b3c4d-5e6f-4a1b-9c8d-0123456789ab"
PLAN_ID = "plan-springfield-20261124-0200"
COUNTS = {
    "students": {"deactivate": 31, "create": 12, "update": 340},
    "sections": {"create": 4},
}
ERROR_COUNTS = {"VALUE_NOT_SPECIFIED": 7, "DUPLICATE_EMAIL_ADDRESS": 19, "SCHOOL_NOT_MATCHED": 2}
# A student the pipeline knows; none of these values may ever reach a message.
STUDENT = {
    "first_name": "Marisol",
    "last_name": "Quintanilla-Okafor",
    "email": "mquintanilla@students.springfield.example.org",
    "birth_date": "2011-04-17",
}
ALLOWED_COMPOSER_PARAMETERS = {
    "district_id",
    "district_name",
    "run_id",
    "plan_id",
    "reason",
    "counts",
    "error_counts",
    "export_path",
    "top_codes",
}


# ---------------------------------------------------------------------------------------------
# email


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> LoopbackTls:
    return loopback_tls(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture(scope="module")
def _mail_server(tls: LoopbackTls) -> Iterator[FakeSmtpServer]:
    with smtp_server(SMTP_USER, SMTP_PASSWORD, tls=tls) as server:
        yield server


@pytest.fixture
def mail_server(_mail_server: FakeSmtpServer) -> FakeSmtpServer:
    _mail_server.clear()
    return _mail_server


def _settings(server: FakeSmtpServer, password: str = SMTP_PASSWORD, **kw: object) -> SmtpSettings:
    values: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "use_tls": "starttls",
        "username": SMTP_USER,
        "password": password,
        "from_addr": FROM_ADDR,
        "timeout_s": 10.0,
    }
    values.update(kw)
    return SmtpSettings(**values)  # type: ignore[arg-type]


def _failed(export_path: Path) -> tuple[NotificationMessage, list[str]]:
    message = compose_run_failed(
        district_id=DISTRICT_ID,
        district_name=DISTRICT_NAME,
        run_id=RUN_ID,
        reason=f"ConversionException: could not cast {STUDENT['email']} / {STUDENT['birth_date']}",
    )
    return message, ["failed", "Nothing was applied", "[email]", "[date]"]


def _held(export_path: Path) -> tuple[NotificationMessage, list[str]]:
    message = compose_held_for_review(
        district_id=DISTRICT_ID,
        district_name=DISTRICT_NAME,
        run_id=RUN_ID,
        plan_id=PLAN_ID,
        reason="students: would deactivate 8.4% of 369 (max_deactivate_pct 5)",
        counts=COUNTS,
    )
    expected = [
        "held for review and NOT applied",
        f"Plan: {PLAN_ID}",
        "students: create 12, update 340, deactivate 31",
        "sections: create 4",
        "max_deactivate_pct 5",
    ]
    return message, expected


def _errors(export_path: Path) -> tuple[NotificationMessage, list[str]]:
    message = compose_succeeded_with_errors(
        district_id=DISTRICT_ID,
        district_name=DISTRICT_NAME,
        run_id=RUN_ID,
        counts=COUNTS,
        error_counts=ERROR_COUNTS,
        export_path=export_path,
    )
    expected = [
        "28 record problem(s)",
        "students: create 12, update 340, deactivate 31",
        "DUPLICATE_EMAIL_ADDRESS: 19",
        "VALUE_NOT_SPECIFIED: 7",
        "SCHOOL_NOT_MATCHED: 2",
        f"Error export (CSV in a .zip, one row per problem): {export_path}",
    ]
    return message, expected


@pytest.mark.parametrize(
    ("compose", "event", "subject"),
    [
        (_failed, "failed", "[rostersync] Springfield USD: run failed (run 1a2b3c4d)"),
        (_held, "held", "[rostersync] Springfield USD: held for review (run 1a2b3c4d)"),
        (
            _errors,
            "errors",
            "[rostersync] Springfield USD: succeeded with 28 errors (run 1a2b3c4d)",
        ),
    ],
)
def test_each_message_is_delivered_over_starttls_with_auth(
    mail_server: FakeSmtpServer,
    tls: LoopbackTls,
    tmp_path: Path,
    compose,
    event: str,
    subject: str,
) -> None:
    export_path = tmp_path / "exports" / f"{DISTRICT_ID}_{RUN_ID[:8]}_errors.zip"
    message, expected_in_body = compose(export_path)

    refused = send(_settings(mail_server), RECIPIENTS, message, ssl_context=tls.client_context)

    assert refused == {}
    assert len(mail_server.messages) == 1
    received = mail_server.messages[0]
    assert received.authenticated_as == SMTP_USER
    assert received.mail_from == FROM_ADDR
    assert received.rcpt_tos == RECIPIENTS
    assert received.subject == subject
    assert received.email["X-Rostersync-Event"] == event
    assert received.email["X-Rostersync-District"] == DISTRICT_ID
    assert received.email["X-Rostersync-Run-Id"] == RUN_ID
    for text in expected_in_body:
        assert text in received.body
    assert f"run: {RUN_ID}" in received.body
    raw = received.raw.decode("utf-8", "replace")
    for value in STUDENT.values():
        assert value not in raw
    assert SMTP_PASSWORD not in raw


def test_errors_digest_lists_most_frequent_codes_first_and_caps_the_list(tmp_path: Path) -> None:
    many = {**ERROR_COUNTS, "INVALID_GRADE": 3, "ORPHAN_ENROLLMENT": 3}
    message = compose_succeeded_with_errors(
        district_id=DISTRICT_ID,
        district_name=DISTRICT_NAME,
        run_id=RUN_ID,
        counts={},
        error_counts=many,
        export_path=tmp_path / "errors.zip",
        top_codes=3,
    )
    digest = message.body.split("Errors by code (most frequent first):\n")[1].split("\n\n")[0]
    assert digest.splitlines() == [
        "  DUPLICATE_EMAIL_ADDRESS: 19",
        "  VALUE_NOT_SPECIFIED: 7",
        "  INVALID_GRADE: 3",
        "  … and 2 more code(s), 5 error(s)",
    ]


def test_composers_take_no_person_level_data() -> None:
    for composer in (compose_run_failed, compose_held_for_review, compose_succeeded_with_errors):
        parameters = inspect.signature(composer).parameters.values()
        assert {p.name for p in parameters} <= ALLOWED_COMPOSER_PARAMETERS, composer.__name__
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters)

    base = {"district_id": DISTRICT_ID, "district_name": DISTRICT_NAME, "run_id": RUN_ID}
    errors_args = {**base, "counts": COUNTS, "error_counts": ERROR_COUNTS, "export_path": "x.zip"}
    with pytest.raises(TypeError):
        compose_succeeded_with_errors(**errors_args, student=STUDENT)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="error_counts"):
        compose_succeeded_with_errors(
            **{**errors_args, "error_counts": {f"{STUDENT['last_name']}": 1}}
        )
    with pytest.raises(TypeError, match="non-negative int"):
        compose_held_for_review(
            **base, plan_id=PLAN_ID, reason="held", counts={"students": {"create": [STUDENT]}}
        )
    with pytest.raises(ValueError, match="entity"):
        compose_held_for_review(
            **base, plan_id=PLAN_ID, reason="held", counts={STUDENT["email"]: {"create": 1}}
        )
    with pytest.raises(ValueError, match="run_id"):
        compose_run_failed(**{**base, "run_id": STUDENT["first_name"] + " Q"}, reason="x")


def test_wrong_password_fails_with_a_clear_error_that_omits_the_password(
    mail_server: FakeSmtpServer, tls: LoopbackTls
) -> None:
    message, _ = _failed(Path("unused"))
    with pytest.raises(NotificationError) as excinfo:
        send(
            _settings(mail_server, password="not-the-password"),
            RECIPIENTS,
            message,
            ssl_context=tls.client_context,
        )
    text = str(excinfo.value)
    assert f"{mail_server.host}:{mail_server.port} refused the login" in text
    assert SMTP_USER in text
    assert "ROSTERSYNC_SMTP_PASSWORD" in text
    assert "not-the-password" not in text
    assert excinfo.value.__cause__ is None
    assert mail_server.messages == []
    assert mail_server.failed_logins


def test_implicit_tls_delivers_and_an_untrusted_certificate_is_refused(
    tls: LoopbackTls, tmp_path: Path
) -> None:
    message, _ = _held(tmp_path)
    with smtp_server(SMTP_USER, SMTP_PASSWORD, tls=tls, implicit_tls=True) as server:
        settings = _settings(server, use_tls="ssl")
        send(settings, RECIPIENTS[:1], message, ssl_context=tls.client_context)
        assert [m.rcpt_tos for m in server.messages] == [RECIPIENTS[:1]]

        with pytest.raises(NotificationError, match="certificate verify failed"):
            send(settings, RECIPIENTS[:1], message)
        assert len(server.messages) == 1


def test_settings_from_env_keep_the_password_out_of_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROSTERSYNC_SMTP_HOST", "smtp.example.org")
    monkeypatch.setenv("ROSTERSYNC_SMTP_TLS", "SSL")
    monkeypatch.setenv("ROSTERSYNC_SMTP_USERNAME", SMTP_USER)
    monkeypatch.setenv("ROSTERSYNC_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("ROSTERSYNC_SMTP_FROM", FROM_ADDR)
    monkeypatch.delenv("ROSTERSYNC_SMTP_PORT", raising=False)

    settings = SmtpSettings.from_env()

    assert (settings.host, settings.port, settings.use_tls) == ("smtp.example.org", 465, "ssl")
    assert (settings.username, settings.password, settings.from_addr) == (
        SMTP_USER,
        SMTP_PASSWORD,
        FROM_ADDR,
    )
    assert SMTP_PASSWORD not in repr(settings)
    with pytest.raises(NotificationError, match="ROSTERSYNC_SMTP_HOST"):
        SmtpSettings.from_env(environ={})
    with pytest.raises(NotificationError, match="ROSTERSYNC_SMTP_TLS"):
        SmtpSettings.from_env(environ={"ROSTERSYNC_SMTP_HOST": "h", "ROSTERSYNC_SMTP_TLS": "yes"})


def test_reason_text_is_one_capped_line_with_emails_and_dates_redacted() -> None:
    reason = f"row 17:\n {STUDENT['email']} born {STUDENT['birth_date']} " + "x" * 900
    redacted = notifications.redact_free_text(reason)
    assert "\n" not in redacted
    assert len(redacted) == notifications.MAX_REASON_CHARS
    assert redacted.startswith("row 17: [email] born [date] xxx")


# ---------------------------------------------------------------------------------------------
# Dagster instance on PostgreSQL (deploy/dagster.yaml)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the session (the project's conftest may provide it)."""
    with postgres_server() as server:
        yield server


@pytest.fixture
def dagster_home(
    postgres: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> PostgresServer:
    """A DAGSTER_HOME holding deploy/dagster.yaml, its env vars pointing at a fresh database."""
    database = postgres.create_database(f"dagster_{uuid.uuid4().hex[:12]}")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY_DAGSTER_YAML, home / "dagster.yaml")
    for key, value in database.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return database


def test_missing_postgres_binaries_raise_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(pg_server.glob, "glob", lambda pattern: [])
    with pytest.raises(PostgresUnavailableError, match="install-postgres.sh"):
        pg_server.find_postgres_bin_dir({"PATH": str(tmp_path)})


def test_deploy_config_reads_every_connection_detail_from_the_environment() -> None:
    config = yaml.safe_load(DEPLOY_DAGSTER_YAML.read_text(encoding="utf-8"))
    postgres_db = config["storage"]["postgres"]["postgres_db"]
    connection_keys = {"hostname", "port", "username", "password", "db_name"}
    assert {key: postgres_db[key] for key in connection_keys} == {
        key: {"env": f"DAGSTER_PG_{name}"}
        for key, name in zip(
            ("hostname", "port", "username", "password", "db_name"),
            ("HOST", "PORT", "USERNAME", "PASSWORD", "DB"),
            strict=True,
        )
    }


@dg.asset(key=["core", "users"], group_name="core")
def core_users() -> int:
    """Stand-in asset: one row per user."""
    return 3


def test_runs_and_materializations_are_stored_in_postgres(dagster_home: PostgresServer) -> None:
    instance = dg.DagsterInstance.get()
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        result = dg.materialize(
            [core_users], instance=instance, tags={"rostersync/district": DISTRICT_ID}
        )
        assert result.success
        run_id = result.run_id
    finally:
        instance.dispose()

    reopened = dg.DagsterInstance.from_config(os.environ["DAGSTER_HOME"])
    try:
        runs = reopened.get_runs()
        assert [run.run_id for run in runs] == [run_id]
        assert runs[0].status == dg.DagsterRunStatus.SUCCESS
        assert runs[0].tags["rostersync/district"] == DISTRICT_ID
        event = reopened.get_latest_materialization_event(dg.AssetKey(["core", "users"]))
        assert event is not None and event.run_id == run_id
    finally:
        reopened.dispose()

    with psycopg2.connect(**dagster_home.connect_kwargs()) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from runs where run_id = %s", (run_id,))
        assert cur.fetchone() == (1,)


def test_sensor_cursor_survives_reopening(
    dagster_home: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    monkeypatch.setenv(DROP_FOLDER_ENV, str(drop))
    (drop / "monday.zip").write_bytes(EMPTY_ZIP)
    first = dg.DagsterInstance.get()
    try:
        with dg.build_sensor_context(instance=first) as context:
            monday = drop_folder(context)
    finally:
        first.dispose()
    assert [r.run_key for r in monday.run_requests] == ["monday.zip"]
    # The daemon stores a sensor's cursor after each tick; the CLI stores it the same way.
    dagster_cli("sensor", "start", "drop_folder", *LOCATION_ARGS, cwd=REPO_ROOT)
    dagster_cli("sensor", "cursor", "drop_folder", "--set", monday.cursor, *LOCATION_ARGS,
                cwd=REPO_ROOT)

    second = dg.DagsterInstance.get()
    try:
        stored = instigator_state(second, "drop_folder")
        assert stored is not None and stored.status.value == "RUNNING"
        assert stored.instigator_data.cursor == monday.cursor
        (drop / "tuesday.zip").write_bytes(EMPTY_ZIP)
        with dg.build_sensor_context(instance=second,
                                     cursor=stored.instigator_data.cursor) as context:
            tuesday = drop_folder(context)
    finally:
        second.dispose()
    assert [r.run_key for r in tuesday.run_requests] == ["tuesday.zip"]
    dagster_cli("sensor", "cursor", "drop_folder", "--set", tuesday.cursor, *LOCATION_ARGS,
                cwd=REPO_ROOT)

    third = dg.DagsterInstance.from_config(os.environ["DAGSTER_HOME"])
    try:
        stored = instigator_state(third, "drop_folder")
        assert stored is not None and stored.status.value == "RUNNING"
        assert json.loads(stored.instigator_data.cursor) == ["monday.zip", "tuesday.zip"]
    finally:
        third.dispose()


def test_run_queue_allows_one_run_per_district(dagster_home: PostgresServer,
                                               tmp_path: Path) -> None:
    """Three runs queued before the daemon starts: its run queue launches the first springfield
    run and the shelbyville run at once; the second springfield run waits for the first."""
    instance = dg.DagsterInstance.get()
    try:
        assert isinstance(instance.run_coordinator, dg.QueuedRunCoordinator)
        queue = instance.get_concurrency_config().run_queue_config
        assert queue is not None and queue.max_concurrent_runs == 8
        for district in ("springfield", "springfield", "shelbyville"):
            dagster_cli("job", "launch", *LOCATION_ARGS, "-j", "district_sync",
                        "--tags", json.dumps({"rostersync/district": district}), cwd=REPO_ROOT)
        queued = instance.get_run_records(order_by="create_timestamp", ascending=True)
        assert [r.dagster_run.status for r in queued] == [dg.DagsterRunStatus.QUEUED] * 3

        with dagster_daemon(LOCATION_ARGS, {}, tmp_path / "daemon.log", cwd=REPO_ROOT):
            deadline = time.monotonic() + 180
            while not all(r.dagster_run.is_finished for r in queued):
                assert time.monotonic() < deadline, (tmp_path / "daemon.log").read_text()
                time.sleep(1)
                queued = instance.get_run_records(order_by="create_timestamp", ascending=True)
        launched = {
            r.dagster_run.run_id: instance.get_records_for_run(
                r.dagster_run.run_id, of_type=dg.DagsterEventType.RUN_STARTING).records[0].timestamp
            for r in queued
        }
    finally:
        instance.dispose()

    assert [r.dagster_run.status for r in queued] == [dg.DagsterRunStatus.SUCCESS] * 3
    first, second, other = queued
    assert [r.dagster_run.tags["rostersync/district"] for r in queued] == [
        "springfield", "springfield", "shelbyville"]
    assert launched[second.dagster_run.run_id] >= first.end_time
    assert launched[other.dagster_run.run_id] < first.end_time
