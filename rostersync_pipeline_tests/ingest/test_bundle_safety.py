"""Bundles are hostile input: landed only from where the config says, never through a symbolic
link, a zip checked before a byte is extracted. A refused bundle is one ``BUNDLE_REFUSED`` row
naming the file (and member) and the reason; the run is recorded and the roster is unchanged."""

from __future__ import annotations

import os
import shutil
import stat
import struct
import time
import zipfile
from pathlib import Path

import pytest

from rostersync_pipeline.lib.ingest.bundles import (
    MAX_BYTES_ENV,
    BundleLimits,
    BundleRefused,
    check_bundle_allowed,
    district_work_dir,
    open_bundle,
    remove_stale_work,
    run_work_dir,
)
from rostersync_pipeline.lib.ingest.providers.oneroster_csv import OneRosterCsvSource
from rostersync_pipeline.lib.ingest.raw_archive import archived_runs, landed_csv_files
from rostersync_pipeline.runner import SyncOutcome, run_sync
from rostersync_pipeline_tests.helpers import (
    District,
    enrollment,
    make_district,
    org,
    section,
    student,
    write_bundle,
)

CENTRAL_HEADER = b"PK\x01\x02"


def night(directory: Path, ids: list[str]) -> Path:
    return write_bundle(
        directory,
        orgs=[org("sch1", "North High")],
        users=[student(i, "sch1") for i in ids],
        classes=[section("sec1", "sch1")],
        enrollments=[enrollment(f"e-{i}", "sec1", i, "sch1") for i in ids],
    )


def zip_of(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def zip_of_bundle(path: Path, bundle: Path, folder: str = "") -> Path:
    return zip_of(path, {f"{folder}{p.name}": p.read_bytes() for p in sorted(bundle.iterdir())})


def patch_central_entry(path: Path, member: int, offset: int, fmt: str, value: int) -> None:
    """Overwrite one field of the ``member``-th central directory entry (a lying header)."""
    data = bytearray(path.read_bytes())
    start = -1
    for _ in range(member + 1):
        start = data.index(CENTRAL_HEADER, start + 1)
    struct.pack_into(fmt, data, start + offset, value)
    path.write_bytes(bytes(data))


def refusal(bundle: Path, work_dir: Path, **limits: int) -> BundleRefused:
    with pytest.raises(BundleRefused) as caught:
        open_bundle(bundle, work_dir, limits=BundleLimits(**limits) if limits else None)
    assert not work_dir.exists()
    return caught.value


def run(district: District, bundle_path: Path | str | None = None) -> SyncOutcome:
    outcome = run_sync(district.district_id, config_dir=district.config_dir,
                       warehouse_dir=district.warehouse_dir,
                       bundle_path=Path(bundle_path) if bundle_path else None)
    assert outcome.success, outcome.failure
    return outcome


def refused_rows(district: District, run_id: str) -> list[tuple[str, str]]:
    return [(e["source_file"], e["message"])
            for e in district.errors(run_id, "BUNDLE_REFUSED")]


def work_left(district: District) -> list[Path]:
    root = district_work_dir(district.warehouse_dir, district.district_id)
    return sorted(root.iterdir()) if root.exists() else []


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory):
    """A district after a good first sync (path ``n0``, drop folder ``drop``), and its roster."""
    tmp_path = tmp_path_factory.mktemp("bundles")
    drop = tmp_path / "drop"
    drop.mkdir()
    district = make_district(tmp_path, night(tmp_path / "n0", ["s1", "s2"]),
                             schools={"create_unmatched": True},
                             source={"drop_folder": str(drop)})
    assert district.sync().status == "applied"
    return district, district.roster_snapshot(), tmp_path


def assert_refused_and_unchanged(synced, outcome: SyncOutcome, location: str,
                                 reason: str) -> None:
    district, before, _ = synced
    rows = refused_rows(district, outcome.run_id)
    assert [r[0] for r in rows] == [location]
    assert reason in rows[0][1]
    assert not outcome.summary.fetch_complete
    assert district.roster_snapshot() == before
    assert district.scalar("select count(*) from raw.oneroster_users") == 0
    assert work_left(district) == []


