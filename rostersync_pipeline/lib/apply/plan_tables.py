"""The names of a plan's tables: the run's ``sync.plan_*`` / ``sync.sync_plan``, or a stored plan
staged for approval under other names. Apply, the plan store and the run record read plans
through one of these mappings (plan name -> qualified table)."""

from __future__ import annotations

PlanTables = dict[str, str]
CURRENT_PLAN: PlanTables = {
    "plan_schools": "sync.plan_schools",
    "plan_terms": "sync.plan_terms",
    "plan_courses": "sync.plan_courses",
    "plan_users": "sync.plan_users",
    "plan_user_schools": "sync.plan_user_schools",
    "plan_guardian_relationships": "sync.plan_guardian_relationships",
    "plan_sections": "sync.plan_sections",
    "plan_enrollments": "sync.plan_enrollments",
    "sync_plan": "sync.sync_plan",
}
