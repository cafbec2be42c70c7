"""A district's runs, a run's import summary, its plan rows, its errors and the error export."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, Response

from rostersync_pipeline.console import audit
from rostersync_pipeline.console.launch import district_launches
from rostersync_pipeline.console.views.common import DistrictRequest, district_view, valid_id
from rostersync_pipeline.lib.apply.plan_rows import plan_page, plan_source
from rostersync_pipeline.lib.apply.plan_store import plans_awaiting_review, read_stored_plan
from rostersync_pipeline.lib.report.error_codes import ERROR_CODES
from rostersync_pipeline.lib.report.export import export_errors, export_path
from rostersync_pipeline.lib.report.run_record import (
    error_rows,
    list_runs,
    match_alert_counts,
    read_run_summary,
)

RUNS_PER_PAGE = 25
ENTITIES = ("schools", "terms", "courses", "students", "educators", "guardians", "user_schools",
            "guardian_relationships", "sections", "enrollments")
ACTIONS = ("create", "update", "reactivate", "deactivate", "unchanged")


def _home(con: duckdb.DuckDBPyConnection, before: datetime | None) -> dict[str, Any]:
    return {"runs": list_runs(con, limit=RUNS_PER_PAGE, before=before),
            "waiting": plans_awaiting_review(con),
            "alerts": match_alert_counts(con) or {}}


def _before(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


async def district_home(ctx: DistrictRequest) -> Response:
    """The district's runs (status, counts, errors per code, when), held plans, alerts."""
    before = _before(ctx.query("before"))
    data = await ctx.read(_home, before) or {"runs": [], "waiting": [], "alerts": {}}
    launches = await run_in_threadpool(district_launches, ctx.state.db, ctx.district_id, 5)
    runs = data["runs"]
    older = runs[-1].finished_at.isoformat() if len(runs) == RUNS_PER_PAGE else None
    return ctx.render("district.html", launches=launches, older=older, **data)


def _run(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any] | None:
    summary = read_run_summary(con, run_id)
    if summary is None:
        return None
    return {"summary": summary, "plan_source": plan_source(con, run_id),
            "stored_plan": read_stored_plan(con, run_id)}


def _launch_of(ctx: DistrictRequest, run_id: str):
    return next((launch for launch in district_launches(ctx.state.db, ctx.district_id, 200)
                 if launch.dagster_run_id == run_id), None)


async def run_page(ctx: DistrictRequest) -> Response:
    """A run's import summary: counts, errors per code with remediation, ID changes, alerts,
    samples, who did what about it (audit), and links to its plan rows and error export."""
    run_id = ctx.param("run_id")
    data = await ctx.read(_run, run_id) if valid_id(run_id) else None
    if data is None:
        return ctx.not_found()
    entries = await run_in_threadpool(audit.for_run, ctx.state.db, ctx.district_id, run_id)
    launch = await run_in_threadpool(_launch_of, ctx, run_id)
    return ctx.render("run.html", entries=entries, launch=launch, error_codes=ERROR_CODES,
                      entities=ENTITIES, actions=ACTIONS, **data)


def _plan_rows(con: duckdb.DuckDBPyConnection, run_id: str, entity: str | None,
               action: str | None, after: tuple[str, str, int] | None) -> dict[str, Any] | None:
    summary = read_run_summary(con, run_id)
    if summary is None:
        return None
    return {"summary": summary,
            "page": plan_page(con, run_id, entity=entity, action=action, after=after)}


def _after(ctx: DistrictRequest) -> tuple[str, str, int] | None:
    entity, action, app_id = ctx.query("after_entity"), ctx.query("after_action"), \
        ctx.query("after_app_id")
    if entity in ENTITIES and action in ACTIONS and app_id and app_id.lstrip("-").isdigit():
        return entity, action, int(app_id)
    return None


async def plan_rows_page(ctx: DistrictRequest) -> Response:
    """Row-level plan detail, filtered by entity and action, 100 rows a page (keyset)."""
    run_id = ctx.param("run_id")
    entity = ctx.query("entity") if ctx.query("entity") in ENTITIES else None
    action = ctx.query("action") if ctx.query("action") in ACTIONS else None
    data = await ctx.read(_plan_rows, run_id, entity, action, _after(ctx)) \
        if valid_id(run_id) else None
    if data is None:
        return ctx.not_found()
    return ctx.render("plan_rows.html", entity=entity, action=action, entities=ENTITIES,
                      actions=ACTIONS, first_page=_after(ctx) is None, **data)


def _errors(con: duckdb.DuckDBPyConnection, run_id: str, code: str | None,
            after: int | None) -> dict[str, Any] | None:
    summary = read_run_summary(con, run_id)
    if summary is None:
        return None
    rows, next_after = error_rows(con, run_id, code, after=after) if code else ([], None)
    return {"summary": summary, "rows": rows, "next_after": next_after}


async def errors_page(ctx: DistrictRequest) -> Response:
    """The run's errors: per code its count, meaning and remediation; the rows of one code."""
    run_id = ctx.param("run_id")
    code = ctx.query("code")
    after = ctx.query("after")
    data = await ctx.read(_errors, run_id, code,
                          int(after) if after and after.isdigit() else None) \
        if valid_id(run_id) else None
    if data is None or (code and code not in data["summary"].error_counts):
        return ctx.not_found()
    return ctx.render("errors.html", code=code, error_codes=ERROR_CODES, **data)


def _export(con: duckdb.DuckDBPyConnection, warehouse_dir, district_id: str,
            run_id: str) -> str | None:
    if read_run_summary(con, run_id) is None:
        return None
    path = export_path(warehouse_dir, district_id, run_id)
    if not path.is_file():
        export_errors(con, district_id, run_id, path)
    return str(path)


async def export_download(ctx: DistrictRequest) -> Response:
    """The run's error export (.zip of CSV), made now if the run has none yet."""
    run_id = ctx.param("run_id")
    path = await ctx.read(_export, ctx.state.warehouse_dir, ctx.district_id, run_id) \
        if valid_id(run_id) else None
    if path is None:
        return ctx.not_found()
    return FileResponse(path, media_type="application/zip",
                        filename=f"sync_errors_{ctx.district_id}_{run_id[:8]}.zip",
                        headers={"Cache-Control": "no-store"})


ROUTES = [
    ("/d/{district_id}/", district_view(district_home), ["GET"]),
    ("/d/{district_id}/runs/{run_id}", district_view(run_page), ["GET"]),
    ("/d/{district_id}/runs/{run_id}/plan", district_view(plan_rows_page), ["GET"]),
    ("/d/{district_id}/runs/{run_id}/errors", district_view(errors_page), ["GET"]),
    ("/d/{district_id}/runs/{run_id}/export.zip", district_view(export_download), ["GET"]),
]