@pytest.mark.parametrize("escape", ["outside", "drop/../outside"])
def test_run_config_bundle_outside_path_and_drop_folder_is_refused(synced, escape) -> None:
    district, _, tmp_path = synced
    night(tmp_path / "outside", ["s1", "stranger"])
    outcome = run(district, tmp_path / escape)
    assert_refused_and_unchanged(synced, outcome, "outside", "not the district's configured")


def test_relative_dotdot_in_run_config_does_not_escape(synced, monkeypatch) -> None:
    district, _, tmp_path = synced
    night(tmp_path / "outside", ["s1", "stranger"])
    monkeypatch.chdir(tmp_path / "drop")
    outcome = run(district, "../outside")
    assert_refused_and_unchanged(synced, outcome, "outside", "not the district's configured")


def test_run_config_bundle_inside_the_drop_folder_lands(synced) -> None:
    district, before, tmp_path = synced
    copy = shutil.copytree(tmp_path / "n0", tmp_path / "drop" / "night-copy")
    outcome = run(district, copy)
    assert refused_rows(district, outcome.run_id) == []
    assert outcome.summary.fetch_complete
    assert district.roster_snapshot()["users"] == before["users"]


@pytest.mark.parametrize(("bundle", "allowed"), [
    ("n0", True), ("drop/b.zip", True), ("drop/../n0", True), ("drop", False),
    ("drop/sub/b.zip", False), ("drop/../b.zip", False), ("n1", False),
])
def test_check_bundle_allowed_compares_resolved_paths(tmp_path, bundle, allowed) -> None:
    (tmp_path / "drop" / "sub").mkdir(parents=True)
    source = OneRosterCsvSource(path=str(tmp_path / "n0"), drop_folder=str(tmp_path / "drop"))
    if allowed:
        check_bundle_allowed(tmp_path / bundle, source)
    else:
        with pytest.raises(BundleRefused, match="not the district's configured"):
            check_bundle_allowed(tmp_path / bundle, source)


def test_symlinked_bundle_directory_is_refused(synced) -> None:
    district, _, tmp_path = synced
    link = tmp_path / "night-link"
    link.symlink_to(night(tmp_path / "real-night", ["s1", "stranger"]), target_is_directory=True)
    with district.delivered(link):
        outcome = run(district)
    assert_refused_and_unchanged(synced, outcome, "night-link", "is a symbolic link")


def test_symlink_to_another_districts_users_csv_is_refused(synced) -> None:
    district, _, tmp_path = synced
    other = night(tmp_path / "district-b" / "n0", ["b1", "b2"])
    bundle = night(tmp_path / "n-link", ["s1", "s2"])
    (bundle / "users.csv").unlink()
    (bundle / "users.csv").symlink_to(other / "users.csv")
    with district.delivered(bundle):
        outcome = run(district)
    assert_refused_and_unchanged(synced, outcome, "n-link/users.csv", "is a symbolic link")
    assert district.scalar("select count(*) from roster.users where source_id like 'b%'") == 0


def test_symlink_to_a_system_file_is_never_archived(synced) -> None:
    district, _, tmp_path = synced
    secret = tmp_path / "etc" / "passwd"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:SECRET-LINE:/root:/bin/sh\n", encoding="utf-8")
    bundle = night(tmp_path / "n-passwd", ["s1", "s2"])
    (bundle / "passwd.csv").symlink_to(secret)
    with district.delivered(bundle):
        outcome = run(district)
    assert_refused_and_unchanged(synced, outcome, "n-passwd/passwd.csv", "is a symbolic link")
    assert outcome.run_id not in [p.name for p in archived_runs(district.warehouse_dir,
                                                                 district.district_id)]
    assert not [p for p in district.warehouse_dir.rglob("*")
                if p.is_file() and b"SECRET-LINE" in p.read_bytes()]


