"""The set statements a PostgreSQL destination runs, one per step, as in the DuckDB apply.

Every statement names the columns it writes, so columns the app adds to the roster tables
(``app_*``, docs/destinations.md) are never written. ``{s}`` is the destination schema; plan
rows come from ``pg_temp.plan_*`` / ``pg_temp.sync_plan`` (the run's plan, copied in with
``COPY``), restore targets from ``pg_temp.restore_*``. The steps mirror
:mod:`rostersync_pipeline.lib.apply.apply_plan` and :mod:`~.apply.history` /
:mod:`~.apply.restore` statement for statement: the same plan gives the same rows.
"""

from __future__ import annotations

from psycopg2 import sql

from rostersync_pipeline.lib.apply.restore import ENTITY_LABEL, SYNCED_COLUMNS

PLAN_ACTIONS = "('create', 'update', 'reactivate', 'deactivate')"

SCHOOL_STEPS = (
    """insert into {s}.schools (app_id, custom_name, source_id, sis_id, state_id, nces_id,
        status, origin, created_run_id, updated_run_id)
    select app_id, coalesce(custom_name, source_id), source_id, sis_id, state_id, nces_id,
        'active', 'sync', %(run_id)s, %(run_id)s
    from pg_temp.plan_schools where action = 'create'""",
    """update {s}.schools as r set
        source_id = p.source_id,
        sis_id = coalesce(p.sis_id, r.sis_id),
        state_id = coalesce(p.state_id, r.state_id),
        nces_id = coalesce(p.nces_id, r.nces_id),
        status = 'active',
        updated_run_id = %(run_id)s
    from pg_temp.plan_schools as p
    where p.app_id = r.app_id and p.action in ('update', 'reactivate')""",
)

TERM_STEPS = (
    """insert into {s}.terms (app_id, source_id, name, term_type, start_date, end_date,
        school_year, parent_term_app_id, status, origin, created_run_id, updated_run_id)
    select app_id, source_id, name, term_type, start_date, end_date, school_year,
        parent_term_app_id, 'active', 'sync', %(run_id)s, %(run_id)s
    from pg_temp.plan_terms where action = 'create'""",
    """update {s}.terms as r set
        source_id = p.source_id,
        name = coalesce(p.name, r.name),
        term_type = coalesce(p.term_type, r.term_type),
        start_date = coalesce(p.start_date, r.start_date),
        end_date = coalesce(p.end_date, r.end_date),
        school_year = coalesce(p.school_year, r.school_year),
        parent_term_app_id = coalesce(p.parent_term_app_id, r.parent_term_app_id),
        status = 'active',
        updated_run_id = %(run_id)s
    from pg_temp.plan_terms as p
    where p.app_id = r.app_id and p.action in ('update', 'reactivate')""",
    """update {s}.terms as r set status = 'inactive', updated_run_id = %(run_id)s
    from pg_temp.plan_terms as p
    where p.app_id = r.app_id and p.action = 'deactivate'""",
)

COURSE_STEPS = (
    """insert into {s}.courses (app_id, source_id, title, course_code, school_app_id,
        school_year_app_id, status, origin, created_run_id, updated_run_id)
    select app_id, source_id, title, course_code, school_app_id, school_year_app_id,
        'active', 'sync', %(run_id)s, %(run_id)s
    from pg_temp.plan_courses where action = 'create'""",
    """update {s}.courses as r set
        source_id = p.source_id,
        title = coalesce(p.title, r.title),
        course_code = coalesce(p.course_code, r.course_code),
        school_app_id = coalesce(p.school_app_id, r.school_app_id),
        school_year_app_id = coalesce(p.school_year_app_id, r.school_year_app_id),
        status = 'active',
        updated_run_id = %(run_id)s
    from pg_temp.plan_courses as p
    where p.app_id = r.app_id and p.action in ('update', 'reactivate')""",
    """update {s}.courses as r set status = 'inactive', updated_run_id = %(run_id)s
    from pg_temp.plan_courses as p
    where p.app_id = r.app_id and p.action = 'deactivate'""",
)

