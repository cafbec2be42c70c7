"""The roster's history ("who was in section X on date D") and the district's console activity."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import duckdb
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from rostersync_pipeline.console import audit
from rostersync_pipeline.console.views.common import DistrictRequest, district_view
from rostersync_pipeline.lib.apply.history import find_sections, section_members_at

MAX_KEY_CHARS = 128


def _members(con: duckdb.DuckDBPyConnection, key: str, at: datetime) -> dict[str, Any]:
    sections = find_sections(con, key)
    members = section_members_at(con, sections[0]["app_id"], at) if len(sections) == 1 else []
    return {"sections": sections, "members": members}


async def history_page(ctx: DistrictRequest) -> Response:
    """Who was enrolled in a section (app id, source id or SIS id) at the end of a day."""
    key = (ctx.query("section") or "")[:MAX_KEY_CHARS].strip()
    day_text = ctx.query("date") or date.today().isoformat()
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        day, day_text = date.today(), date.today().isoformat()
    at = datetime.combine(day, time(23, 59, 59, 999999))
    data = await ctx.read(_members, key, at) if key else None
    return ctx.render("history.html", key=key, day=day_text, at=at,
                      **(data or {"sections": [], "members": []}), searched=bool(key))


async def activity_page(ctx: DistrictRequest) -> Response:
    """Everything users did in this district through the console, newest first."""
    entries = await run_in_threadpool(audit.for_district, ctx.state.db, ctx.district_id)
    return ctx.render("activity.html", entries=entries)


ROUTES = [
    ("/d/{district_id}/history", district_view(history_page), ["GET"]),
    ("/d/{district_id}/activity", district_view(activity_page), ["GET"]),
]
