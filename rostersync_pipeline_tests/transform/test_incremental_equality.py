"""Proof of equality: reused models give what rebuilding every model gives, night after night.

One district is synced twice over the same sequence of nights, in two warehouses: once as
configured (a model whose inputs did not change reuses its table, an unchanged table reuses
its expectation outcomes) and once with ``full_recompute_days: 0`` (every run rebuilds every
model and validates every table). The sequence has a first sync into an app with manual
records, identical reruns, the next night (drops, adds, ID rotations, email and grade changes,
enrollment moves, a closed school that holds the plan, a student re-added under new IDs that
raises a possible-duplicate alert), a held plan synced again, then approved, the alert decided,
and a restore. After every step the roster, its history and change log, the decisions, every
run's errors, the alerts, the expectation outcomes, the runs and the stored plans must be
identical, run ids read as step numbers. (``sync --full`` is tested in ``test_incremental.py``.)
"""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from pathlib import Path

from rostersync_pipeline.defs.review.alerts import DECIDE_JOB_NAME
from rostersync_pipeline.defs.review.restore import RESTORE_JOB_NAME
from rostersync_pipeline.defs.transform.assets import MODELS, model_stage
from rostersync_pipeline.demo.next_night import write_next_night
from rostersync_pipeline.lib.storage.warehouse import ENTITY_TABLES, district_connection
from rostersync_pipeline.runner import run_approval, run_review_job, run_sync
from rostersync_pipeline_tests.helpers import District, make_synthetic_district

COMPARED = (
    *(f"roster.{t}" for t in ENTITY_TABLES),
    *(f"roster.{t}_history" for t in ENTITY_TABLES),
    "roster.change_log", "roster.match_decisions",
    "sync.sync_errors", "sync.match_alerts", "sync.expectation_results", "sync.runs",
    "sync.stored_plans",
)

# sample ids are the first failed rows GX meets, in no set order; a roster fingerprint hashes
# rows that carry run ids
NOT_COMPARED = {"sample_ids", "roster_fingerprint"}
_TIME = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?")


class Nights:
    """One warehouse's walk through the nights; every run id it made, in order."""

    def __init__(self, district: District) -> None:
        self.district = district
        self.run_ids: list[str] = []
        self.sync_run_ids: set[str] = set()

    def sync(self, bundle: Path) -> str:
        with self.district.delivered(bundle):
            outcome = run_sync(self.district.district_id, config_dir=self.district.config_dir,
                               warehouse_dir=self.district.warehouse_dir)
        assert outcome.success, outcome.failure
        self.run_ids.append(outcome.run_id)
        self.sync_run_ids.add(outcome.run_id)
        return outcome.status

    def review(self, job: str, op: str, config: dict) -> None:
        outcome = run_review_job(job, self.district.district_id, op, config,
                                 config_dir=self.district.config_dir,
                                 warehouse_dir=self.district.warehouse_dir)
        assert outcome.success, outcome.failure
        self.run_ids.append(outcome.run_id)

    def approve(self, plan_id: str) -> None:
        outcome = run_approval(self.district.district_id, plan_id,
                               config_dir=self.district.config_dir,
                               warehouse_dir=self.district.warehouse_dir)
        assert outcome.success, outcome.failure
        self.run_ids.append(outcome.run_id)

    def reused(self) -> dict[str, str]:
        """Stage (or ``expectations <table>``) -> how the last sync got its tables: 'all'
        reused, 'some' reused (the rest built), '' all built or validated; nothing after a
        review job."""
        last = self.run_ids[-1]
        if last not in self.sync_run_ids:
            return {}
        flags: dict[str, set[bool]] = {}
        for model, run_id in self.district.query("select model, run_id from sync.model_builds"):
            flags.setdefault(model_stage(MODELS[model]), set()).add(run_id != last)
        for table, run_id in self.district.query("select table_name, run_id "
                                                 "from sync.expectation_digests"):
            flags[f"expectations {table}"] = {run_id != last}
        return {stage: "all" if found == {True} else "some" if True in found else ""
                for stage, found in flags.items()}

    def state(self) -> dict[str, list[str]]:
        """Every compared table's rows, run and plan ids as step numbers, timestamps left out
        (they differ between any two runs)."""
        steps = {run_id: f"step {n}" for n, run_id in enumerate(self.run_ids)}
        # export file names carry a run id's first 8 characters
        steps.update({run_id[:8]: f"step {n}" for n, run_id in enumerate(self.run_ids)})
        steps[str(self.district.warehouse_dir.parent)] = "<root>"
        with district_connection(self.district.warehouse_dir,
                                 self.district.district_id) as con:
            return {table: sorted(_rows(con, table, steps)) for table in COMPARED}


