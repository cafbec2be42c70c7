"""Explain one person's matching: the keys tried, the app records each found, the rule that
decided, alerts, errors and the app record's history (``roster.change_log``).

Reads ``sync.explain_matches`` (the last run) and ``roster.*``. For an admin's terminal: it
shows emails, never birth dates; nothing here is logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

FIND_SQL = """
select distinct source_id from sync.explain_matches
where source_id = $key
   or (key_name in ('sis_id', 'email') and key_value = lower(trim($key)))
   or (key_name = 'sis_id' and key_value = $key)
   or app_id in (
        select app_id from roster.users
        where source_id = $key or sis_id = $key or lower(trim(email)) = lower(trim($key)))
order by source_id
"""


@dataclass
class Explanation:
    source_id: str
    entity: str
    match_status: str
    matched_rule: str | None
    app_id: int | None
    keys: list[tuple[int, str, str | None, list[int], bool]] = field(default_factory=list)
    alert_app_ids: list[int] = field(default_factory=list)
    errors: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    id_changes: list[tuple] = field(default_factory=list)
    history: list[tuple] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"incoming {self.entity[:-1]} {self.source_id}: {self.match_status}"
               + (f" -> app record {self.app_id}" if self.app_id is not None else "")
               + (f" (rule: {self.matched_rule})" if self.matched_rule else "")]
        out.append("  keys tried (in the district's order):")
        for priority, key, value, found, decided in self.keys:
            found_text = ", ".join(map(str, found)) or "no app record"
            mark = "  <- decided" if decided else ""
            out.append(f"    {priority}. {key} = {value if value is not None else '(empty)'}: "
                       f"{found_text}{mark}")
        if self.alert_app_ids:
            out.append("  possible duplicate of app record(s): "
                       + ", ".join(map(str, self.alert_app_ids)))
        for code, fld, message in self.errors:
            out.append(f"  error {code}" + (f" [{fld}]" if fld else "") + f": {message}")
        for old_source, new_source, old_sis, new_sis in self.id_changes:
            out.append(f"  id change: source_id {old_source} -> {new_source}, "
                       f"sis_id {old_sis} -> {new_sis}")
        if self.app_id is not None:
            out.append(f"  history of app record {self.app_id}:")
            for run_id, action, changed, applied_at in self.history:
                fields = ", ".join(changed or [])
                out.append(f"    {applied_at:%Y-%m-%d %H:%M} {action}"
                           + (f" ({fields})" if fields else "") + f"  run {run_id}")
            if not self.history:
                out.append("    (no changes recorded)")
        return out


def explain(con: duckdb.DuckDBPyConnection, key: str) -> list[Explanation]:
    """Every incoming record of the last run that ``key`` (source id, SIS id or email) finds."""
    ids = [row[0] for row in con.execute(FIND_SQL, {"key": key}).fetchall()]
    return [_explain_one(con, source_id) for source_id in ids]


def _explain_one(con: duckdb.DuckDBPyConnection, source_id: str) -> Explanation:
    rows = con.execute(
        "select entity, match_status, matched_rule, app_id, priority, key_name, key_value, "
        "app_ids_found, coalesce(decided, false), alert_app_ids "
        "from sync.explain_matches where source_id = ? order by priority",
        [source_id],
    ).fetchall()
    entity, status, rule, app_id = rows[0][:4]
    result = Explanation(source_id, entity, status, rule, app_id,
                         keys=[(r[4], r[5], r[6], list(r[7]), r[8]) for r in rows],
                         alert_app_ids=list(rows[0][9]))
    result.errors = con.execute(
        "select error_code, field, message from sync.user_checks where source_id = ? "
        "order by error_code",
        [source_id],
    ).fetchall()
    result.id_changes = con.execute(
        "select old_source_id, new_source_id, old_sis_id, new_sis_id from sync.id_changes "
        "where new_source_id = ?",
        [source_id],
    ).fetchall()
    if app_id is not None:
        result.history = con.execute(
            "select run_id, action, changed_fields, applied_at from roster.change_log "
            "where app_id = ? and entity = ? order by applied_at",
            [app_id, entity],
        ).fetchall()
    return result
