"""Audit: a file bundle's payload is kept per run as received, pruned to the retention setting."""

from __future__ import annotations

from pathlib import Path

from rostersync_pipeline.lib.ingest.raw_archive import archived_runs
from rostersync_pipeline_tests.helpers import (
    enrollment,
    make_district,
    org,
    section,
    student,
    write_bundle,
)


def _bundle(directory: Path, ids: list[str]) -> Path:
    return write_bundle(
        directory,
        orgs=[org("sch1", "North High")],
        users=[student(i, "sch1") for i in ids],
        classes=[section("sec1", "sch1")],
        enrollments=[enrollment(f"e-{i}", "sec1", i, "sch1") for i in ids],
    )


def test_bundle_files_are_archived_as_received_and_pruned(tmp_path: Path) -> None:
    night0 = _bundle(tmp_path / "n0", ["s1", "s2"])
    district = make_district(tmp_path, night0, schools={"create_unmatched": True},
                             source={"raw_retention_runs": 2})
    runs = [district.sync().run_id]
    for night in (1, 2):
        runs.append(district.sync(_bundle(tmp_path / f"n{night}", ["s1", "s2", f"n{night}"]))
                    .run_id)

    kept = archived_runs(district.warehouse_dir, district.district_id)
    assert [p.name for p in kept] == runs[1:]
    latest = kept[-1]
    for name in ("users.csv", "enrollments.csv", "manifest.csv"):
        assert (latest / name).read_bytes() == (tmp_path / "n2" / name).read_bytes()
    assert not list(latest.glob("*.parquet"))