USER_STEPS = (
    """insert into {s}.users (app_id, role, source_id, sis_id, state_id, student_number, email,
        username, first_name, middle_name, last_name, birth_date, grade, school_app_id, programs,
        roles, status, origin, created_run_id, updated_run_id)
    select app_id, role, source_id, sis_id, state_id, student_number, email, username,
        first_name, middle_name, last_name, birth_date, grade, school_app_id, programs, roles,
        'active', 'sync', %(run_id)s, %(run_id)s
    from pg_temp.plan_users where action = 'create'""",
    """update {s}.users as r set
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
        programs = case when cardinality(p.programs) > 0 then p.programs else r.programs end,
        roles = case when cardinality(p.roles) > 0 then p.roles else r.roles end,
        status = 'active',
        updated_run_id = %(run_id)s
    from pg_temp.plan_users as p
    where p.app_id = r.app_id and p.action in ('update', 'reactivate')""",
    """update {s}.users as r set status = 'inactive', updated_run_id = %(run_id)s
    from pg_temp.plan_users as p
    where p.app_id = r.app_id and p.action = 'deactivate'""",
)

USER_SCHOOL_STEPS = (
    """insert into {s}.user_schools (app_id, user_app_id, school_app_id, is_primary, status,
        origin, created_run_id, updated_run_id)
    select app_id, user_app_id, school_app_id, is_primary, 'active', 'sync', %(run_id)s,
        %(run_id)s
    from pg_temp.plan_user_schools where action = 'create'""",
    """update {s}.user_schools as r set
        is_primary = p.is_primary,
        status = case when p.action = 'deactivate' then 'inactive' else 'active' end,
        updated_run_id = %(run_id)s
    from pg_temp.plan_user_schools as p
    where p.app_id = r.app_id and p.action in ('update', 'reactivate', 'deactivate')""",
)

GUARDIAN_RELATIONSHIP_STEPS = (
    """insert into {s}.guardian_relationships (app_id, guardian_app_id, student_app_id,
        relationship, status, origin, created_run_id, updated_run_id)
    select app_id, guardian_app_id, student_app_id, relationship, 'active', 'sync', %(run_id)s,
        %(run_id)s
    from pg_temp.plan_guardian_relationships where action = 'create'""",
    """update {s}.guardian_relationships as r set
        relationship = coalesce(p.relationship, r.relationship),
        status = case when p.action = 'deactivate' then 'inactive' else 'active' end,
        updated_run_id = %(run_id)s
    from pg_temp.plan_guardian_relationships as p
    where p.app_id = r.app_id and p.action in ('update', 'reactivate', 'deactivate')""",
)

SECTION_STEPS = (
    """insert into {s}.sections (app_id, source_id, sis_id, school_app_id, name, course_name,
        term_name, term_app_id, course_app_id, status, origin, created_run_id, updated_run_id)
    select app_id, source_id, sis_id, school_app_id, name, course_name, term_name, term_app_id,
        course_app_id, 'active', 'sync', %(run_id)s, %(run_id)s
    from pg_temp.plan_sections where action = 'create'""",
    """update {s}.sections as r set
        source_id = p.source_id,
        sis_id = coalesce(p.sis_id, r.sis_id),
        name = coalesce(p.name, r.name),
        course_name = coalesce(p.course_name, r.course_name),
        term_name = coalesce(p.term_name, r.term_name),
        term_app_id = coalesce(p.term_app_id, r.term_app_id),
        course_app_id = coalesce(p.course_app_id, r.course_app_id),
        school_app_id = coalesce(p.school_app_id, r.school_app_id),
        status = 'active',
        updated_run_id = %(run_id)s
    from pg_temp.plan_sections as p
    where p.app_id = r.app_id and p.action in ('update', 'reactivate')""",
    """update {s}.sections as r set status = 'inactive', updated_run_id = %(run_id)s
    from pg_temp.plan_sections as p
    where p.app_id = r.app_id and p.action = 'deactivate'""",
)

ENROLLMENT_STEPS = (
    """insert into {s}.enrollments (app_id, source_id, section_app_id, user_app_id, role,
        is_primary, status, origin, created_run_id, updated_run_id)
    select app_id, source_id, section_app_id, user_app_id, role, is_primary, 'active', 'sync',
        %(run_id)s, %(run_id)s
    from pg_temp.plan_enrollments where action = 'create'""",
    """update {s}.enrollments as r set
        is_primary = coalesce(p.is_primary, r.is_primary),
        status = case when p.action = 'deactivate' then 'inactive' else 'active' end,
        updated_run_id = %(run_id)s
    from pg_temp.plan_enrollments as p
    where p.app_id = r.app_id and p.action in ('update', 'reactivate', 'deactivate')""",
)

