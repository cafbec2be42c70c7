"""Held plans (why, Approve / Discard) and possible-duplicate alerts (Match / Create record).

Each decision is checked against the district's own data first (a plan that is not this
district's and waiting, an alert or candidate that is not this district's: 404), written to the
audit log, and then launched as the Dagster job that does it (``approve_plan``,
``discard_plan``, ``decide_match_alert``), which checks again under the district's lock.
"""

from __future__ import annotations

from typing import Any

import duckdb
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from rostersync_pipeline.config import load_district, source_roots_from_env
from rostersync_pipeline.console import audit, launch
from rostersync_pipeline.console.views.common import (
    DistrictRequest,
    district_view,
    flash,
    start,
    valid_id,
)
from rostersync_pipeline.lib.apply.plan_rows import deactivation_groups
from rostersync_pipeline.lib.apply.plan_store import (
    REQUIRES_REVIEW,
    plans_awaiting_review,
    read_stored_plan,
)
from rostersync_pipeline.lib.identity.decisions import alert_pairs, latest_decisions
from rostersync_pipeline.lib.report.run_record import latest_run_id

NOTE_MAX_CHARS = 500


def _plans(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    decided = con.execute(
        "select plan_id, status, created_at, decided_at, decided_run_id, decision_note "
        "from sync.stored_plans where status <> ? order by decided_at desc limit 20",
        [REQUIRES_REVIEW]).fetchall()
    return {"waiting": plans_awaiting_review(con), "decided": decided}


async def plans_page(ctx: DistrictRequest) -> Response:
    """Plans waiting for review, and the latest decided ones."""
    data = await ctx.read(_plans) or {"waiting": [], "decided": []}
    return ctx.render("plans.html", **data)


def _plan(con: duckdb.DuckDBPyConnection, plan_id: str) -> dict[str, Any] | None:
    plan = read_stored_plan(con, plan_id)
    if plan is None:
        return None
    return {"plan": plan, "groups": deactivation_groups(con, plan_id)}


def _guard(ctx: DistrictRequest):
    try:
        return load_district(ctx.state.config_dir, ctx.district_id, source_roots_from_env()).guard
    except Exception:  # a config that does not load: the page shows the reasons only
        return None


async def plan_page(ctx: DistrictRequest) -> Response:
    """Why a plan was held (the guard's reasons, the thresholds, the schools and sections that
    account for most deactivations), its counts, and Approve / Discard while it waits."""
    plan_id = ctx.param("plan_id")
    data = await ctx.read(_plan, plan_id) if valid_id(plan_id) else None
    if data is None or data["plan"].district_id != ctx.district_id:
        return ctx.not_found()
    entries = await run_in_threadpool(audit.for_run, ctx.state.db, ctx.district_id, plan_id)
    guard = await run_in_threadpool(_guard, ctx)
    return ctx.render("plan.html", entries=entries, guard=guard, **data)


async def _decide_plan(ctx: DistrictRequest, kind: str, action: str) -> Response:
    plan_id = ctx.param("plan_id")
    plan = await ctx.read(read_stored_plan, plan_id) if valid_id(plan_id) else None
    if plan is None or plan.district_id != ctx.district_id:
        return ctx.not_found()
    if plan.status != REQUIRES_REVIEW:
        flash(ctx.request, f"Plan {plan_id[:8]} is already {plan.status}; nothing to do.")
        return ctx.redirect(f"plans/{plan_id}")
    note = (ctx.field("note") or "")[:NOTE_MAX_CHARS] or None
    params = {"plan_id": plan_id, **({"note": note} if kind == launch.DISCARD else {})}
    return await start(ctx, kind, params, action=action, plan_id=plan_id, detail=note,
                       back=f"plans/{plan_id}")


async def approve(ctx: DistrictRequest) -> Response:
    """Apply exactly the stored plan (the ``approve_plan`` job)."""
    return await _decide_plan(ctx, launch.APPROVE, audit.APPROVE)


async def discard(ctx: DistrictRequest) -> Response:
    """Drop the stored plan (the ``discard_plan`` job), with an optional note."""
    return await _decide_plan(ctx, launch.DISCARD, audit.DISCARD)


def _alerts(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    return {"alerts": alert_pairs(con), "decisions": latest_decisions(con),
            "run_id": latest_run_id(con)}


async def alerts_page(ctx: DistrictRequest) -> Response:
    """Open possible-duplicate alerts of the last run, side by side, with Match / Create."""
    data = await ctx.read(_alerts) or {"alerts": [], "decisions": {}, "run_id": None}
    return ctx.render("alerts.html", **data)


def _alert(con: duckdb.DuckDBPyConnection, source_id: str) -> dict[str, Any]:
    return {"candidates": [a["app_id_r"] for a in alert_pairs(con, include_decided=True)
                           if a["source_id_l"] == source_id],
            "run_id": latest_run_id(con)}


async def decide(ctx: DistrictRequest) -> Response:
    """Record Match (to the alert's candidate app record) or Create record for an incoming
    record with an alert (the ``decide_match_alert`` job)."""
    source_id, choice, app_id = ctx.field("source_id"), ctx.field("choice"), ctx.field("app_id")
    if not valid_id(source_id) or choice not in ("match", "create"):
        return ctx.not_found()
    found = await ctx.read(_alert, source_id) or {"candidates": [], "run_id": None}
    if not found["candidates"]:
        return ctx.not_found()
    note = (ctx.field("note") or "")[:NOTE_MAX_CHARS] or None
    if choice == "match":
        if not (app_id and app_id.isdigit() and int(app_id) in found["candidates"]):
            return ctx.not_found()
        params: dict[str, Any] = {"source_id": source_id, "match_app_id": int(app_id),
                                  "note": note}
        action, detail = audit.DECIDE_MATCH, f"match to app record {app_id}"
    else:
        params = {"source_id": source_id, "create": True, "note": note}
        action, detail = audit.DECIDE_CREATE, "create a new record"
    return await start(ctx, launch.DECIDE, params, action=action, back="alerts",
                       source_id=source_id, run_id=found["run_id"],
                       detail=detail + (f"; {note}" if note else ""))


ROUTES = [
    ("/d/{district_id}/plans", district_view(plans_page), ["GET"]),
    ("/d/{district_id}/plans/{plan_id}", district_view(plan_page), ["GET"]),
    ("/d/{district_id}/plans/{plan_id}/approve", district_view(approve), ["POST"]),
    ("/d/{district_id}/plans/{plan_id}/discard", district_view(discard), ["POST"]),
    ("/d/{district_id}/alerts", district_view(alerts_page), ["GET"]),
    ("/d/{district_id}/alerts/decide", district_view(decide), ["POST"]),
]
