"""Small helpers for end-to-end sync tests: a district in ``tmp_path``, a run, the roster after.

A :class:`District` is a config dir and a warehouse dir under one test directory; its bundle is
a synthetic one, a shared real sample, or a tiny bundle written from Python lists with
:func:`write_bundle`. Queries go through ``district_connection`` (closed after each call) and
``fetchall()`` only (DuckDB 2.0).
"""

from __future__ import annotations

import csv
import pickle
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from filelock import FileLock

from rostersync_pipeline.demo.district import (
    seed_roster,
    write_district_config,
    write_oneroster_bundle,
)
from rostersync_pipeline.lib.storage.warehouse import district_connection
from rostersync_pipeline.runner import SyncOutcome, run_sync

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "samples"
ROSTER_TABLES = ("schools", "terms", "courses", "users", "user_schools", "sections", "enrollments",
                 "change_log")

USERS_HEADER = (
    "sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role",
    "username", "userIds", "givenName", "familyName", "middleName", "identifier", "email",
    "sms", "phone", "agentSourcedIds", "grades", "password",
)
ORGS_HEADER = (
    "sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId",
)
CLASSES_HEADER = (
    "sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId",
    "classCode", "classType", "location", "schoolSourcedId", "termSourcedIds", "subjects",
    "subjectCodes", "periods",
)
ENROLLMENTS_HEADER = (
    "sourcedId", "status", "dateLastModified", "classSourcedId", "schoolSourcedId",
    "userSourcedId", "role", "primary", "beginDate", "endDate",
)
BUNDLE_FILES = {
    "orgs": ORGS_HEADER,
    "users": USERS_HEADER,
    "classes": CLASSES_HEADER,
    "enrollments": ENROLLMENTS_HEADER,
}


@dataclass(frozen=True)
class District:
    """One district of a test: its id, config dir and warehouse dir."""

    district_id: str
    config_dir: Path
    warehouse_dir: Path

    def sync(self, bundle: Path | None = None, *, dry_run: bool = False) -> SyncOutcome:
        """Run the whole sync job in-process (on ``bundle`` instead of the configured source,
        delivered as :meth:`delivered` does)."""
        with self.delivered(bundle):
            return run_sync(
                self.district_id,
                config_dir=self.config_dir,
                warehouse_dir=self.warehouse_dir,
                dry_run=dry_run,
            )

    @contextmanager
    def delivered(self, bundle: Path | None) -> Iterator[None]:
        """Within the block the district's ``source.path`` is ``bundle`` (the config is restored
        after): how a district delivers another night, since a run-config ``bundle_path`` outside
        the configured path and drop folder is refused."""
        if bundle is None:
            yield
            return
        path = self.config_dir / f"{self.district_id}.yaml"
        original = path.read_text(encoding="utf-8")
        document = yaml.safe_load(original)
        document["source"]["path"] = str(Path(bundle).absolute())
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        try:
            yield
        finally:
            path.write_text(original, encoding="utf-8")

    def copy_to(self, root: Path) -> District:
        """This district (config, warehouse and the bundles beside them) copied under ``root``,
        its config's paths rewritten to the copy: a module syncs a district once and each test
        goes on from its own copy."""
        origin = self.config_dir.parent
        assert self.warehouse_dir.parent == origin, "copy_to needs config and warehouse siblings"
        shutil.copytree(origin, root, dirs_exist_ok=True)
        config = root / self.config_dir.name / f"{self.district_id}.yaml"
        config.write_text(config.read_text(encoding="utf-8").replace(str(origin), str(root)),
                          encoding="utf-8")
        return District(self.district_id, root / self.config_dir.name,
                        root / self.warehouse_dir.name)

    def query(self, sql: str, params: Sequence[Any] | dict | None = None) -> list[tuple]:
        with district_connection(self.warehouse_dir, self.district_id) as con:
            return con.execute(sql, params or []).fetchall()

    def scalar(self, sql: str, params: Sequence[Any] | dict | None = None) -> Any:
        return self.query(sql, params)[0][0]

    def roster_snapshot(self) -> dict[str, list[tuple]]:
        """Every row of every ``roster.*`` table, in a stable order, for before/after equality."""
        with district_connection(self.warehouse_dir, self.district_id) as con:
            return {
                table: con.execute(f"select * from roster.{table} order by all").fetchall()
                for table in ROSTER_TABLES
            }

    def errors(self, run_id: str, code: str | None = None) -> list[dict[str, Any]]:
        """The run's ``sync.sync_errors`` rows as dicts (optionally of one error code)."""
        with district_connection(self.warehouse_dir, self.district_id) as con:
            cursor = con.execute(
                "select * from sync.sync_errors where run_id = ? "
                "and (? is null or error_code = ?) order by error_code, source_id, field",
                [run_id, code, code],
            )
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def plan(self, entity: str | None = None) -> list[tuple]:
        """The last run's ``sync.sync_plan`` as (entity, action, app_id, source_id, changed)."""
        return self.query(
            "select entity, action, app_id, source_id, changed_fields from sync.sync_plan "
            "where ? is null or entity = ? order by entity, action, source_id",
            [entity, entity],
        )

    def users(self) -> dict[str, tuple]:
        """roster.users by source id: (app_id, status, sis_id, email, last_name, grade)."""
        rows = self.query(
            "select source_id, app_id, status, sis_id, email, last_name, grade "
            "from roster.users where source_id is not null"
        )
        return {row[0]: row[1:] for row in rows}


