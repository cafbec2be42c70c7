"""The demo's next night, for the console walkthrough (``rostersync demo --night 1``).

After ``make demo`` (night 0, applied), this writes the next night's export as one zip,
``<warehouse>/demo/bundles/night-1.zip``, to upload in the console (docs/console.md). It is the
synthetic night 1 (:func:`write_oneroster_bundle` with ``night=1``: about 3% of the students
changed) plus two things a district administrator has to look at:

- **a school closed**: the first school the app knows leaves the export with its students,
  teachers, sections and enrollments. A real run of it deactivates far more than
  ``max_deactivate_pct`` and is held for review; the held plan shows that one school accounts
  for the deactivations;
- **a student re-added in the SIS**: one student the app holds (at another school) comes back
  under a new source id, SIS id, username and email, with the same names and birth date: a
  possible duplicate (``same_name_birth_date``) to resolve with Match.

The app side is read from the demo district's DuckDB file (which school and student it holds);
nothing there is changed.
"""

from __future__ import annotations

import csv
import shutil
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

from rostersync_pipeline.demo.district import write_oneroster_bundle
from rostersync_pipeline.demo.problems import load_demo_problems
from rostersync_pipeline.lib.storage.warehouse import district_connection

NIGHT_1_ZIP = "night-1.zip"
READDED_NAMESPACE = uuid.UUID("5b8f5c1e-2a43-4c6e-9d0b-6a1f3e7c9b21")


@dataclass(frozen=True)
class NextNight:
    bundle: Path
    closed_school: str
    closed_school_name: str
    users_removed: int
    sections_removed: int
    readded_from: str
    readded_as: str


def write_next_night(demo_root: Path, warehouse_dir: Path, district_id: str, *,
                     seed: int = 7) -> NextNight:
    """Write ``<demo_root>/bundles/night-1.zip`` for the demo district synced from
    ``<demo_root>/bundles/night-0`` (:class:`FileNotFoundError` if that did not happen)."""
    night_0 = demo_root / "bundles" / "night-0"
    if not (night_0 / "users.csv").is_file():
        raise FileNotFoundError(f"{night_0}: no night-0 bundle; run `rostersync demo` first")
    students = sum(1 for row in _read(night_0 / "users.csv") if row["role"] == "student")
    work = demo_root / "bundles" / "night-1"
    shutil.rmtree(work, ignore_errors=True)
    write_oneroster_bundle(work, students, seed=seed, night=1, problems=True)
    with district_connection(warehouse_dir, district_id, read_only=True) as con:
        app_schools = {row[0] for row in con.execute(
            "select source_id from roster.schools where status = 'active'").fetchall()}
        app_students = {row[0]: row[1:] for row in con.execute(
            "select source_id, first_name, last_name, birth_date::varchar from roster.users "
            "where role = 'student' and status = 'active' and origin = 'sync' "
            "and email is not null").fetchall()}
    problems = load_demo_problems(work)
    planted = {p.source_id for p in problems.problems} if problems else set()
    files = {name: _read(work / f"{name}.csv")
             for name in ("orgs", "users", "classes", "enrollments", "demographics")}
    school = next(o for o in files["orgs"] if o["type"] == "school"
                  and o["sourcedId"] in app_schools)
    closed = _close_school(files, school["sourcedId"])
    old_id, new_id = _readd_student(files, app_students, planted)
    for name, rows in files.items():
        _write(work / f"{name}.csv", rows)
    bundle = demo_root / "bundles" / NIGHT_1_ZIP
    partial = bundle.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(work.glob("*.csv")):
            archive.write(path, path.name)
    partial.replace(bundle)
    shutil.rmtree(work, ignore_errors=True)
    return NextNight(bundle, school["sourcedId"], school["name"], closed[0], closed[1],
                     old_id, new_id)


def _close_school(files: dict[str, list[dict[str, str]]], school_id: str) -> tuple[int, int]:
    """Drop the school's users (by primary org), sections and their enrollments."""
    gone_users = {u["sourcedId"] for u in files["users"]
                  if u["orgSourcedIds"].split(",")[0] == school_id}
    gone_classes = {c["sourcedId"] for c in files["classes"] if c["schoolSourcedId"] == school_id}
    files["users"] = [u for u in files["users"] if u["sourcedId"] not in gone_users]
    files["demographics"] = [d for d in files["demographics"] if d["sourcedId"] not in gone_users]
    files["classes"] = [c for c in files["classes"] if c["sourcedId"] not in gone_classes]
    files["enrollments"] = [e for e in files["enrollments"]
                            if e["userSourcedId"] not in gone_users
                            and e["classSourcedId"] not in gone_classes]
    return len(gone_users), len(gone_classes)


def _readd_student(files: dict[str, list[dict[str, str]]], app_students: dict[str, tuple],
                   planted: set[str]) -> tuple[str, str]:
    """Give one student the app holds new IDs, username and email (same names, birth date)."""
    births = {d["sourcedId"]: d["birthDate"] for d in files["demographics"]}
    student = next(
        u for u in files["users"]
        if u["role"] == "student" and u["sourcedId"] not in planted and u["email"]
        and app_students.get(u["sourcedId"]) == (u["givenName"], u["familyName"],
                                                 births.get(u["sourcedId"])))
    old_id = student["sourcedId"]
    new_id = str(uuid.uuid5(READDED_NAMESPACE, old_id))
    local = f"{student['givenName']}.{student['familyName']}.readded".lower()
    student.update(sourcedId=new_id, identifier=f"R{student['identifier']}", username=local,
                   email=f"{local}@students.example.org")
    for row in files["demographics"]:
        if row["sourcedId"] == old_id:
            row["sourcedId"] = new_id
    for row in files["enrollments"]:
        if row["userSourcedId"] == old_id:
            row["userSourcedId"] = new_id
    return old_id, new_id


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    with open(path, encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


__all__ = ["NIGHT_1_ZIP", "NextNight", "write_next_night"]
