"""The SQL behind :mod:`rostersync_pipeline.demo.district`: one temp table per entity.

Every value is a function of ``hash(seed, kind, index)``; nothing reads the clock or a random
generator, so the same parameters give the same bytes. Values enter SQL as bound parameters.
"""

from __future__ import annotations

import re

import duckdb

FIRST_NAMES = (
    "Aiden", "Amara", "Ana", "Arjun", "Ava", "Beatriz", "Caleb", "Camila", "Chloe", "Daniel",
    "Darius", "Elena", "Eli", "Emma", "Ethan", "Fatima", "Gabriel", "Grace", "Hana", "Isaac",
    "Isabella", "Jamal", "Jasmine", "Jonah", "Kai", "Keisha", "Leo", "Liam", "Lucia", "Maya",
    "Mateo", "Mia", "Nadia", "Noah", "Nora", "Omar", "Priya", "Quinn", "Rafael", "Riley",
    "Rosa", "Samuel", "Sofia", "Tariq", "Theo", "Uma", "Victor", "Wen", "Yara", "Zoe",
)
LAST_NAMES = (
    "Adeyemi", "Alvarez", "Anderson", "Bennett", "Brooks", "Castillo", "Chen", "Coleman",
    "Diaz", "Edwards", "Fischer", "Flores", "Garcia", "Gupta", "Hayes", "Hernandez", "Ibrahim",
    "Jackson", "Jensen", "Kim", "Kowalski", "Lee", "Lopez", "Mahmoud", "Martin", "Mendoza",
    "Morales", "Murphy", "Nguyen", "Novak", "Okafor", "Ortiz", "Patel", "Perez", "Quinlan",
    "Ramirez", "Reyes", "Rossi", "Santos", "Schmidt", "Shah", "Silva", "Sullivan", "Tanaka",
    "Torres", "Turner", "Vasquez", "Walsh", "Williams", "Yamamoto",
)
# 40 places (coprime with the 3 school bands): place and band together name up to 120 schools.
PLACE_NAMES = (
    "Alder Creek", "Aspen Hollow", "Bayview", "Birch Hill", "Briar Glen", "Brookside",
    "Cedar Ridge", "Clearwater", "Copper Canyon", "Crescent Lake", "Deer Park", "Eastwood",
    "Elm Grove", "Fairhaven", "Fox Run", "Glenmoor", "Granite Falls", "Harbor Point",
    "Hawthorne", "Highland Park", "Juniper Springs", "Lakeshore", "Laurel Heights", "Maple Grove",
    "Meadowbrook", "Mill Creek", "North Star", "Oak Valley", "Pine Bluff", "Prairie View",
    "Quail Ridge", "Redwood", "Riverbend", "Sagebrush", "Silver Lake", "Stonebridge",
    "Sunnyside", "Timberline", "Westfield", "Willow Bend",
)
SUBJECTS = (
    "Mathematics", "English Language Arts", "Science", "Social Studies", "Physical Education",
    "Visual Art", "Music", "World Languages", "Computer Science", "Health",
)

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def name_lists() -> dict[str, list[str]]:
    assert len(PLACE_NAMES) % 3 != 0, "school names need a place count coprime with 3"
    return {
        "first_names": list(FIRST_NAMES),
        "last_names": list(LAST_NAMES),
        "places": list(PLACE_NAMES),
        "subjects": list(SUBJECTS),
    }


def change_bands(basis_points: dict[str, int]) -> dict[str, int]:
    """Consecutive [lo, hi) bands of a 0..9999 hash, one per night-1 change kind."""
    bands: dict[str, int] = {}
    low = 0
    for kind, width in basis_points.items():
        bands[f"b_{kind}_lo"] = low
        bands[f"b_{kind}_hi"] = low + width
        low += width
    return bands


def run(con: duckdb.DuckDBPyConnection, statement: str, params: dict) -> list[tuple]:
    """Execute with the parameters the statement names (DuckDB rejects unused ones)."""
    used = {name: params[name] for name in set(_PARAM.findall(statement))}
    return con.execute(statement, used).fetchall()


