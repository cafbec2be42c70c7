"""The SQL behind :mod:`rostersync_pipeline.lib.synthetic`: build tables, plant problems, export.

Every value is a function of ``hash(seed, kind, index)``; nothing reads the clock or a random
generator, so the same parameters give the same bytes. Values enter SQL as bound parameters.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from rostersync_pipeline.lib.synthetic_problems import (
    UNMAPPED_GRADE_VALUE,
    DemoProblems,
    ProblemChoice,
    SeededProblem,
)

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
        fake_uuid(drawn.h, mix(drawn.i, 'student', $seed)) as source_id,
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

ENROLLMENTS = """
with student_slots as (
    select
        student.i,
        student.source_id,
        student.j,
        e,
        school.section_offset + (
            student.r * $per_student + e
            + case when e = 0 and student.night_change = 'enrollment'
                and school.n_sections > $per_student then $per_student else 0 end
        ) % school.n_sections as k
    from student
    join school on school.j = student.j,
    range(least($per_student, school.n_sections)) r(e)
)
select
    fake_uuid(mix($seed, 'enrollment', slots.source_id, slots.k),
              mix(slots.k, slots.source_id, $seed)) as sourcedId,
    null::varchar as status,
    null::varchar as dateLastModified,
    section.source_id as classSourcedId,
    school.source_id as schoolSourcedId,
    slots.source_id as userSourcedId,
    'student' as role,
    'false' as "primary",
    null::varchar as beginDate,
    null::varchar as endDate,
    0 as ord_kind,
    slots.i as ord_1,
    slots.e as ord_2
from student_slots slots
join section on section.k = slots.k
join school on school.j = slots.j
union all
select
    fake_uuid(mix($seed, 'enrollment', teacher.source_id, section.k),
              mix(section.k, teacher.source_id, $seed)),
    null, null, section.source_id, school.source_id, teacher.source_id, 'teacher', 'true',
    null, null, 1, section.k, 0