def test_archive_skips_symlinks_and_non_csv_files(tmp_path) -> None:
    (tmp_path / "users.csv").write_text("a\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("b\n", encoding="utf-8")
    (tmp_path / "passwd.csv").symlink_to(tmp_path / "notes.txt")
    assert [p.name for p in landed_csv_files(tmp_path)] == ["users.csv"]


@pytest.mark.parametrize(("member", "reason"), [
    ("../users.csv", "holds '..'"),
    ("export/../../users.csv", "holds '..'"),
    ("/etc/users.csv", "absolute path"),
    ("C:/export/users.csv", "absolute path"),
    ("export\\users.csv", "backslash"),
])
def test_zip_member_with_an_unsafe_name_is_refused(tmp_path, member, reason) -> None:
    bundle = zip_of(tmp_path / "night.zip", {"orgs.csv": b"sourcedId\n", member: b"x\n"})
    refused = refusal(bundle, tmp_path / "work")
    assert (refused.location, reason in refused.reason) == (f"night.zip:{member}", True)


def test_zip_with_two_members_of_the_same_base_name_is_refused(tmp_path) -> None:
    bundle = zip_of(tmp_path / "night.zip", {"a/users.csv": b"x\n", "b/Users.CSV": b"y\n"})
    refused = refusal(bundle, tmp_path / "work")
    assert refused.location == "night.zip:b/Users.CSV"
    assert "same file name as a/users.csv" in refused.reason


def test_zip_with_too_many_members_is_refused(tmp_path) -> None:
    bundle = zip_of(tmp_path / "night.zip", {f"f{i}.csv": b"x\n" for i in range(201)})
    refused = refusal(bundle, tmp_path / "work")
    assert (refused.location, refused.reason) == (
        "night.zip", "holds 201 members; at most 200 are allowed")


def test_zip_symlink_member_is_refused(tmp_path) -> None:
    bundle = tmp_path / "night.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        link = zipfile.ZipInfo("users.csv")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    refused = refusal(bundle, tmp_path / "work")
    assert refused.location == "night.zip:users.csv"
    assert "symbolic link" in refused.reason


def test_encrypted_zip_member_is_refused(tmp_path) -> None:
    bundle = zip_of(tmp_path / "night.zip", {"users.csv": b"x\n"})
    patch_central_entry(bundle, 0, 8, "<H", 0x1)
    assert "encrypted" in refusal(bundle, tmp_path / "work").reason


@pytest.mark.parametrize("declared", [None, 0xFFFF_FFFE])
def test_zip_bomb_is_refused_in_under_a_second_before_extraction(tmp_path, declared) -> None:
    bundle = zip_of(tmp_path / "bomb.zip", {"users.csv": bytes(10 << 20)})
    if declared:
        patch_central_entry(bundle, 0, 24, "<I", declared)
    started = time.perf_counter()
    refused = refusal(bundle, tmp_path / "work")
    assert time.perf_counter() - started < 1.0
    assert refused.location == "bomb.zip:users.csv"
    assert "refused as a zip bomb" in refused.reason


@pytest.fixture
def removed_bytes(monkeypatch) -> list[int]:
    """Bytes each removed work folder held just before its removal."""
    sizes: list[int] = []
    remove = shutil.rmtree

    def measuring(path, *args, **kwargs):
        sizes.append(sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()))
        remove(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", measuring)
    return sizes


def test_member_inflating_past_its_declared_size_is_refused_midway(tmp_path,
                                                                  removed_bytes) -> None:
    bundle = zip_of(tmp_path / "bomb.zip", {"orgs.csv": b"sourcedId\n",
                                            "users.csv": bytes(50 << 20)})
    patch_central_entry(bundle, 1, 24, "<I", 100_000)
    started = time.perf_counter()
    refused = refusal(bundle, tmp_path / "work")
    assert time.perf_counter() - started < 1.0
    assert refused.location == "bomb.zip:users.csv"
    assert "declared size" in refused.reason
    assert 0 < max(removed_bytes) <= 2 << 20


def test_total_size_limit_and_its_env_override(tmp_path, monkeypatch) -> None:
    bundle = zip_of(tmp_path / "night.zip", {"users.csv": b"x" * 5000, "orgs.csv": b"y" * 5000})
    monkeypatch.setenv(MAX_BYTES_ENV, "8000")
    refused = refusal(bundle, tmp_path / "work")
    assert refused.location == "night.zip"
    assert refused.reason == (f"declares 10000 bytes uncompressed; at most 8000 are allowed "
                              f"({MAX_BYTES_ENV})")
    monkeypatch.setenv(MAX_BYTES_ENV, "8 GB")
    with pytest.raises(ValueError, match=MAX_BYTES_ENV):
        BundleLimits.from_env()
    monkeypatch.delenv(MAX_BYTES_ENV)
    assert BundleLimits.from_env().max_total_bytes == 8 << 30


def test_zip_bomb_run_is_recorded_and_changes_nothing(synced) -> None:
    district, _, tmp_path = synced
    bundle = zip_of_bundle(tmp_path / "bomb" / "night.zip", night(tmp_path / "bomb-src", ["s1"]))
    with zipfile.ZipFile(bundle, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.csv", bytes(10 << 20))
    with district.delivered(bundle):
        outcome = run(district)
    assert_refused_and_unchanged(synced, outcome, "night.zip:zeros.csv", "refused as a zip bomb")


def test_extraction_failing_midway_leaves_no_work_folder(synced) -> None:
    district, _, tmp_path = synced
    bundle = zip_of_bundle(tmp_path / "crc" / "night.zip", night(tmp_path / "crc-src", ["s1"]))
    patch_central_entry(bundle, 4, 16, "<I", 0)  # users.csv's CRC, after four good members
    with district.delivered(bundle):
        outcome = run(district)
    assert_refused_and_unchanged(synced, outcome, "night.zip:users.csv", "damaged")


def test_work_folder_is_removed_on_every_exit_and_stale_work_is_cleared(tmp_path) -> None:
    with pytest.raises(RuntimeError), run_work_dir(tmp_path, "district-a", "run-1") as work:
        (work / "users.csv").write_text("x\n", encoding="utf-8")
        raise RuntimeError("killed midway")
    assert not work.exists()
    left = district_work_dir(tmp_path, "district-a") / "run-killed"
    left.mkdir(parents=True)
    (left / "users.csv").write_text("student data\n", encoding="utf-8")
    assert remove_stale_work(tmp_path, "district-a") == [left]
    assert not left.exists()


def test_archives_hold_only_the_bundles_csv_files(tmp_path) -> None:
    bundle = night(tmp_path / "n0", ["s1", "s2"])
    (bundle / "readme.txt").write_text("not a roster file\n", encoding="utf-8")
    (bundle / "extra").mkdir()
    (bundle / "extra" / "users.csv").write_text("sourcedId\nghost\n", encoding="utf-8")
    district = make_district(tmp_path, bundle, schools={"create_unmatched": True})
    assert district.sync().success
    zipped = zip_of_bundle(tmp_path / "n1.zip", night(tmp_path / "n1", ["s1", "s2"]), "export/")
    with zipfile.ZipFile(zipped, "a") as archive:
        archive.writestr("export/readme.pdf", b"%PDF")
    assert district.sync(zipped).success

    expected = ["classes.csv", "enrollments.csv", "manifest.csv", "orgs.csv", "users.csv"]
    runs = archived_runs(district.warehouse_dir, district.district_id)
    assert [sorted(os.listdir(p)) for p in runs] == [["_landed", *expected]] * 2
    assert (runs[1] / "users.csv").read_bytes() == (tmp_path / "n1" / "users.csv").read_bytes()
    assert work_left(district) == []
