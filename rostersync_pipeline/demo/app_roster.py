"""The app's state before the demo's first sync, and the district YAML that points at a bundle.

:func:`seed_roster` fills ``roster.*`` from a synthetic bundle the way an app that has synced
this district before would look: every school, about 80% of the students and teachers (chosen
by a hash of their source id, so the same bundle always gives the same app), and two records
created by hand. Where the bundle carries the demo's seeded problems
(:mod:`rostersync_pipeline.demo.problems`), the app holds each problem's "before".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import yaml

from rostersync_pipeline.config import ConfigError, load_district_config
from rostersync_pipeline.demo.problems import load_demo_problems
from rostersync_pipeline.lib.ingest.providers import adapter_for
from rostersync_pipeline.lib.storage.warehouse import ensure_schemas

APP_SHARE_PCT = 80
ROLE_IN_APP = {"student": "student", "teacher": "educator"}
MANUAL_EDUCATOR = {
    "first_name": "Jordan",
    "last_name": "Avery",
    "email": "jordan.avery.substitute@staff.example.org",
    "username": "jordan.avery.substitute",
}
PLACEHOLDER_SOURCE_ID = "manual-placeholder-0001"


@dataclass(frozen=True)
class RosterSeed:
    """What :func:`seed_roster` put in ``roster.*`` (counts include the manual records)."""

    schools: int
    students: int
    educators: int
    manual_student_email: str | None
    manual_educator_email: str


def seed_roster(
    con: duckdb.DuckDBPyConnection, bundle_dir: Path, *, share_pct: int = APP_SHARE_PCT
) -> RosterSeed:
    """Fill empty ``roster.schools`` / ``roster.users`` as the app's pre-existing state.

    ``roster.sections`` and ``roster.enrollments`` stay empty: the first sync creates them.
    ``bundle_dir`` is a synthetic bundle directory the demo wrote itself, read in place (a
    district's bundle is read only through :func:`lib.ingest.bundles.open_bundle`).
    """
    ensure_schemas(con)
    held = con.execute(
        "select (select count(*) from roster.schools) + (select count(*) from roster.users)"
    ).fetchall()[0][0]
    if held:
        raise ValueError("seed_roster fills an empty roster; roster.* already holds records")
    problems = load_demo_problems(Path(bundle_dir))
    overrides = [
        (p.source_id, p.app_source_id, p.app_sis_id, p.app_name)
        for p in (problems.problems if problems else ())
        if p.app_source_id is not None
    ]
    absent = sorted(problems.absent_from_app()) if problems else []
    forced_in = sorted(p.source_id for p in problems.of_kind("rotated_id")) if problems else []
    con.execute(
        "create or replace temp table seed_overrides (source_id varchar, app_source_id varchar, "
        "app_sis_id varchar, app_name varchar)"
    )
    if overrides:
        con.executemany("insert into seed_overrides values (?, ?, ?, ?)", overrides)
    _seed_schools(con, Path(bundle_dir) / "orgs.csv")
    _seed_users(con, Path(bundle_dir), share_pct=share_pct, absent=absent, forced_in=forced_in)
    manual_student = _add_manual_student(con)
    _add_manual_educator(con)
    for table in ("seed_overrides", "seed_schools", "seed_users"):
        con.execute(f"drop table if exists {table}")
    counts = con.execute(
        """
        select
            (select count(*) from roster.schools),
            count(*) filter (where role = 'student'),
            count(*) filter (where role = 'educator')
        from roster.users
        """
    ).fetchall()[0]
    return RosterSeed(
        schools=int(counts[0]),
        students=int(counts[1]),
        educators=int(counts[2]),
        manual_student_email=manual_student,
        manual_educator_email=MANUAL_EDUCATOR["email"],
    )


def _seed_schools(con: duckdb.DuckDBPyConnection, orgs_csv: Path) -> None:
    con.execute(
        """
        create or replace temp table seed_schools as
        with orgs as (
            select * from read_csv($path, header = true, all_varchar = true)
            where lower(type) = 'school'
        )
        select
            row_number() over (order by orgs.identifier, orgs.sourcedId) as app_id,
            orgs.sourcedId as bundle_source_id,
            coalesce(o.app_source_id, orgs.sourcedId) as source_id,
            coalesce(o.app_sis_id, orgs.identifier) as sis_id,
            coalesce(o.app_name, orgs.name) as custom_name
        from orgs
        left join seed_overrides o on o.source_id = orgs.sourcedId
        """,
        {"path": str(orgs_csv)},
    )
    con.execute(
        """
        insert into roster.schools (app_id, custom_name, source_id, sis_id, status, origin)
        select app_id, custom_name, source_id, sis_id, 'active', 'sync'
        from seed_schools
        order by app_id
        """
    )


def _seed_users(
    con: duckdb.DuckDBPyConnection,
    directory: Path,
    *,
    share_pct: int,
    absent: list[str],
    forced_in: list[str],
) -> None:
    demographics = directory / "demographics.csv"
    params: dict[str, Any] = {
        "users": str(directory / "users.csv"),
        "share": share_pct,
        "absent": absent,
        "forced_in": forced_in,
        "student": ROLE_IN_APP["student"],
        "teacher": ROLE_IN_APP["teacher"],
    }
    if demographics.exists():
        params["demographics"] = str(demographics)
        birth_dates = (
            "select sourcedId, try_cast(birthDate as date) as birth_date "
            "from read_csv($demographics, header = true, all_varchar = true)"
        )
    else:
        birth_dates = "select null::varchar as sourcedId, null::date as birth_date where false"
    con.execute(
        f"""
        create or replace temp table seed_users as
        with users as (
            select * from read_csv($users, header = true, all_varchar = true)
            where lower(role) in ('student', 'teacher')
        ),
        birth_dates as ({birth_dates})
        select
            case lower(users.role) when 'student' then $student else $teacher end as role,
            coalesce(o.app_source_id, users.sourcedId) as source_id,
            coalesce(o.app_sis_id, users.identifier) as sis_id,
            users.email,
            users.username,
            users.givenName as first_name,
            users.familyName as last_name,
            birth_dates.birth_date,
            nullif(users.grades, '') as grade,
            seed_schools.app_id as school_app_id,
            list_contains($absent::varchar[], users.sourcedId) as is_problem,
            not list_contains($absent::varchar[], users.sourcedId)
                and (hash(users.sourcedId) % 100 < $share
                     or list_contains($forced_in::varchar[], users.sourcedId)) as in_app
        from users
        left join seed_overrides o on o.source_id = users.sourcedId
        left join birth_dates on birth_dates.sourcedId = users.sourcedId
        left join seed_schools
            on seed_schools.bundle_source_id = split_part(users.orgSourcedIds, ',', 1)
        """,
        params,
    )
    con.execute(
        """
        insert into roster.users (
            app_id, role, source_id, sis_id, email, username, first_name, last_name,
            birth_date, grade, school_app_id, status, origin
        )
        select
            row_number() over (order by role desc, sis_id, source_id),
            role, source_id, sis_id, email, username, first_name, last_name,
            birth_date, grade, school_app_id, 'active', 'sync'
        from seed_users
        where in_app
        """
    )


def _next_app_id(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute(
        "select coalesce(max(app_id), 0) + 1 from roster.users"
    ).fetchall()[0][0])


def _add_manual_student(con: duckdb.DuckDBPyConnection) -> str | None:
    """A hand-made copy of a bundle student the app lacks: placeholder id, no SIS id."""
    rows = con.execute(
        """
        insert into roster.users (
            app_id, role, source_id, email, username, first_name, last_name, birth_date,
            grade, school_app_id, status, origin
        )
        select $app_id, role, $placeholder, email, username, first_name, last_name,
            birth_date, grade, school_app_id, 'active', 'manual'
        from seed_users
        where role = $student and not in_app and not is_problem and email is not null
        order by hash(source_id), source_id
        limit 1
        returning email
        """,
        {
            "app_id": _next_app_id(con),
            "placeholder": PLACEHOLDER_SOURCE_ID,
            "student": ROLE_IN_APP["student"],
        },
    ).fetchall()
    return rows[0][0] if rows else None


def _add_manual_educator(con: duckdb.DuckDBPyConnection) -> None:
    """A substitute teacher created in the app and absent from the SIS: never deactivated."""
    con.execute(
        """
        insert into roster.users (
            app_id, role, email, username, first_name, last_name, school_app_id, status, origin
        )
        select $app_id, $role, $email, $username, $first_name, $last_name,
            (select min(app_id) from roster.schools), 'active', 'manual'
        """,
        {"app_id": _next_app_id(con), "role": ROLE_IN_APP["teacher"], **MANUAL_EDUCATOR},
    )


def write_district_config(
    config_dir: Path, district_id: str, bundle_path: Path, **overrides: Any
) -> Path:
    """Write ``<config_dir>/<district_id>.yaml`` for a synthetic bundle and validate it.

    Keyword overrides are merged into the YAML (nested mappings merge key by key), e.g.
    ``guard={"max_deactivate_pct": 5}`` or ``dry_run=True``. An invalid result raises
    :class:`~rostersync_pipeline.config.ConfigError` and leaves no file behind.
    """
    config_dir = Path(config_dir)
    config_dir.mkdir(parents=True, exist_ok=True)
    document: dict[str, Any] = {
        "district_id": district_id,
        "name": f"Synthetic district {district_id}",
        "timezone": "America/New_York",
        "schedule": "0 2 * * *",
        "source": {"type": "oneroster_csv", "path": str(Path(bundle_path).resolve())},
        "match_keys": {
            "students": ["source_id", "sis_id", "email"],
            "educators": ["source_id", "sis_id", "email"],
            "schools": ["source_id", "sis_id", "name"],
        },
        "guard": {"max_deactivate_pct": 10, "max_update_pct": 75},
        "notifications": {"emails": ["roster-admin@example.org"]},
    }
    source_type = (overrides.get("source") or {}).get("type", "oneroster_csv")
    if not adapter_for(source_type).file_based:
        document["source"] = {}  # an API source has no bundle path
    _deep_merge(document, overrides)
    path = config_dir / f"{district_id}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    try:
        load_district_config(path)
    except ConfigError:
        path.unlink()
        raise
    return path


def _deep_merge(base: dict[str, Any], updates: dict[str, Any]) -> None:
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value
