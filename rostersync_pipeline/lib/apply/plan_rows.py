"""A run's plan rows a page at a time, and where a held plan's deactivations come from.

Row-level plan detail is kept in three places, read in this order for a run id:

- ``sync.stored_sync_plan`` (``plan_id`` = the run id): a plan held for review (kept until it
  is discarded, also after approval);
- ``sync.sync_plan``: the plan of the district's latest sync run (``run_id`` column);
- ``roster.change_log``: what a run that changed the roster applied (apply, approval, restore);
  the source id comes from the roster record.

Pages use keyset pagination on ``(entity, action, app_id)`` (unique within one plan): a page is
one ``where (entity, action, app_id) > (...) order by ... limit`` query, as fast on page 10,000
of a 1M-row plan as on the first. IDs and changed field names only: no names, emails or birth
dates.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from rostersync_pipeline.lib.storage.warehouse import relation_exists

PAGE_ROWS = 100
STORED_PLAN = "stored plan"
RUN_PLAN = "run plan"
APPLIED_CHANGES = "applied changes"

SOURCES = {
    STORED_PLAN: ("select entity, action, app_id, source_id, changed_fields, matched_rule "
                  "from sync.stored_sync_plan where plan_id = $run_id"),
    RUN_PLAN: ("select entity, action, app_id, source_id, changed_fields, matched_rule "
               "from sync.sync_plan where run_id = $run_id"),
    APPLIED_CHANGES: ("select entity, action, app_id, null::varchar as source_id, "
                      "changed_fields, null::varchar as matched_rule "
                      "from roster.change_log where run_id = $run_id"),
}

SOURCE_ID_SQL = {
    "schools": "select app_id, source_id from roster.schools where app_id in ?",
    "terms": "select app_id, source_id from roster.terms where app_id in ?",
    "courses": "select app_id, source_id from roster.courses where app_id in ?",
    "students": "select app_id, source_id from roster.users where app_id in ?",
    "educators": "select app_id, source_id from roster.users where app_id in ?",
    "guardians": "select app_id, source_id from roster.users where app_id in ?",
    "sections": "select app_id, source_id from roster.sections where app_id in ?",
    "user_schools": "select l.app_id, u.source_id || '@' || s.source_id from roster.user_schools "
                    "as l join roster.users as u on u.app_id = l.user_app_id "
                    "join roster.schools as s on s.app_id = l.school_app_id where l.app_id in ?",
    "guardian_relationships": "select l.app_id, g.source_id || '@' || s.source_id "
                              "from roster.guardian_relationships as l "
                              "join roster.users as g on g.app_id = l.guardian_app_id "
                              "join roster.users as s on s.app_id = l.student_app_id "
                              "where l.app_id in ?",
    "enrollments": "select app_id, source_id from roster.enrollments where app_id in ?",
}

DEACTIVATIONS_SQL = """
with users as (
    select p.entity, 'school' as grouped_by, u.school_app_id as group_app_id
    from sync.stored_plan_users as p
    left join roster.users as u on u.app_id = p.app_id
    where p.plan_id = $plan_id and p.action = 'deactivate'
),

sections as (
    select p.entity, 'school' as grouped_by, s.school_app_id as group_app_id
    from sync.stored_plan_sections as p
    left join roster.sections as s on s.app_id = p.app_id
    where p.plan_id = $plan_id and p.action = 'deactivate'
),

enrollments as (
    select p.entity, 'section' as grouped_by, p.section_app_id as group_app_id
    from sync.stored_plan_enrollments as p
    where p.plan_id = $plan_id and p.action = 'deactivate'
),

counted as (
    select entity, grouped_by, group_app_id, count(*) as deactivations
    from (select * from users union all select * from sections union all select * from enrollments)
    group by all
),

ranked as (
    select
        *,
        sum(deactivations) over (partition by entity) as entity_deactivations,
        row_number() over (partition by entity order by deactivations desc, group_app_id) as rank
    from counted
),

final as (
    select
        ranked.entity,
        ranked.grouped_by,
        ranked.group_app_id,
        coalesce(schools.custom_name, sections.name) as group_name,
        sections.sis_id as group_sis_id,
        ranked.deactivations,
        ranked.entity_deactivations
    from ranked
    left join roster.schools as schools
        on ranked.grouped_by = 'school' and schools.app_id = ranked.group_app_id
    left join roster.sections as sections
        on ranked.grouped_by = 'section' and sections.app_id = ranked.group_app_id
    where ranked.rank <= $top
)