def make_district(
    tmp_path: Path, bundle: Path, district_id: str = "district-a", **overrides: Any
) -> District:
    """A district whose config points at ``bundle``; keyword overrides go into its YAML."""
    config_dir = tmp_path / "config"
    warehouse_dir = tmp_path / "warehouse"
    write_district_config(config_dir, district_id, bundle, **overrides)
    return District(district_id, config_dir, warehouse_dir)


def make_synthetic_district(
    tmp_path: Path,
    students: int = 300,
    *,
    seed: int = 7,
    problems: bool = False,
    seed_app: bool = False,
    district_id: str = "district-a",
    **overrides: Any,
) -> tuple[District, Path]:
    """A district on a synthetic night-0 bundle; ``seed_app`` fills roster.* as a prior app."""
    bundle = tmp_path / "bundles" / "night-0"
    write_oneroster_bundle(bundle, students, seed=seed, problems=problems)
    district = make_district(tmp_path, bundle, district_id, **overrides)
    if seed_app:
        with district_connection(district.warehouse_dir, district_id) as con:
            seed_roster(con, bundle)
    return district, bundle


def sample_path(*parts: str) -> Path:
    return SAMPLES_DIR.joinpath(*parts)


def synced_once_per_session(
    cache: Path, key: str, first_sync: Callable[[Path], tuple[District, SyncOutcome]]
) -> tuple[District, SyncOutcome]:
    """A district's first sync done once per test session: the first caller (of any module,
    on any xdist worker) runs ``first_sync(root)`` under ``cache`` (the ``session_cache``
    fixture), later callers wait for it or find it there, with the first sync's outcome.
    Callers go on from a copy (:meth:`District.copy_to`): the cached district is never opened
    again, and DuckDB lets one process at a time open a file."""
    root = cache / key
    root.parent.mkdir(parents=True, exist_ok=True)
    done = root / "first-sync.pickle"
    with FileLock(f"{root}.lock"):
        if not done.is_file():
            done.parent.mkdir(parents=True, exist_ok=True)
            done.write_bytes(pickle.dumps(first_sync(root)))
    return pickle.loads(done.read_bytes())


def synced_sample(cache: Path, bundle: Path) -> tuple[District, SyncOutcome]:
    """A shared sample bundle synced as a new district (its schools created), once per test
    session (:func:`synced_once_per_session`)."""
    def first_sync(root: Path) -> tuple[District, SyncOutcome]:
        district = make_district(root, bundle, schools={"create_unmatched": True})
        return district, district.sync()

    key = "samples/" + bundle.relative_to(SAMPLES_DIR).as_posix().replace("/", "__")
    return synced_once_per_session(cache, key, first_sync)


def write_bundle(
    directory: Path,
    *,
    orgs: Sequence[dict[str, str]] = (),
    users: Sequence[dict[str, str]] = (),
    classes: Sequence[dict[str, str]] = (),
    enrollments: Sequence[dict[str, str]] = (),
    manifest: dict[str, str] | None = None,
) -> Path:
    """A minimal OneRoster v1.1 bundle directory from rows given as dicts (missing keys empty).

    The manifest lists orgs, users, classes and enrollments as bulk unless ``manifest``
    overrides an entry (e.g. ``{"file.users": "delta"}``).
    """
    directory.mkdir(parents=True, exist_ok=True)
    entries = {
        "manifest.version": "1.0",
        "oneroster.version": "1.1",
        **{f"file.{name}": "bulk" for name in BUNDLE_FILES},
        **(manifest or {}),
    }
    _write_csv(directory / "manifest.csv", ("propertyName", "value"), list(entries.items()))
    for name, rows in (("orgs", orgs), ("users", users), ("classes", classes),
                       ("enrollments", enrollments)):
        header = BUNDLE_FILES[name]
        _write_csv(directory / f"{name}.csv", header,
                   [tuple(row.get(column, "") for column in header) for row in rows])
    return directory


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def org(source_id: str, name: str, **fields: str) -> dict[str, str]:
    return {"sourcedId": source_id, "name": name, "type": "school", "identifier": source_id,
            "status": "active", **fields}


def student(source_id: str, school: str, **fields: str) -> dict[str, str]:
    """A student with every required field filled (sis id, names, grade 05, email)."""
    return {
        "sourcedId": source_id, "status": "active", "enabledUser": "true",
        "orgSourcedIds": school, "role": "student", "username": source_id,
        "givenName": f"Given{source_id}", "familyName": f"Family{source_id}",
        "identifier": f"sis-{source_id}", "email": f"{source_id}@example.org", "grades": "05",
        **fields,
    }


def teacher(source_id: str, school: str, **fields: str) -> dict[str, str]:
    return {**student(source_id, school), "role": "teacher", "grades": "", **fields}


def section(source_id: str, school: str, **fields: str) -> dict[str, str]:
    return {"sourcedId": source_id, "status": "active", "title": f"Section {source_id}",
            "classType": "scheduled", "schoolSourcedId": school, **fields}


def enrollment(
    source_id: str, section_id: str, user_id: str, school: str, role: str = "student",
    **fields: str,
) -> dict[str, str]:
    return {"sourcedId": source_id, "status": "active", "classSourcedId": section_id,
            "schoolSourcedId": school, "userSourcedId": user_id, "role": role, **fields}


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    """A bundle file's rows as dicts (BOM stripped), read with the csv module."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))
