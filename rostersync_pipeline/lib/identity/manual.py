"""Hand-made app records (``roster.users.origin = 'manual'``): created in the app, not by sync.

A manual record is matched like any other (on email in an email-first district); when it
matches, sync replaces its placeholder source id with the real one. Sync never deactivates it.
"""

from __future__ import annotations

import duckdb

from rostersync_pipeline.lib.storage.warehouse import transaction

ROLES = ("student", "educator")


class ManualRecordError(ValueError):
    """A manual record that cannot be added (e.g. its email is already held)."""


def add_manual_user(
    con: duckdb.DuckDBPyConnection,
    *,
    role: str,
    email: str,
    first_name: str,
    last_name: str,
    placeholder_source_id: str | None = None,
    sis_id: str | None = None,
    grade: str | None = None,
    school_app_id: int | None = None,
) -> int:
    """Insert one manual app user and return its new app_id."""
    if role not in ROLES:
        raise ManualRecordError(f"role must be one of {', '.join(ROLES)}")
    email = email.strip().lower()
    if not email or "@" not in email:
        raise ManualRecordError("a manual record needs an email (it is matched on email)")
    held = con.execute(
        "select app_id from roster.users where lower(trim(email)) = ?", [email]
    ).fetchall()
    if held:
        raise ManualRecordError(f"the email is already held by app record {held[0][0]}")
    with transaction(con):
        app_id = con.execute(
            "select coalesce(max(app_id), 0) + 1 from roster.users"
        ).fetchall()[0][0]
        con.execute(
            "insert into roster.users (app_id, role, source_id, sis_id, email, first_name, "
            "last_name, grade, school_app_id, programs, status, origin) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?, []::varchar[], 'active', 'manual')",
            [app_id, role, placeholder_source_id, sis_id, email, first_name, last_name, grade,
             school_app_id],
        )
        con.execute(
            "insert into roster.change_log (run_id, entity, app_id, action, changed_fields, "
            "applied_at) values ('manual', ?, ?, 'create', ?, now()::timestamp)",
            [role + "s", app_id, ["origin"]],
        )
    return app_id