select * from final order by entity, deactivations desc, group_app_id
"""


@dataclass(frozen=True)
class PlanRow:
    entity: str
    action: str
    app_id: int
    source_id: str | None
    changed_fields: list[str]
    matched_rule: str | None


@dataclass(frozen=True)
class PlanPage:
    """One page of a run's plan rows; ``next_after`` is the key to pass for the next page."""

    source: str
    rows: list[PlanRow]
    next_after: tuple[str, str, int] | None


@dataclass(frozen=True)
class DeactivationGroup:
    """A school (users, sections) or a section (enrollments) and its share of an entity's
    deactivations in a held plan."""

    entity: str
    grouped_by: str
    group_app_id: int | None
    group_name: str | None
    group_sis_id: str | None
    deactivations: int
    entity_deactivations: int

    @property
    def share_pct(self) -> float:
        return 100.0 * self.deactivations / max(self.entity_deactivations, 1)


def plan_source(con: duckdb.DuckDBPyConnection, run_id: str) -> str | None:
    """Where the row-level plan of ``run_id`` is kept (a key of :data:`SOURCES`), or None."""
    for source, table in ((STORED_PLAN, "sync.stored_sync_plan"), (RUN_PLAN, "sync.sync_plan"),
                          (APPLIED_CHANGES, "roster.change_log")):
        if not relation_exists(con, table):
            continue
        found = con.execute(f"select exists ({SOURCES[source]})", {"run_id": run_id}).fetchall()
        if found[0][0]:
            return source
    return None


def plan_page(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    *,
    entity: str | None = None,
    action: str | None = None,
    after: tuple[str, str, int] | None = None,
    limit: int = PAGE_ROWS,
) -> PlanPage | None:
    """Up to ``limit`` plan rows of ``run_id`` after the key ``after``, optionally of one
    entity and one action, in ``(entity, action, app_id)`` order; None if no rows are kept."""
    source = plan_source(con, run_id)
    if source is None:
        return None
    params: dict[str, object] = {"run_id": run_id, "limit": limit + 1}
    where = []
    if entity:
        where.append("entity = $entity")
        params["entity"] = entity
    if action:
        where.append("action = $action")
        params["action"] = action
    if after:
        where.append("(entity > $after_entity or (entity = $after_entity and (action > "
                     "$after_action or (action = $after_action and app_id > $after_app_id))))")
        params.update(after_entity=after[0], after_action=after[1], after_app_id=after[2])
    sql = (f"select * from ({SOURCES[source]}) "
           + (f"where {' and '.join(where)} " if where else "")
           + "order by entity, action, app_id limit $limit")
    rows = [PlanRow(e, a, app_id, src, list(changed or []), rule)
            for e, a, app_id, src, changed, rule in con.execute(sql, params).fetchall()]
    more = len(rows) > limit
    rows = rows[:limit]
    if source == APPLIED_CHANGES:
        rows = _with_source_ids(con, rows)
    last = rows[-1] if rows and more else None
    return PlanPage(source, rows, (last.entity, last.action, last.app_id) if last else None)


def _with_source_ids(con: duckdb.DuckDBPyConnection, rows: list[PlanRow]) -> list[PlanRow]:
    """Applied changes carry app ids only; their source ids come from the roster records."""
    found: dict[tuple[str, int], str | None] = {}
    for entity in {row.entity for row in rows}:
        if entity not in SOURCE_ID_SQL:
            continue
        ids = [row.app_id for row in rows if row.entity == entity]
        for app_id, source_id in con.execute(SOURCE_ID_SQL[entity], [ids]).fetchall():
            found[(entity, app_id)] = source_id
    return [PlanRow(r.entity, r.action, r.app_id, found.get((r.entity, r.app_id)),
                    r.changed_fields, r.matched_rule) for r in rows]


def deactivation_groups(
    con: duckdb.DuckDBPyConnection, plan_id: str, *, top: int = 5
) -> list[DeactivationGroup]:
    """Where a stored plan's deactivations come from: per entity, the ``top`` schools (students,
    educators, sections) or sections (enrollments) with the most deactivations."""
    if not relation_exists(con, "sync.stored_plan_users"):
        return []
    rows = con.execute(DEACTIVATIONS_SQL, {"plan_id": plan_id, "top": top}).fetchall()
    return [DeactivationGroup(*row) for row in rows]