CHANGE_LOG = """insert into {s}.change_log (run_id, entity, app_id, action, changed_fields,
        applied_at)
    select %(run_id)s, entity, app_id, action, changed_fields, now()
    from pg_temp.sync_plan"""

FEED = """insert into {s}.change_feed (run_id, entity, app_id, action, changed_fields, applied_at)
    select run_id, entity, app_id, action, coalesce(changed_fields, array[]::text[]), applied_at
    from {s}.change_log
    where run_id = %(run_id)s
    order by entity, app_id, action"""

MIRROR_CURSOR_DUCKDB = "select destination, applied_seq from sync.destination_mirror"
LAST_FEED_ID = "select coalesce(max(feed_id), 0) from {s}.change_feed"
APPLIED_SEQ = "select coalesce(max(applied_seq), 0) from {s}.applied_runs"

APPLIED_RUN = """insert into {s}.applied_runs (run_id, kind, plan_id, plan_fingerprint, changes,
        feed_after, feed_until, summary, applied_at)
    values (%(run_id)s, %(kind)s, %(plan_id)s, %(fingerprint)s, %(changes)s, %(feed_after)s,
        %(feed_until)s, %(summary)s, now())
    returning applied_seq, applied_at"""

OUTBOX = """insert into {s}.webhook_deliveries (run_id, url, body, status, created_at)
    values (%(run_id)s, %(url)s, %(body)s, 'pending', now())"""

UNDELIVERED = """select run_id, body from {s}.webhook_deliveries
    where status <> 'delivered' order by created_at, run_id"""

DELIVERED = """update {s}.webhook_deliveries set
        status = case when %(delivered)s then 'delivered' else 'failed' end,
        attempts = attempts + %(attempts)s,
        last_status_code = %(status_code)s,
        last_error = %(error)s,
        last_attempt_at = now(),
        delivered_at = case when %(delivered)s then now() end
    where run_id = %(run_id)s"""

CLAIM = """insert into {s}.district (district_id) values (%(district_id)s)
    on conflict do nothing"""

# History: a baseline for records never seen, then close + open the versions this run wrote.
# {changed} holds the app ids the run wrote ({written}: the plan actions that write a row; a
# restore table's rows are all written). Driven by {changed}, whose statistics are fresh: the
# roster's own statistics predate this run, so a filter on updated_run_id would be planned as
# matching nothing.
BASELINE = """insert into {s}.{history} ({columns}, valid_from_run, valid_to_run, valid_from,
        valid_to)
    select {columns}, null, null, '-infinity', null
    from {s}.{table} as r
    where not exists (select 1 from {s}.{history} as h where h.app_id = r.app_id)"""

CLOSE = """update {s}.{history} as h set valid_to_run = %(run_id)s, valid_to = now()
    from pg_temp.{changed} as c
    where h.app_id = c.app_id
        and h.valid_to is null
        and {written}
        and exists (select 1 from {s}.{table} as r where r.app_id = c.app_id)"""

OPEN = """insert into {s}.{history} ({columns}, valid_from_run, valid_to_run, valid_from, valid_to)
    select {r_columns}, %(run_id)s, null, now(), null
    from {s}.{table} as r
    join pg_temp.{changed} as c on c.app_id = r.app_id
    where {written}"""

WRITTEN_ACTIONS = {
    "schools": ("create", "update", "reactivate"),
    "terms": ("create", "update", "reactivate", "deactivate"),
    "courses": ("create", "update", "reactivate", "deactivate"),
    "users": ("create", "update", "reactivate", "deactivate"),
    "user_schools": ("create", "update", "reactivate", "deactivate"),
    "guardian_relationships": ("create", "update", "reactivate", "deactivate"),
    "sections": ("create", "update", "reactivate", "deactivate"),
    "enrollments": ("create", "update", "reactivate", "deactivate"),
}

