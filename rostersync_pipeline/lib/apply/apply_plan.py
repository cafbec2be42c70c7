"""Applies a run's plan (``sync.plan_*``) to the roster in one transaction.

Either every change lands, with a ``roster.change_log`` row each and a new version in the
``roster.*_history`` tables (see :mod:`rostersync_pipeline.lib.apply.history`), or none does.
Deactivate, never delete; updates only touch synced fields (an empty incoming value keeps the
stored one). The same steps apply an approved stored plan (:mod:`~.plan_store`).
"""

from __future__ import annotations

import duckdb

from rostersync_pipeline.lib.apply.history import baseline_history, record_history
from rostersync_pipeline.lib.apply.plan_tables import CURRENT_PLAN, PlanTables

SCHOOL_STEPS = (
    """insert into roster.schools (app_id, custom_name, source_id, sis_id, state_id, nces_id,
        status, origin, created_run_id, updated_run_id)
    select app_id, coalesce(custom_name, source_id), source_id, sis_id, state_id, nces_id,
        'active', 'sync', $run_id, $run_id
    from {plan_schools} where action = 'create'""",
    """update roster.schools as r set
        source_id = p.source_id,
        sis_id = coalesce(p.sis_id, r.sis_id),
        state_id = coalesce(p.state_id, r.state_id),
        nces_id = coalesce(p.nces_id, r.nces_id),
        status = 'active',
        updated_run_id = $run_id
    from {plan_schools} as p
    where p.app_id = r.app_id and p.action in ('update', 'reactivate')""",
)

TERM_STEPS = (
    """insert into roster.terms (app_id, source_id, name, term_type, start_date, end_date,
        school_year, parent_term_app_id, status, origin, created_run_id, updated_run_id)
    select app_id, source_id, name, term_type, start_date, end_date, school_year,
        parent_term_app_id, 'active', 'sync', $run_id, $run_id
    from {plan_terms} where action = 'create'""",
    """update roster.terms as r set
        source_id = p.source_id,
        name = coalesce(p.name, r.name),
        term_type = coalesce(p.term_type, r.term_type),
        start_date = coalesce(p.start_date, r.start_date),
        end_date = coalesce(p.end_date, r.end_date),
        school_year = coalesce(p.school_year, r.school_year),
        parent_term_app_id = coalesce(p.parent_term_app_id, r.parent_term_app_id),
        status = 'active',
        updated_run_id = $run_id
    from {plan_terms} as p
    where p.app_id = r.app_id and p.action in ('update', 'reactivate')""",
    """update roster.terms as r set status = 'inactive', updated_run_id = $run_id
    from {plan_terms} as p
    where p.app_id = r.app_id and p.action = 'deactivate'""",
)

COURSE_STEPS = (
    """insert into roster.courses (app_id, source_id, title, course_code, school_app_id,
        school_year_app_id, status, origin, created_run_id, updated_run_id)
    select app_id, source_id, title, course_code, school_app_id, school_year_app_id,
        'active', 'sync', $run_id, $run_id
    from {plan_courses} where action = 'create'""",
    """update roster.courses as r set
        source_id = p.source_id,
        title = coalesce(p.title, r.title),
        course_code = coalesce(p.course_code, r.course_code),
        school_app_id = coalesce(p.school_app_id, r.school_app_id),
        school_year_app_id = coalesce(p.school_year_app_id, r.school_year_app_id),
        status = 'active',
        updated_run_id = $run_id
    from {plan_courses} as p
    where p.app_id = r.app_id and p.action in ('update', 'reactivate')""",
    """update roster.courses as r set status = 'inactive', updated_run_id = $run_id
    from {plan_courses} as p
    where p.app_id = r.app_id and p.action = 'deactivate'""",
)

