"""Decisions on possible-duplicate alerts (``sync.match_alerts``), kept in
``roster.match_decisions`` and honoured by the next run's ``sync.matches``.

``match``: the incoming record is the app record ``app_id`` (matched_rule 'decision').
``create``: it is a different person; the alert closes and the record is created.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

ENTITIES = ("students", "educators")


class DecisionError(ValueError):
    """A decision that cannot be recorded; the message says why."""


@dataclass(frozen=True)
class Decision:
    entity: str
    source_id: str
    decision: str
    app_id: int | None


def record_decision(
    con: duckdb.DuckDBPyConnection,
    source_id: str,
    *,
    match_app_id: int | None = None,
    create: bool = False,
    decided_by: str | None = None,
    note: str | None = None,
) -> Decision:
    """Record "match to app record X" or "create new" for an incoming record's source id."""
    if (match_app_id is None) == (not create):
        raise DecisionError("give exactly one of: match to an app id, or create")
    entity = _entity_of(con, source_id, match_app_id)
    if match_app_id is not None:
        role = con.execute(
            "select role from roster.users where app_id = ?", [match_app_id]
        ).fetchall()
        if not role:
            raise DecisionError(f"no app record {match_app_id}")
        if role[0][0] + "s" != entity:
            raise DecisionError(f"app record {match_app_id} is a {role[0][0]}, not {entity}")
    decision = "create" if create else "match"
    con.execute(
        "insert into roster.match_decisions (entity, source_id, decision, app_id, decided_by, "
        "note, decided_at) values (?, ?, ?, ?, ?, ?, now()::timestamp)",
        [entity, source_id, decision, match_app_id, decided_by, note],
    )
    return Decision(entity, source_id, decision, match_app_id)


def _entity_of(con: duckdb.DuckDBPyConnection, source_id: str, app_id: int | None) -> str:
    """The entity of an incoming source id: from the last run's alerts or matches, else the
    app record's role."""
    for sql in (
        "select entity from sync.match_alerts where source_id_l = ?",
        "select entity from sync.matches where source_id = ? "
        "and entity in ('students', 'educators')",
    ):
        try:
            rows = con.execute(sql, [source_id]).fetchall()
        except duckdb.CatalogException:
            rows = []
        if rows:
            return rows[0][0]
    if app_id is not None:
        rows = con.execute("select role from roster.users where app_id = ?", [app_id]).fetchall()
        if rows:
            return rows[0][0] + "s"
    raise DecisionError(f"{source_id!r} is not an incoming student or educator of the last run")


def list_alerts(con: duckdb.DuckDBPyConnection, *, include_decided: bool = False) -> list[dict]:
    """The last run's possible-duplicate alerts, best score first."""
    try:
        cursor = con.execute(
            "select entity, source_id_l, app_id_r, score, rules, status, status_r, "
            "first_name_l, last_name_l, first_name_r, last_name_r "
            "from sync.match_alerts where ? or status = 'open' "
            "order by score desc, source_id_l, app_id_r",
            [include_decided],
        )
    except duckdb.CatalogException:
        return []
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


ALERT_PAIRS_SQL = """
with incoming as (
    select user_source_id as source_id, sis_id, email
    from core.users
    qualify row_number() over (partition by user_source_id order by source_row) = 1
),

final as (
    select
        a.entity,
        a.source_id_l,
        a.app_id_r,
        a.score,
        a.rules,
        a.status,
        a.gamma_birth_date,
        a.gamma_first_name,
        a.last_name_edits,
        a.first_name_l,
        a.last_name_l,
        a.grade_l,
        a.school_app_id_l,
        school_l.custom_name as school_l,
        incoming.sis_id as sis_id_l,
        incoming.email as email_l,
        a.first_name_r,
        a.last_name_r,
        a.grade_r,
        a.school_app_id_r,
        school_r.custom_name as school_r,
        a.status_r,
        app.sis_id as sis_id_r,
        app.email as email_r,
        app.origin as origin_r
    from sync.match_alerts as a
    left join incoming on incoming.source_id = a.source_id_l
    left join roster.users as app on app.app_id = a.app_id_r
    left join roster.schools as school_l on school_l.app_id = a.school_app_id_l
    left join roster.schools as school_r on school_r.app_id = a.school_app_id_r
    where $include_decided or a.status = 'open'
)

select * from final order by score desc, source_id_l, app_id_r
"""


def alert_pairs(con: duckdb.DuckDBPyConnection, *, include_decided: bool = False) -> list[dict]:
    """The last run's possible-duplicate alerts side by side: the incoming record (``*_l``:
    names, school, grade, SIS id, email) and the app record (``*_r``), with the evidence
    (rules, score, same birth date, first-name similarity, last-name edits). No birth dates."""
    try:
        cursor = con.execute(ALERT_PAIRS_SQL, {"include_decided": include_decided})
    except duckdb.CatalogException:
        return []
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def latest_decisions(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    """The decision that counts per incoming source id (the latest in
    ``roster.match_decisions``): decision, app_id, decided_by, note, decided_at."""
    cursor = con.execute(
        "select source_id, entity, decision, app_id, decided_by, note, decided_at "
        "from roster.match_decisions "
        "qualify row_number() over (partition by entity, source_id order by decided_at desc) = 1"
    )
    names = [d[0] for d in cursor.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