# The plan columns the statements above read: what is copied into pg_temp.
PLAN_COLUMNS = {
    "plan_schools": ("action", "app_id", "custom_name", "source_id", "sis_id", "state_id",
                     "nces_id"),
    "plan_terms": ("action", "app_id", "source_id", "name", "term_type", "start_date",
                   "end_date", "school_year", "parent_term_app_id"),
    "plan_courses": ("action", "app_id", "source_id", "title", "course_code", "school_app_id",
                     "school_year_app_id"),
    "plan_users": ("action", "app_id", "role", "source_id", "sis_id", "state_id",
                   "student_number", "email", "username", "first_name", "middle_name",
                   "last_name", "birth_date", "grade", "school_app_id", "programs", "roles"),
    "plan_user_schools": ("action", "app_id", "user_app_id", "school_app_id", "is_primary"),
    "plan_guardian_relationships": ("action", "app_id", "guardian_app_id", "student_app_id",
                                    "relationship"),
    "plan_sections": ("action", "app_id", "source_id", "sis_id", "school_app_id", "name",
                      "course_name", "term_name", "term_app_id", "course_app_id"),
    "plan_enrollments": ("action", "app_id", "source_id", "section_app_id", "user_app_id",
                         "role", "is_primary"),
    "sync_plan": ("entity", "action", "app_id", "changed_fields"),
}

VERSION_AT = """select {columns} from {s}.{history}
    where valid_from <= %(at)s and (valid_to is null or valid_to > %(at)s)
    order by app_id"""

RESTORE_TARGET = """create temp table {restore} on commit drop as
with target as (
    select app_id, {synced}, status
    from {s}.{history}
    where valid_from <= %(at)s and (valid_to is null or valid_to > %(at)s)
),
created_since as (
    select app_id from {s}.{history} group by app_id having min(valid_from) > %(at)s
),
wanted as (
    select * from target
    union all
    select app_id, {synced}, 'inactive' as status
    from {s}.{table}
    where app_id in (select app_id from created_since)
),
compared as (
    select
        wanted.*,
        {entity} as entity,
        r.status as current_status,
        array_remove(array[{changes}]::text[], null) as changed_fields
    from wanted
    join {s}.{table} as r on r.app_id = wanted.app_id
)
select
    *,
    case
        when status = 'active' and current_status <> 'active' then 'reactivate'
        when status <> 'active' and current_status = 'active' then 'deactivate'
        else 'update'
    end as action
from compared
where cardinality(changed_fields) > 0 or status is distinct from current_status"""

RESTORE_UPDATE = """update {s}.{table} as r set {assignments}, status = x.status,
    updated_run_id = %(run_id)s
from pg_temp.{restore} as x
where x.app_id = r.app_id"""

RESTORE_CHANGE_LOG = """insert into {s}.change_log (run_id, entity, app_id, action,
        changed_fields, applied_at)
    select %(run_id)s, entity, app_id, action, changed_fields, now()
    from pg_temp.{restore}"""


def statement(template: str, schema: str, **names: str | sql.Composable) -> sql.Composed:
    """``template`` with the schema and table names quoted as identifiers; other ``names``
    are SQL fragments of this module (column lists), never values."""
    parts: dict[str, sql.Composable] = {"s": sql.Identifier(schema)}
    for key, value in names.items():
        parts[key] = value if isinstance(value, sql.Composable) else sql.Identifier(value)
    return sql.SQL(template).format(**parts)


def column_list(columns: list[str], prefix: str = "") -> sql.Composed:
    return sql.SQL(", ").join(
        sql.SQL(prefix) + sql.Identifier(c) if prefix else sql.Identifier(c) for c in columns)


def restore_fragments(table: str) -> dict[str, sql.Composable]:
    """The column lists of the restore statements of ``table`` (from ``SYNCED_COLUMNS``)."""
    columns = SYNCED_COLUMNS[table]
    return {
        "synced": column_list(list(columns)),
        "entity": sql.SQL(ENTITY_LABEL[table]),
        "changes": sql.SQL(", ").join(
            sql.SQL("case when wanted.{c} is distinct from r.{c} then {name} end").format(
                c=sql.Identifier(c), name=sql.Literal(c)) for c in columns),
        "assignments": sql.SQL(", ").join(
            sql.SQL("{c} = x.{c}").format(c=sql.Identifier(c)) for c in columns),
    }