USER_STEPS = (
    """insert into roster.users (app_id, role, source_id, sis_id, state_id, student_number, email,
        username, first_name, middle_name, last_name, birth_date, grade, school_app_id, programs,
        roles, status, origin, created_run_id, updated_run_id)
    select app_id, role, source_id, sis_id, state_id, student_number, email, username,
        first_name, middle_name, last_name, birth_date, grade, school_app_id, programs, roles,
        'active', 'sync', $run_id, $run_id
    from {plan_users} where action = 'create'""",
    """update roster.users as r set
        source_id = p.source_id,
        sis_id = coalesce(p.sis_id, r.sis_id),
        state_id = coalesce(p.state_id, r.state_id),
        student_number = coalesce(p.student_number, r.student_number),
        email = coalesce(p.email, r.email),
        username = coalesce(p.username, r.username),
        first_name = coalesce(p.first_name, r.first_name),
        middle_name = coalesce(p.middle_name, r.middle_name),
        last_name = coalesce(p.last_name, r.last_name),
        birth_date = coalesce(p.birth_date, r.birth_date),
        grade = coalesce(p.grade, r.grade),
        school_app_id = coalesce(p.school_app_id, r.school_app_id),
        programs = case when len(p.programs) > 0 then p.programs else r.programs end,
        roles = case when len(p.roles) > 0 then p.roles else r.roles end,
        status = 'active',
        updated_run_id = $run_id
    from {plan_users} as p
    where p.app_id = r.app_id and p.action in ('update', 'reactivate')""",
    """update roster.users as r set status = 'inactive', updated_run_id = $run_id
    from {plan_users} as p
    where p.app_id = r.app_id and p.action = 'deactivate'""",
)

USER_SCHOOL_STEPS = (
    """insert into roster.user_schools (app_id, user_app_id, school_app_id, is_primary, status,
        origin, created_run_id, updated_run_id)
    select app_id, user_app_id, school_app_id, is_primary, 'active', 'sync', $run_id, $run_id
    from {plan_user_schools} where action = 'create'""",
    """update roster.user_schools as r set
        is_primary = p.is_primary,
        status = case when p.action = 'deactivate' then 'inactive' else 'active' end,
        updated_run_id = $run_id
    from {plan_user_schools} as p
    where p.app_id = r.app_id and p.action in ('update', 'reactivate', 'deactivate')""",
)

GUARDIAN_RELATIONSHIP_STEPS = (
    """insert into roster.guardian_relationships (app_id, guardian_app_id, student_app_id,
        relationship, status, origin, created_run_id, updated_run_id)
    select app_id, guardian_app_id, student_app_id, relationship, 'active', 'sync', $run_id,
        $run_id
    from {plan_guardian_relationships} where action = 'create'""",
    """update roster.guardian_relationships as r set
        relationship = coalesce(p.relationship, r.relationship),
        status = case when p.action = 'deactivate' then 'inactive' else 'active' end,
        updated_run_id = $run_id
    from {plan_guardian_relationships} as p
    where p.app_id = r.app_id and p.action in ('update', 'reactivate', 'deactivate')""",
)

SECTION_STEPS = (
    """insert into roster.sections (app_id, source_id, sis_id, school_app_id, name, course_name,
        term_name, term_app_id, course_app_id, status, origin, created_run_id, updated_run_id)
    select app_id, source_id, sis_id, school_app_id, name, course_name, term_name, term_app_id,
        course_app_id, 'active', 'sync', $run_id, $run_id
    from {plan_sections} where action = 'create'""",
    """update roster.sections as r set
        source_id = p.source_id,
        sis_id = coalesce(p.sis_id, r.sis_id),
        name = coalesce(p.name, r.name),
        course_name = coalesce(p.course_name, r.course_name),
        term_name = coalesce(p.term_name, r.term_name),
        term_app_id = coalesce(p.term_app_id, r.term_app_id),
        course_app_id = coalesce(p.course_app_id, r.course_app_id),
        school_app_id = coalesce(p.school_app_id, r.school_app_id),
        status = 'active',
        updated_run_id = $run_id
    from {plan_sections} as p
    where p.app_id = r.app_id and p.action in ('update', 'reactivate')""",
    """update roster.sections as r set status = 'inactive', updated_run_id = $run_id
    from {plan_sections} as p
    where p.app_id = r.app_id and p.action = 'deactivate'""",
)