def create_macros(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "create temp macro fake_uuid(h1, h2) as printf('%08x-%04x-4%03x-%04x-%012x', "
        "h1 >> 32, (h1 >> 16) & 65535, h1 & 4095, 32768 + ((h2 >> 48) & 16383), "
        "h2 & 281474976710655)"
    )
    con.execute(
        "create temp macro grade_code(g) as "
        "case when g = 0 then 'KG' else lpad(g::varchar, 2, '0') end"
    )
    con.execute("create temp macro pick(items, h) as items[1 + (h % len(items))::bigint]")
    # hash() combines its arguments linearly: hashes with a different salt correlate. A second
    # hash of the combined value mixes them apart.
    con.execute(
        "create temp macro mix(a) as hash(hash(a)), (a, b) as hash(hash(a, b)), "
        "(a, b, c) as hash(hash(a, b, c)), (a, b, c, d) as hash(hash(a, b, c, d))"
    )


BUILD_STATEMENTS = (
    """
    create temp table lists as
    select
        $first_names::varchar[] as first_names,
        $last_names::varchar[] as last_names,
        $places::varchar[] as places,
        $subjects::varchar[] as subjects,
        ['Elementary School', 'Middle School', 'High School', 'Academy'] as band_names,
        ['ES', 'MS', 'HS', 'K-12'] as band_abbreviations
    """,
    """
    create temp table school as
    with base as (
        select
            j,
            ($n - j + $n_schools - 1) // $n_schools as n_students,
            ($n_teachers - j + $n_schools - 1) // $n_schools as n_teachers,
            case when $n_schools < 3 then 3 else j % 3 end as band
        from range($n_schools) r(j)
    ),
    sized as (
        select
            *,
            greatest(1, (n_students * $per_student + $per_section - 1) // $per_section)
                as n_sections
        from base
    )
    select
        sized.j,
        sized.band,
        sized.n_students,
        sized.n_teachers,
        sized.n_sections,
        least(sized.n_sections, len(lists.subjects)) as n_courses,
        sum(sized.n_sections) over (order by sized.j) - sized.n_sections as section_offset,
        fake_uuid(mix($seed, 'org', sized.j), mix(sized.j, 'org', $seed)) as source_id,
        lpad((101 + sized.j)::varchar, 4, '0') as identifier,
        pick(lists.places, sized.j) || ' ' || lists.band_names[sized.band + 1]
            || case when sized.j >= 3 * len(lists.places)
                then ' ' || (sized.j // (3 * len(lists.places)) + 1)::varchar else '' end
            as name,
        [0, 6, 9, 0][sized.band + 1] as grade_lo,
        [5, 8, 12, 12][sized.band + 1] as grade_hi
    from sized, lists
    """,
    """
    create temp table district as
    select
        fake_uuid(mix($seed, 'district'), mix('district', $seed)) as source_id,
        pick(lists.places, $seed + 7) || ' Unified School District' as name,
        'D' || lpad($seed::varchar, 4, '0') as identifier
    from lists
    """,
    """
    create temp table session as
    select * from (values
        (0, 'schoolYear', '2025-2026', date '2025-08-18', date '2026-06-12', null),
        (1, 'semester', 'Fall 2025', date '2025-08-18', date '2026-01-16', 0),
        (2, 'semester', 'Spring 2026', date '2026-01-20', date '2026-06-12', 0)
    ) v(ord, type, title, start_date, end_date, parent_ord)
    """,
    """
    alter table session add column source_id varchar
    """,
    """
    update session set source_id = fake_uuid(mix($seed, 'session', ord), mix(ord, $seed))
    """,
    """
    create temp table student as
    with ids as (
        select
            i,
            i % $n_schools as j,
            i // $n_schools as r,
            mix($seed, 'student', i) as h,
            case when i < $n then mix($seed, 'night', i) % 10000 else 10000 end as u
        from range($n_total) r(i)
    ),
    banded as (
        select
            ids.*,
            case
                when u >= $b_dropped_lo and u < $b_dropped_hi then 'dropped'
                when u >= $b_family_name_lo and u < $b_family_name_hi then 'family_name'
                when u >= $b_email_lo and u < $b_email_hi then 'email'
                when u >= $b_grade_lo and u < $b_grade_hi then 'grade'
                when u >= $b_enrollment_lo and u < $b_enrollment_hi then 'enrollment'
                when u >= $b_id_rotation_lo and u < $b_id_rotation_hi then 'id_rotation'
                when i >= $n then 'new'
            end as night_band
        from ids
    ),
    drawn as (
        select
            ids.*,
            pick(lists.first_names, ids.h) as given_name,
            ((ids.h >> 20) % len(lists.last_names))::bigint as family_idx,
            school.grade_lo + ((ids.h >> 8) % (school.grade_hi - school.grade_lo + 1))::bigint
                as grade_num,
            case when $night = 1 then ids.night_band end as night_change
        from banded ids
        join school on school.j = ids.j
        cross join lists
        where $night = 0 or ids.night_band is distinct from 'dropped'
    )
    select
        drawn.i,
        drawn.j,
        drawn.r,
        drawn.night_band,
        drawn.night_change,
        -- an ID rotation: deleted and re-added in the SIS under a new sourcedId (same sis_id)
        case when drawn.night_change = 'id_rotation'
            then fake_uuid(drawn.h, mix(drawn.i, 'rotated', $seed))
            else fake_uuid(drawn.h, mix(drawn.i, 'student', $seed))
        end as source_id,
        (1000000 + drawn.i)::varchar as identifier,
        drawn.given_name,
        lists.last_names[1 + drawn.family_idx] as base_family_name,
        case when drawn.night_change = 'family_name'
            then lists.last_names[
                1 + ((drawn.family_idx + 1 + (drawn.h >> 40) % (len(lists.last_names) - 1))
                    % len(lists.last_names))::bigint]
            else lists.last_names[1 + drawn.family_idx]
        end as family_name,
        lower(drawn.given_name || '.' || lists.last_names[1 + drawn.family_idx])
            || (1000000 + drawn.i)::varchar as username,
        case when drawn.night_change = 'email'
            then lower(left(drawn.given_name, 1) || lists.last_names[1 + drawn.family_idx])
            else lower(drawn.given_name || '.' || lists.last_names[1 + drawn.family_idx])
        end || (1000000 + drawn.i)::varchar || '@students.example.org' as email,
        grade_code(case when drawn.night_change = 'grade'
            then (case when drawn.grade_num < 12
                then drawn.grade_num + 1 else drawn.grade_num - 1 end)
            else drawn.grade_num end) as grade,
        make_date((2019 - drawn.grade_num)::integer, 9, 1) + ((drawn.h >> 30) % 365)::integer
            as birth_date,
        case when (drawn.h >> 50) % 2 = 0 then 'female' else 'male' end as sex
    from drawn, lists
    """,
    """
    create temp table teacher as
    with ids as (
        select
            t,
            t % $n_schools as j,
            mix($seed, 'teacher', t) as h,
            case when $night = 1 then mix($seed, 'night-teacher', t) % 10000 else 10000 end
                as u
        from range($n_teachers) r(t)
    )
    select
        ids.t,
        ids.j,
        fake_uuid(ids.h, mix(ids.t, 'teacher', $seed)) as source_id,
        'T' || (100000 + ids.t)::varchar as identifier,
        pick(lists.first_names, ids.h >> 10) as given_name,
        pick(lists.last_names, (ids.h >> 30) + case when ids.u < 100 then 1 else 0 end)
            as family_name,
        lower(left(pick(lists.first_names, ids.h >> 10), 1)
            || pick(lists.last_names, ids.h >> 30)) || (100000 + ids.t)::varchar as username,
        case when ids.u >= 100 and ids.u < 150
            then lower(pick(lists.first_names, ids.h >> 10) || '.'
                || pick(lists.last_names, ids.h >> 30))
            else lower(left(pick(lists.first_names, ids.h >> 10), 1)
                || pick(lists.last_names, ids.h >> 30))
        end || (100000 + ids.t)::varchar || '@staff.example.org' as email
    from ids, lists
    """,
    """
    create temp table section as
    select
        school.section_offset + m as k,
        school.j,
        m,
        fake_uuid(mix($seed, 'class', school.section_offset + m),
                  mix(school.section_offset + m, 'class', $seed)) as source_id,
        fake_uuid(mix($seed, 'course', school.j, m % len(lists.subjects)),
                  mix(m % len(lists.subjects), school.j, 'course', $seed)) as course_source_id,
        lists.subjects[1 + m % len(lists.subjects)] || ' ' || (m // len(lists.subjects) + 1)
            as title,
        'C' || school.identifier || '-' || lpad(m::varchar, 4, '0') as class_code,
        1 + m % 2 as term_ord,
        (1 + m % 7)::varchar as period,
        (m % school.n_teachers) * $n_schools + school.j as t
    from school, range(school.n_sections) r(m), lists
    """,
    """
    create temp table course as
    select
        school.j,
        c,
        fake_uuid(mix($seed, 'course', school.j, c), mix(c, school.j, 'course', $seed))
            as source_id,
        lists.subjects[1 + c] || ' (' || lists.band_names[school.band + 1] || ')' as title,
        upper(left(replace(lists.subjects[1 + c], ' ', ''), 4)) || '-' || school.identifier
            as course_code
    from school, range(school.n_courses) r(c), lists
    """,
)
