"""The guard between a plan and the roster: dry run, approval, and change thresholds.

A plan that would deactivate more than ``max_deactivate_pct`` or update more than
``max_update_pct`` of an entity's active app records is held for review, not applied.
Entities with fewer active records than ``min_entity_size`` are not held by these percentages,
but a plan that would deactivate all of an entity's active records, or more than half, is held
whatever its size.
A plan in which more than ``max_id_change_pct`` of the matched students (or educators) would
change their primary ID (``sync.id_changes.primary_id_change``: the stored sis_id replaced by
another value) is held too: an integration switch that maps the student ID to another field
must be reviewed, not applied as a mass identity rewrite.
(An incomplete fetch never reaches here with deactivations: the plan models drop them.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from rostersync_pipeline.config import GuardConfig
from rostersync_pipeline.lib.report.run_status import RunStatus
from rostersync_pipeline.lib.storage.warehouse import relation_exists

BLIND_SPOT_PCT = 50.0

ROSTER_ENTITY_SQL = """
select role || 's' as entity, count(*) from roster.users where status = 'active' group by all
union all select 'sections', count(*) from roster.sections where status = 'active'
union all select 'user_schools', count(*) from roster.user_schools where status = 'active'
union all select 'guardian_relationships', count(*) from roster.guardian_relationships
    where status = 'active'
union all select 'terms', count(*) from roster.terms where status = 'active'
union all select 'courses', count(*) from roster.courses where status = 'active'
union all select 'enrollments', count(*) from roster.enrollments where status = 'active'
"""

ID_CHANGE_SQL = """
select matches.entity, count(*) as matched,
    count(id_changes.app_id) filter (where id_changes.primary_id_change) as id_changes
from sync.matches as matches
left join sync.id_changes as id_changes
    on id_changes.entity = matches.entity and id_changes.app_id = matches.app_id
where matches.entity in ('students', 'educators') and matches.match_status = 'matched'
group by matches.entity
order by matches.entity
"""


@dataclass(frozen=True)
class GuardDecision:
    """The guard's verdict on a plan: the run's status and why."""

    status: RunStatus  # applied | requires_review | dry_run | skipped
    reasons: list[str] = field(default_factory=list)

    @property
    def applies(self) -> bool:
        return self.status is RunStatus.APPLIED


def plan_counts(
    con: duckdb.DuckDBPyConnection, *, source_id_refreshes: bool = True
) -> dict[str, dict[str, int]]:
    """Plan rows per entity and action. Without ``source_id_refreshes``, updates that only
    replace the stored source id, or a section's links to its term and course, are left out:
    a move to another source that keeps the same SIS IDs changes every source id (guarded by
    ``max_id_change_pct`` instead), and links follow the terms and courses they point at (whose
    own creates and deactivations are guarded; the first run that keeps terms and courses
    links every section), and so does a change of primary teacher or school alone (the first
    run that keeps ``is_primary`` on enrollments sets it on every teacher's), and so does a change
    of the list of source roles alone (the first run that keeps ``roles`` fills in every user's).
    """
    counts: dict[str, dict[str, int]] = {}
    rows = con.execute(
        "select entity, action, count(*) from sync.sync_plan "
        "where ? or not (action = 'update' "
        "and list_has_all(['source_id', 'term_app_id', 'course_app_id', 'is_primary', "
        "'roles'], changed_fields)) "
        "group by all order by all",
        [source_id_refreshes],
    ).fetchall()
    for entity, action, n in rows:
        counts.setdefault(entity, {})[action] = n
    return counts


def evaluate_guard(
    con: duckdb.DuckDBPyConnection,
    guard: GuardConfig,
    *,
    dry_run: bool,
    require_approval: bool,
) -> GuardDecision:
    state = con.execute("select provider_state from config.run").fetchall()
    if state and state[0][0] != "healthy":
        return GuardDecision(RunStatus.SKIPPED, [f"provider state is {state[0][0]!r}: run "
                                                 "skipped, nothing fetched, nothing applied"])
    if dry_run:
        return GuardDecision(RunStatus.DRY_RUN, ["test import (dry run): nothing applied"])
    active = dict(con.execute(ROSTER_ENTITY_SQL).fetchall())
    reasons = []
    for entity, actions in plan_counts(con, source_id_refreshes=False).items():
        reasons.extend(threshold_reasons(entity, actions, active.get(entity, 0), guard))
    reasons.extend(id_change_reasons(con, guard))
    if require_approval:
        reasons.append("the district requires approval of every plan")
    return GuardDecision(RunStatus.REQUIRES_REVIEW if reasons else RunStatus.APPLIED, reasons)


def threshold_reasons(
    entity: str, actions: dict[str, int], size: int, guard: GuardConfig
) -> list[str]:
    """Why one entity's planned changes hold the run (empty: they do not).

    Deactivating every active record of an entity, or more than half of them, holds the run
    whatever the entity's size; ``min_entity_size`` only relaxes the percentage thresholds
    below that (10% of a 5-record table would hold every change)."""
    if size < 1:
        return []
    deactivations = actions.get("deactivate", 0)
    share = 100.0 * deactivations / size
    if deactivations and (deactivations >= size or share > BLIND_SPOT_PCT):
        return [f"{entity}: would deactivate {deactivations} of {size} active records "
                f"({share:.1f}%: more than half, or all, are held whatever min_entity_size)"]
    if size < guard.min_entity_size:
        return []
    reasons = []
    for action, limit in (("deactivate", guard.max_deactivate_pct),
                          ("update", guard.max_update_pct)):
        share = 100.0 * actions.get(action, 0) / size
        if share > limit:
            reasons.append(f"{entity}: would {action} {actions[action]} of {size} active records "
                           f"({share:.1f}% > {limit:g}%)")
    return reasons


def id_change_reasons(con: duckdb.DuckDBPyConnection, guard: GuardConfig) -> list[str]:
    """Why the run holds because too many matched records would change their primary ID."""
    if not relation_exists(con, "sync.id_changes"):
        return []
    reasons = []
    for entity, matched, changes in con.execute(ID_CHANGE_SQL).fetchall():
        if matched < max(guard.min_entity_size, 1) or not changes:
            continue
        share = 100.0 * changes / matched
        if share > guard.max_id_change_pct:
            reasons.append(
                f"{entity}: {changes} of {matched} matched records would change their primary "
                f"ID (sis_id) ({share:.1f}% > {guard.max_id_change_pct:g}% max_id_change_pct); "
                "an integration switch? Check student_id_field / the source, then approve"
            )
    return reasons


def record_guard_decision(
    con: duckdb.DuckDBPyConnection, run_id: str, decision: GuardDecision, applied: int
) -> None:
    """Keep the run's guard outcome in ``sync.guard_decision`` (one row per run)."""
    con.execute("delete from sync.guard_decision where run_id = ?", [run_id])
    con.execute(
        "insert into sync.guard_decision values (?, ?, ?, ?)",
        [run_id, decision.status.value, decision.reasons, applied],
    )