ENROLLMENT_STEPS = (
    """insert into roster.enrollments (app_id, source_id, section_app_id, user_app_id, role,
        is_primary, status, origin, created_run_id, updated_run_id)
    select app_id, source_id, section_app_id, user_app_id, role, is_primary, 'active', 'sync',
        $run_id, $run_id
    from {plan_enrollments} where action = 'create'""",
    """update roster.enrollments as r set
        is_primary = coalesce(p.is_primary, r.is_primary),
        status = case when p.action = 'deactivate' then 'inactive' else 'active' end,
        updated_run_id = $run_id
    from {plan_enrollments} as p
    where p.app_id = r.app_id and p.action in ('update', 'reactivate', 'deactivate')""",
)

CHANGE_LOG_STEP = """insert into roster.change_log
    select $run_id, entity, app_id, action, changed_fields, now()::timestamp
    from {sync_plan}"""


def _run_steps(
    con: duckdb.DuckDBPyConnection, steps: tuple[str, ...], run_id: str, tables: PlanTables
) -> None:
    for sql in steps:
        con.execute(sql.format(**tables), {"run_id": run_id})


def apply_schools(
    con: duckdb.DuckDBPyConnection, run_id: str, tables: PlanTables = CURRENT_PLAN
) -> None:
    _run_steps(con, SCHOOL_STEPS, run_id, tables)


def apply_terms(
    con: duckdb.DuckDBPyConnection, run_id: str, tables: PlanTables = CURRENT_PLAN
) -> None:
    _run_steps(con, TERM_STEPS, run_id, tables)


def apply_courses(
    con: duckdb.DuckDBPyConnection, run_id: str, tables: PlanTables = CURRENT_PLAN
) -> None:
    _run_steps(con, COURSE_STEPS, run_id, tables)


def apply_users(
    con: duckdb.DuckDBPyConnection, run_id: str, tables: PlanTables = CURRENT_PLAN
) -> None:
    _run_steps(con, USER_STEPS, run_id, tables)


def apply_user_schools(
    con: duckdb.DuckDBPyConnection, run_id: str, tables: PlanTables = CURRENT_PLAN
) -> None:
    _run_steps(con, USER_SCHOOL_STEPS, run_id, tables)


def apply_guardian_relationships(
    con: duckdb.DuckDBPyConnection, run_id: str, tables: PlanTables = CURRENT_PLAN
) -> None:
    _run_steps(con, GUARDIAN_RELATIONSHIP_STEPS, run_id, tables)


def apply_sections(
    con: duckdb.DuckDBPyConnection, run_id: str, tables: PlanTables = CURRENT_PLAN
) -> None:
    _run_steps(con, SECTION_STEPS, run_id, tables)


def apply_enrollments(
    con: duckdb.DuckDBPyConnection, run_id: str, tables: PlanTables = CURRENT_PLAN
) -> None:
    _run_steps(con, ENROLLMENT_STEPS, run_id, tables)


def apply_roster_steps(
    con: duckdb.DuckDBPyConnection, run_id: str, tables: PlanTables = CURRENT_PLAN
) -> None:
    """The plan's writes to the ``roster.*`` tables (:data:`~.history.ENTITY_TABLES`) only: no
    history or change-log rows (a PostgreSQL destination's mirror takes these after the
    destination did)."""
    extra = () if tables == CURRENT_PLAN else (tables,)
    apply_schools(con, run_id, *extra)
    apply_terms(con, run_id, *extra)
    apply_courses(con, run_id, *extra)
    apply_users(con, run_id, *extra)
    apply_user_schools(con, run_id, *extra)
    apply_guardian_relationships(con, run_id, *extra)
    apply_sections(con, run_id, *extra)
    apply_enrollments(con, run_id, *extra)


def apply_changes(
    con: duckdb.DuckDBPyConnection, run_id: str, tables: PlanTables = CURRENT_PLAN
) -> int:
    """Apply a plan inside the caller's transaction, with history and change-log rows.

    ``tables`` names the plan tables to read (the run's ``sync.plan_*`` by default, or a stored
    plan staged for approval). Returns the number of changes applied.
    """
    baseline_history(con)
    apply_roster_steps(con, run_id, tables)
    record_history(con, run_id)
    con.execute(CHANGE_LOG_STEP.format(**tables), {"run_id": run_id})
    return con.execute(
        "select count(*) from roster.change_log where run_id = ?", [run_id]
    ).fetchall()[0][0]
