"""Test imports, uploads and the progress of the runs the console launched.

An uploaded bundle (a ``.zip``, for a district whose source delivers files) is streamed into
``<warehouse>/uploads/.incoming/``, flushed to disk, checked to be a zip archive and renamed
into ``<warehouse>/uploads/<district_id>/`` (the one place besides ``source.path`` and
``source.drop_folder`` that a run lands from, see ``check_bundle_allowed``; no sensor watches
it). Its size is capped by the request limit (``ROSTERSYNC_BUNDLE_MAX_BYTES``, the bundle size
limit); the run then opens it like any bundle (member count, sizes, ratio, names). The upload
starts a **test import** (dry run); "Run it for real" is a second, explicit action: a sync of
that same file.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import Response

from rostersync_pipeline.config import (
    ConfigError,
    DistrictConfig,
    load_district,
    source_roots_from_env,
)
from rostersync_pipeline.console import audit, launch
from rostersync_pipeline.console.launch import read_launch
from rostersync_pipeline.console.views.common import (
    DistrictRequest,
    district_view,
    flash,
    start,
)
from rostersync_pipeline.lib.apply.guard import (
    ROSTER_ENTITY_SQL,
    id_change_reasons,
    threshold_reasons,
)
from rostersync_pipeline.lib.ingest.bundles import district_upload_dir
from rostersync_pipeline.lib.ingest.providers.base import FileSourceSettings
from rostersync_pipeline.lib.report.run_record import (
    RunSummary,
    latest_run_id,
    read_run_summary,
)

SHOWN_NAME = re.compile(r"[^A-Za-z0-9_. -]")
CHUNK_BYTES = 1 << 20


class UploadRefused(ValueError):
    """An upload that is not kept; the message says why."""


def _source(ctx: DistrictRequest) -> tuple[Any, str | None]:
    """The district's source config, or None and why not."""
    try:
        district = load_district(ctx.state.config_dir, ctx.district_id, source_roots_from_env())
    except ConfigError as exc:
        return None, f"the district's config does not load: {exc}"
    return district.source, None


def district_config(ctx: DistrictRequest) -> DistrictConfig | None:
    try:
        return load_district(ctx.state.config_dir, ctx.district_id, source_roots_from_env())
    except ConfigError:
        return None


