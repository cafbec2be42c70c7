"""Tiny districts for the console tests, synced for real in ``tmp_path``.

- ``district-a`` (the user's): 32 students synced (night 0; one without a grade, an error row
  in every run), then a night that drops ten of them
  and two more who come back under new ids with slightly different names, synced twice: two
  plans held for review (deactivations over 10%) and two possible-duplicate alerts
  (``close_name_same_school``);
- ``district-u`` (the user's): synced once; the tests upload its next night as a .zip;
- ``district-b`` (another user's): synced and held too, with errors; the user must reach
  nothing of it.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from rostersync_pipeline_tests.helpers import (
    District,
    enrollment,
    make_district,
    org,
    section,
    student,
    teacher,
    write_bundle,
)

ROSTER = [f"s{i}" for i in range(1, 31)]
LOOKALIKES = {"kj": ("Katherine", "Johnson"), "mb": ("Michael", "Brown")}
RETURNING = {"kj2": ("Katharine", "Johnson"), "mb2": ("Micheal", "Brown")}
DROPPED = [f"s{i}" for i in range(1, 11)]


def bundle(directory: Path, students: list[str], named: dict[str, tuple[str, str]],
           *, missing_grade: str | None = None) -> Path:
    """One school, the students (``named``: given and family names), a teacher, two sections."""
    users = [student(s, "sch1", grades="" if s == missing_grade else "05") for s in students]
    users += [student(s, "sch1", givenName=given, familyName=family)
              for s, (given, family) in named.items()]
    users.append(teacher("t1", "sch1"))
    ids = [u["sourcedId"] for u in users if u["role"] == "student"]
    enrollments = [enrollment(f"e-{s}-{n}", f"sec{n}", s, "sch1") for s in ids for n in (1, 2)]
    enrollments += [enrollment(f"e-t1-{n}", f"sec{n}", "t1", "sch1", role="teacher")
                    for n in (1, 2)]
    return write_bundle(directory, orgs=[org("sch1", "Lincoln Elementary")], users=users,
                        classes=[section("sec1", "sch1"), section("sec2", "sch1")],
                        enrollments=enrollments)


def zipped(directory: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.glob("*.csv")):
            archive.write(path, path.name)
    return target


@dataclass(frozen=True)
class ConsoleDistricts:
    a: District
    u: District
    b: District
    held_a: tuple[str, str]
    held_b: str
    b_run: str
    upload_zip: Path
    config_dir: Path
    warehouse_dir: Path


def make_console_districts(tmp_path: Path) -> ConsoleDistricts:
    """The three districts, synced (about half a minute)."""
    a = make_district(tmp_path, bundle(tmp_path / "a-n0", ROSTER, LOOKALIKES,
                                       missing_grade="s30"), "district-a",
                      schools={"create_unmatched": True})
    assert a.sync().status == "applied"
    night_1 = bundle(tmp_path / "a-n1", [s for s in ROSTER if s not in DROPPED], RETURNING,
                     missing_grade="s30")
    held = tuple(a.sync(night_1).run_id for _ in range(2))
    for run_id in held:
        assert a.scalar("select status from sync.runs where run_id = ?", [run_id]) == \
            "requires_review"
    assert a.scalar("select count(*) from sync.match_alerts where status = 'open'") == 2

    u = make_district(tmp_path, bundle(tmp_path / "u-n0", ROSTER[:25], {}), "district-u",
                      schools={"create_unmatched": True})
    assert u.sync().status == "applied"
    upload = zipped(bundle(tmp_path / "u-n1", [*ROSTER[:24], "s31"], {}, missing_grade="s2"),
                    tmp_path / "district-u-night-1.zip")

    b = make_district(tmp_path, bundle(tmp_path / "b-n0", ROSTER, {}, missing_grade="s3"),
                      "district-b", schools={"create_unmatched": True})
    b_run = b.sync().run_id
    held_b = b.sync(bundle(tmp_path / "b-n1", ROSTER[15:], {})).run_id
    assert b.scalar("select status from sync.runs where run_id = ?", [held_b]) == \
        "requires_review"
    return ConsoleDistricts(a, u, b, (held[0], held[1]), held_b, b_run, upload,
                            a.config_dir, a.warehouse_dir)
