"""The run status vocabulary (``sync.runs.status``): one word per outcome, used everywhere.

The guard decides the status of a sync run that reaches apply; the expectation check marks a
run whose hard expectation failed; approvals and restores are runs of their own. A plan held
for review is kept in the plan store under the run's id (see ``lib/apply/plan_store.py``).
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    PLANNED = "planned"
    """The plan as computed, before the guard decided (the plan's summary in the UI)."""
    APPLIED = "applied"
    """The run's plan was applied to the roster."""
    REQUIRES_REVIEW = "requires_review"
    """The guard held the plan; nothing applied; the plan is stored (plan id = run id)."""
    DRY_RUN = "dry_run"
    """A test import: plan and errors only."""
    SKIPPED = "skipped"
    """Nothing fetched or applied: the provider is not healthy, or another run held the district."""
    BLOCKED = "blocked"
    """A hard expectation failed: apply did not run; plan, errors and export were produced."""
    NOT_APPLIED = "not_applied"
    """Apply did not run for another reason (a step failed after the plan)."""
    APPROVED = "approved"
    """An approval run: one stored plan applied exactly as stored."""
    RESTORED = "restored"
    """A restore run: the roster returned to its state after an earlier run."""

    @property
    def changed_roster(self) -> bool:
        """Whether a run with this status may have changed the roster."""
        return self in (RunStatus.APPLIED, RunStatus.APPROVED, RunStatus.RESTORED)


def parse_status(value: str) -> RunStatus:
    """A stored status word as a :class:`RunStatus` (``held`` was the word before the plan store)."""
    return RunStatus.REQUIRES_REVIEW if value == "held" else RunStatus(value)