async def upload_page(ctx: DistrictRequest) -> Response:
    """The upload form (a .zip bundle of the district's source format)."""
    source, problem = await run_in_threadpool(_source, ctx)
    return ctx.render("upload.html", source=source, problem=problem,
                      accepts=isinstance(source, FileSourceSettings),
                      max_mib=ctx.state.upload_max_bytes // (1 << 20))


def save_upload(upload: UploadFile, warehouse_dir: Path, district_id: str,
                max_bytes: int) -> tuple[Path, int]:
    """Write the uploaded file into the district's upload folder, complete or not at all."""
    incoming = Path(warehouse_dir) / "uploads" / ".incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    partial = incoming / f"{uuid.uuid4().hex}.part"
    try:
        with open(partial, "xb") as out:
            upload.file.seek(0)
            shutil.copyfileobj(upload.file, out, CHUNK_BYTES)
            out.flush()
            os.fsync(out.fileno())
            size = out.tell()
        if size > max_bytes:
            raise UploadRefused(f"the file has {size} bytes; at most {max_bytes} are allowed")
        if not zipfile.is_zipfile(partial):
            raise UploadRefused("the file is not a .zip archive")
        target_dir = district_upload_dir(warehouse_dir, district_id)
        target_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        target = target_dir / f"{stamp}-{uuid.uuid4().hex[:8]}.zip"
        os.replace(partial, target)
        return target, size
    finally:
        partial.unlink(missing_ok=True)


async def upload(ctx: DistrictRequest) -> Response:
    """Keep the uploaded bundle and start its test import."""
    source, problem = await run_in_threadpool(_source, ctx)
    if not isinstance(source, FileSourceSettings):
        flash(ctx.request, problem or "this district's source is not a file source: nothing "
              "to upload")
        return ctx.redirect("upload")
    sent = ctx.form.get("bundle") if ctx.form is not None else None
    if not isinstance(sent, UploadFile) or not sent.filename:
        flash(ctx.request, "Choose a .zip file to upload.")
        return ctx.redirect("upload")
    shown = SHOWN_NAME.sub("_", Path(sent.filename).name)[:100]
    if not shown.lower().endswith(".zip"):
        flash(ctx.request, f"{shown}: upload the bundle as one .zip file.")
        return ctx.redirect("upload")
    try:
        path, size = await run_in_threadpool(save_upload, sent, ctx.state.warehouse_dir,
                                             ctx.district_id, ctx.state.upload_max_bytes)
    except UploadRefused as refused:
        flash(ctx.request, f"{shown}: {refused}")
        return ctx.redirect("upload")
    return await start(ctx, launch.UPLOAD_TEST, {"bundle": str(path), "upload_name": shown},
                       action=audit.UPLOAD, back="upload",
                       detail=f"{shown} ({size} bytes) kept as {path.name}; test import")


async def test_import(ctx: DistrictRequest) -> Response:
    """A test import (dry run) of the district's configured source."""
    return await start(ctx, launch.TEST_IMPORT, {}, action=audit.TEST_IMPORT, back="",
                       detail="test import of the configured source")


def _launch_of_district(ctx: DistrictRequest) -> launch.Launch | None:
    raw = ctx.param("launch_id")
    if not raw.isdigit():
        return None
    found = read_launch(ctx.state.db, int(raw))
    return found if found is not None and found.district_id == ctx.district_id else None


def _dagster_status(ctx: DistrictRequest, run_id: str | None) -> str | None:
    instance = ctx.state.dagster_instance()
    if instance is None or run_id is None:
        return None
    run = instance.get_run_by_id(run_id)
    return run.status.value if run is not None else None


def would_hold(con: duckdb.DuckDBPyConnection, summary: RunSummary,
               district: DistrictConfig | None) -> list[str]:
    """Why a real run of this test import would be held, by the guard's own rules
    (:func:`threshold_reasons`, :func:`id_change_reasons`) on the test import's counts and
    today's roster; empty when it would not be (or the district's config does not load)."""
    if district is None or summary.status != "dry_run":
        return []
    active = dict(con.execute(ROSTER_ENTITY_SQL).fetchall())
    reasons = [reason for entity, actions in sorted(summary.counts.items())
               for reason in threshold_reasons(entity, actions, active.get(entity, 0),
                                               district.guard)]
    if latest_run_id(con) == summary.run_id:
        reasons += id_change_reasons(con, district.guard)
    if district.require_approval:
        reasons.append("the district requires approval of every plan")
    return reasons


def _result(con: duckdb.DuckDBPyConnection, run_id: str,
            district: DistrictConfig | None) -> tuple[RunSummary | None, list[str]]:
    summary = read_run_summary(con, run_id)
    return summary, would_hold(con, summary, district) if summary else []


async def launch_page(ctx: DistrictRequest) -> Response:
    """A launched run's progress (reloading until it ends), then its outcome; a finished test
    import shows its summary, whether a real run would be held, and "Run it for real"."""
    found = await run_in_threadpool(_launch_of_district, ctx)
    if found is None:
        return ctx.not_found()
    summary, held_because = None, []
    if found.finished and found.dagster_run_id:
        district = await run_in_threadpool(district_config, ctx)
        summary, held_because = await ctx.read(_result, found.dagster_run_id, district) \
            or (None, [])
    dagster_status = await run_in_threadpool(_dagster_status, ctx, found.dagster_run_id)
    return ctx.render("launch.html", launch=found, summary=summary, held_because=held_because,
                      dagster_status=dagster_status, refresh=not found.finished,
                      stage_names=_stage_names(found))


def _stage_names(found: launch.Launch) -> list[str]:
    from rostersync_pipeline.runner import STAGES

    return list(STAGES.values()) if found.kind in launch.SYNC_KINDS else []


async def run_for_real(ctx: DistrictRequest) -> Response:
    """After a test import that ended: the same import for real (same bundle, not dry)."""
    found = await run_in_threadpool(_launch_of_district, ctx)
    if found is None or found.kind not in (launch.TEST_IMPORT, launch.UPLOAD_TEST):
        return ctx.not_found()
    if found.state != "succeeded" or found.run_status != "dry_run":
        flash(ctx.request, "Only a test import that ended can be run for real.")
        return ctx.redirect(f"launches/{found.launch_id}")
    bundle = found.params.get("bundle")
    if bundle and not Path(bundle).is_file():
        flash(ctx.request, "The uploaded file is no longer kept; upload it again.")
        return ctx.redirect("upload")
    kind = launch.UPLOAD_SYNC if bundle else launch.SYNC
    params = {"bundle": bundle, "upload_name": found.params.get("upload_name")} if bundle else {}
    return await start(ctx, kind, params, action=audit.SYNC, back=f"launches/{found.launch_id}",
                       run_id=found.dagster_run_id,
                       detail=f"run for real after test import {found.dagster_run_id}")


ROUTES = [
    ("/d/{district_id}/upload", district_view(upload_page), ["GET"]),
    ("/d/{district_id}/upload", district_view(upload, upload=True), ["POST"]),
    ("/d/{district_id}/test-import", district_view(test_import), ["POST"]),
    ("/d/{district_id}/launches/{launch_id}", district_view(launch_page), ["GET"]),
    ("/d/{district_id}/launches/{launch_id}/run-for-real", district_view(run_for_real),
     ["POST"]),
]