def _rows(con, table: str, steps: dict[str, str]) -> list[str]:
    cursor = con.execute(f"select * from {table}")
    names = [d[0] for d in cursor.description]
    rows = []
    for row in cursor.fetchall():
        kept = [value for name, value in zip(names, row, strict=True)
                if not isinstance(value, datetime) and name not in NOT_COMPARED]
        text = repr(kept)
        for found, step in steps.items():
            text = text.replace(found, step)
        rows.append(_TIME.sub("<time>", text))
    return rows


def test_reusing_unchanged_models_gives_what_full_recomputes_give(tmp_path: Path) -> None:
    incremental, night_0 = make_synthetic_district(tmp_path / "incremental", 600, problems=True,
                                                   seed_app=True)
    full, _ = make_synthetic_district(tmp_path / "full", 600, problems=True, seed_app=True,
                                      full_recompute_days=0)
    walks = {"incremental": Nights(incremental), "full": Nights(full)}
    night_1: Path | None = None
    reuse_seen: dict[str, set[str]] = {"normalize": set(), "match_and_plan": set(),
                                       "expectations core.users": set()}
    partly_seen: dict[str, set[str]] = {"normalize": set(), "match_and_plan": set()}

    def step(name: str, action) -> None:
        for walk in walks.values():
            action(walk)
        reused = walks["incremental"].reused()
        for stage, how in reused.items():
            if how == "all" and stage in reuse_seen:
                reuse_seen[stage].add(name)
            if how == "some" and stage in partly_seen:
                partly_seen[stage].add(name)
        assert not any(walks["full"].reused().values()), name
        a, b = walks["incremental"].state(), walks["full"].state()
        for table in COMPARED:
            assert a[table] == b[table], f"after {name}: {table} differs"

    step("night 0", lambda w: w.sync(night_0))
    step("night 0 again (the roster changed: rebuilt)", lambda w: w.sync(night_0))
    step("night 0, third time (nothing changed)", lambda w: w.sync(night_0))
    assert reuse_seen["match_and_plan"] == {"night 0, third time (nothing changed)"}
    # the roster changed, the export did not: the models of the incoming records are reused
    assert "night 0 again (the roster changed: rebuilt)" in partly_seen["match_and_plan"]
    assert "night 0, third time (nothing changed)" in reuse_seen["expectations core.users"]

    night_1 = write_next_night(tmp_path / "incremental", incremental.warehouse_dir,
                               incremental.district_id).bundle
    shutil.copy(night_1, tmp_path / "night-1.zip")
    night_1 = tmp_path / "night-1.zip"
    step("night 1 (held: a school closed)", lambda w: w.sync(night_1))
    assert {w.district.scalar("select status from sync.runs order by started_at desc limit 1")
            for w in walks.values()} == {"requires_review"}
    step("night 1 again, still held", lambda w: w.sync(night_1))
    assert "night 1 again, still held" in reuse_seen["match_and_plan"]

    step("approve the held plan", lambda w: w.approve(w.run_ids[-1]))
    alert = incremental.query("select source_id_l, source_id_l from sync.match_alerts "
                              "where status = 'open' order by all limit 1")
    assert alert, "night 1 raises a possible-duplicate alert"
    step("decide the alert: create", lambda w: w.review(
        DECIDE_JOB_NAME, "record_match_decision",
        {"source_id": alert[0][1], "create": True, "decided_by": "test"}))
    step("night 1 after approval and decision", lambda w: w.sync(night_1))
    step("night 1 once more (nothing changed)", lambda w: w.sync(night_1))
    assert "night 1 once more (nothing changed)" in reuse_seen["match_and_plan"]

    step("restore to night 0", lambda w: w.review(
        RESTORE_JOB_NAME, "restore_roster_to_run", {"to_run_id": w.run_ids[0]}))
    step("night 1 after the restore", lambda w: w.sync(night_1))
    assert reuse_seen["normalize"] >= {"night 0 again (the roster changed: rebuilt)",
                                       "night 1 again, still held"}
