"""The names of a plan's tables: the run's ``sync.plan_*`` / ``sync.sync_plan``, or a stored plan
staged for approval under other names. Apply, the plan store and the run record read plans
through one of these mappings (plan name -> qualified table)."""

from __future__ import annotations

PlanTables = dict[str, str]
CURRENT_PLAN: PlanTables = {
    "plan_schools": "sync.plan_schools",
    "plan_users": "sync.plan_users",
    "plan_sections": "sync.plan_sections",
    "plan_enrollments": "sync.plan_enrollments",
    "sync_plan": "sync.sync_plan",
}