from section
join teacher on teacher.t = section.t
join school on school.j = section.j
"""

_NO_STATUS = "null::varchar as status, null::varchar as dateLastModified"

EXPORTS: dict[str, str] = {
    "orgs": f"""
        select sourcedId, {_NO_STATUS}, name, type, identifier, parentSourcedId from (
            select -1 as ord, source_id as sourcedId, name, 'district' as type, identifier,
                null::varchar as parentSourcedId
            from district
            union all
            select school.j, school.source_id, school.name, 'school', school.identifier,
                district.source_id
            from school, district
        ) order by ord
    """,
    "academicSessions": f"""
        select session.source_id as sourcedId, {_NO_STATUS}, session.title, session.type,
            session.start_date as startDate, session.end_date as endDate,
            parent.source_id as parentSourcedId, '2026' as schoolYear
        from session left join session parent on parent.ord = session.parent_ord
        order by session.ord
    """,
    "courses": f"""
        select course.source_id as sourcedId, {_NO_STATUS},
            (select source_id from session where ord = 0) as schoolYearSourcedId,
            course.title, course.course_code as courseCode, null::varchar as grades,
            school.source_id as orgSourcedId, null::varchar as subjects,
            null::varchar as subjectCodes
        from course join school on school.j = course.j
        order by course.j, course.c
    """,
    "classes": f"""
        select section.source_id as sourcedId, {_NO_STATUS}, section.title,
            null::varchar as grades, section.course_source_id as courseSourcedId,
            section.class_code as classCode, 'scheduled' as classType,
            null::varchar as location, school.source_id as schoolSourcedId,
            session.source_id as termSourcedIds, null::varchar as subjects,
            null::varchar as subjectCodes, section.period as periods
        from section
        join school on school.j = section.j
        join session on session.ord = section.term_ord
        order by section.k
    """,
    "users": f"""
        select sourcedId, {_NO_STATUS}, 'true' as enabledUser, orgSourcedIds, role, username,
            null::varchar as userIds, givenName, familyName, null::varchar as middleName,
            identifier, email, null::varchar as sms, null::varchar as phone,
            null::varchar as agentSourcedIds, grades, null::varchar as password
        from (
            select 0 as ord_kind, student.i as ord, student.source_id as sourcedId,
                school.source_id as orgSourcedIds, 'student' as role, student.username,
                student.given_name as givenName, student.family_name as familyName,
                student.identifier, student.email, student.grade as grades
            from student join school on school.j = student.j
            union all
            select 1, teacher.t, teacher.source_id, school.source_id, 'teacher',
                teacher.username, teacher.given_name, teacher.family_name, teacher.identifier,
                teacher.email, null
            from teacher join school on school.j = teacher.j
        ) order by ord_kind, ord
    """,
    "demographics": f"""
        select source_id as sourcedId, {_NO_STATUS}, birth_date as birthDate, sex
        from student order by i
    """,
    "enrollments": f"""
        select sourcedId, status, dateLastModified, classSourcedId, schoolSourcedId,
            userSourcedId, role, "primary", beginDate, endDate
        from ({ENROLLMENTS}) order by ord_kind, ord_1, ord_2
    """,
}


def copy_to_csv(
    con: duckdb.DuckDBPyConnection, query: str, path: Path, params: dict
) -> int:
    """Write one bundle file; returns the rows written."""
    rows = run(
        con,
        f"copy ({query}) to $path (format csv, header true, delimiter ',')",
        {**params, "path": str(path)},
    )
    return int(rows[0][0]) if rows else 0


def counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    row = con.execute(
        """
        select
            (select count(*) from student),
            (select count(*) from teacher),
            (select count(*) from school),
            (select count(*) from section),
            (select count(*) from course),
            (select count(*) from session)
        """
    ).fetchall()[0]
    keys = ("students", "teachers", "schools", "sections", "courses", "academic_sessions")
    return dict(zip(keys, (int(v) for v in row), strict=True))


def night_changes(con: duckdb.DuckDBPyConnection, params: dict) -> dict[str, int]:
    rows = run(
        con,
        """
        select
            $n - count(*) filter (where i < $n) as dropped,
            count(*) filter (where night_change = 'new') as added,
            count(*) filter (where night_change = 'family_name') as family_name,
            count(*) filter (where night_change = 'email') as email,
            count(*) filter (where night_change = 'grade') as grade,
            count(*) filter (where night_change = 'enrollment') as enrollment
        from student
        """,
        params,
    )
    keys = ("dropped", "added", "family_name", "email", "grade", "enrollment")
    return dict(zip(keys, (int(v) for v in rows[0]), strict=True))


PROBLEM_CANDIDATES = """
select i
from student
where night_band is null and j <> $school
order by mix($seed, 'problem', i), i
limit 64
"""


def plant_problems(
    con: duckdb.DuckDBPyConnection, choice: ProblemChoice, params: dict
) -> DemoProblems:
    """Apply the chosen problems to the built tables and describe them."""
    seed = params["seed"]
    student_sql = (
        "select i, source_id, identifier, email, given_name || ' ' || family_name "
        "from student where list_contains($ids::bigint[], i) order by i"
    )
    before = {row[0]: row for row in run(con, student_sql, {"ids": list(choice.rotated)})}
    run(
        con,
        "update student set "
        "source_id = fake_uuid(mix($seed, 'student-rotated', i), mix(i, 'rotated', $seed)), "
        "identifier = (9000000 + i)::varchar "
        "where list_contains($ids::bigint[], i)",
        {"seed": seed, "ids": list(choice.rotated)},
    )
    for first, second in choice.shared_pairs:
        run(
            con,
            "update student set email = (select email from student where i = $first) "
            "where i = $second",
            {"first": first, "second": second},
        )
    run(con, "update student set family_name = null where list_contains($ids::bigint[], i)",
        {"ids": list(choice.missing_value)})
    run(con, "update student set grade = $grade where list_contains($ids::bigint[], i)",
        {"ids": list(choice.unmapped_grade), "grade": UNMAPPED_GRADE_VALUE})
    school_before = run(
        con, "select source_id, identifier, name from school where j = $j", {"j": choice.school}
    )[0]
    run(
        con,
        "update school set "
        "source_id = fake_uuid(mix($seed, 'org-renamed', j), mix(j, 'renamed', $seed)), "
        "identifier = 'X' || identifier, "
        "name = (select pick(places, j) || ' ' || band_abbreviations[band + 1] from lists) "
        "where j = $j",
        {"seed": seed, "j": choice.school},
    )
    school_after = run(
        con, "select source_id, identifier, name from school where j = $j", {"j": choice.school}
    )[0]

    def students_of(ids: tuple[int, ...]) -> list[tuple]:
        return run(con, student_sql, {"ids": list(ids)})

    problems: list[SeededProblem] = []
    for i, source_id, sis_id, email, name in students_of(choice.rotated):
        problems.append(SeededProblem(
            "rotated_id", "student", source_id, sis_id, "email", email, None, name,
            app_source_id=before[i][1], app_sis_id=before[i][2],
        ))
    pair_ids = tuple(i for pair in choice.shared_pairs for i in pair)
    for _, source_id, sis_id, email, name in students_of(pair_ids):
        problems.append(SeededProblem(
            "shared_email", "student", source_id, sis_id, "email", email,
            "DUPLICATE_EMAIL_ADDRESS", name,
        ))
    missing_sql = student_sql.replace("given_name || ' ' || family_name", "given_name")
    for _, source_id, sis_id, _, name in run(con, missing_sql, {"ids": list(choice.missing_value)}):
        problems.append(SeededProblem(
            "missing_value", "student", source_id, sis_id, "last_name", "",
            "VALUE_NOT_SPECIFIED", name,
        ))
    problems.append(SeededProblem(
        "unknown_school", "school", school_after[0], school_after[1], "name", school_after[2],
        "SCHOOL_NOT_MATCHED", school_after[2],
        app_source_id=school_before[0], app_sis_id=school_before[1], app_name=school_before[2],
    ))
    for _, source_id, sis_id, _, name in students_of(choice.unmapped_grade):
        problems.append(SeededProblem(
            "unmapped_grade", "student", source_id, sis_id, "grade", UNMAPPED_GRADE_VALUE,
            "INVALID_GRADE", name,
        ))
    return DemoProblems(seed=seed, students=params["n"], problems=tuple(problems))
