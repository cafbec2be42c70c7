"""Every real sample under ``shared/data/samples`` goes through landing without an exception:
each CSV bundle (directory or zip) through both CSV adapters, as sent, in a wrong declared
encoding and cut in the middle of every file; each recorded Clever body through the v3 shape
check. Whatever cannot be read is a :class:`FetchProblem`, never a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from rostersync_pipeline.lib.ingest.landing import FetchProblem, FetchResult
from rostersync_pipeline.lib.ingest.providers import ADAPTERS, fetch_and_land
from rostersync_pipeline.lib.ingest.providers.base import LandingContext
from rostersync_pipeline.lib.ingest.providers.clever_shapes import page_problem
from rostersync_pipeline.lib.report.error_codes import ERROR_CODES
from rostersync_pipeline.lib.storage.warehouse import ensure_schemas
from rostersync_pipeline_tests.helpers import SAMPLES_DIR

pytestmark = pytest.mark.skipif(not SAMPLES_DIR.is_dir(), reason="shared samples not available")


def sample_bundles() -> list[Path]:
    if not SAMPLES_DIR.is_dir():
        return []
    folders = {p.parent for p in SAMPLES_DIR.rglob("*.csv")}
    return sorted(folders | set(SAMPLES_DIR.rglob("*.zip")))


BUNDLES = sample_bundles()


def land(bundle: Path, tmp_path: Path, source_type: str, **keys: str) -> FetchResult:
    adapter = ADAPTERS[source_type]
    source = adapter.config_model(path=str(bundle), **keys)
    with duckdb.connect() as con:
        ensure_schemas(con)
        return fetch_and_land(con, source, LandingContext(
            run_id="r1", work_dir=tmp_path / "work", bundle=bundle))


def assert_only_problems(result: FetchResult) -> None:
    assert isinstance(result, FetchResult)
    for problem in result.problems:
        assert isinstance(problem, FetchProblem)
        assert problem.error_code in ERROR_CODES
        assert problem.location and problem.reason


@pytest.mark.parametrize("source_type", ["oneroster_csv", "clever_csv"])
@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: str(p.relative_to(SAMPLES_DIR)))
def test_every_sample_bundle_lands_or_reports(bundle: Path, source_type: str,
                                              tmp_path: Path) -> None:
    assert_only_problems(land(bundle, tmp_path, source_type))


@pytest.mark.parametrize("encoding", ["utf-16", "shift_jis", "utf-32-be"])
@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: str(p.relative_to(SAMPLES_DIR)))
def test_every_sample_bundle_in_a_wrong_declared_encoding_lands_or_reports(
        bundle: Path, encoding: str, tmp_path: Path) -> None:
    assert_only_problems(land(bundle, tmp_path, "oneroster_csv", encoding=encoding))


@pytest.mark.parametrize("bundle", [b for b in BUNDLES if b.is_dir()],
                         ids=lambda p: str(p.relative_to(SAMPLES_DIR)))
def test_every_sample_bundle_cut_short_lands_or_reports(bundle: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut"
    cut.mkdir()
    for path in bundle.glob("*.csv"):
        data = path.read_bytes()
        (cut / path.name).write_bytes(data[: len(data) // 2 + 1])
    for source_type in ("oneroster_csv", "clever_csv"):
        assert_only_problems(land(cut, tmp_path / source_type, source_type))


def test_a_japanese_sample_in_shift_jis_lands_as_its_utf8_original(tmp_path: Path) -> None:
    original = SAMPLES_DIR / "oneroster-lepo" / "ja"
    sjis = tmp_path / "sjis"
    shutil.copytree(original, sjis, ignore=shutil.ignore_patterns("*.zip*"))
    for path in sjis.glob("*.csv"):
        path.write_bytes(path.read_text(encoding="utf-8-sig").encode("shift_jis"))

    def users(bundle: Path, root: Path, **keys: str) -> list[tuple]:
        with duckdb.connect() as con:
            ensure_schemas(con)
            source = ADAPTERS["oneroster_csv"].config_model(path=str(bundle), **keys)
            result = fetch_and_land(con, source, LandingContext(run_id="r1", work_dir=root,
                                                                bundle=bundle))
            assert result.complete, [p.describe() for p in result.problems]
            return con.execute("select * exclude (_ext) from raw.oneroster_users "
                               "order by _source_row").fetchall()

    expected = users(original, tmp_path / "w1")
    assert any("名" in str(row) for row in expected)
    assert users(sjis, tmp_path / "w2", encoding="shift_jis") == expected


LIST_ENDPOINTS = ("districts", "schools", "users", "sections", "terms", "courses", "events")


def recorded_bodies() -> list[tuple[str, Path]]:
    """(the request path after ``/v3.0/``, the recording) of every recorded Clever body."""
    bodies = []
    for path in sorted((SAMPLES_DIR / "clever-v3-sdk-recordings" / "bodies").rglob("*.json")):
        uri = json.loads(path.read_text(encoding="utf-8"))["_request_uri"]
        bodies.append((uri.split("/v3.0/", 1)[-1].split("?", 1)[0], path))
    return bodies


@pytest.mark.parametrize("resource, path", recorded_bodies(),
                         ids=lambda v: v.name if isinstance(v, Path) else v)
def test_every_recorded_clever_body_is_checked_without_an_exception(resource: str,
                                                                    path: Path) -> None:
    """A list answer of an endpoint rostersync reads has the v3 shape; any other body (one
    object, ``/me``, tokens, a school's sections) is described, never raised."""
    body = json.loads(path.read_text(encoding="utf-8"))["body"]
    if resource in LIST_ENDPOINTS:
        assert page_problem(resource, body) is None
    for endpoint in LIST_ENDPOINTS:
        assert page_problem(endpoint, body) is None or isinstance(
            page_problem(endpoint, body), str)
