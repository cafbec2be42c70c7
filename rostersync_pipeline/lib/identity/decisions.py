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
