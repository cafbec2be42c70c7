"""The bundle files of a synthetic district: one ``copy (select ...) to`` per CSV file.

Reads the temp tables :mod:`rostersync_pipeline.demo.district_sql` builds; enrollments are
streamed from a join (7 per student plus one per section) and never materialized.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from rostersync_pipeline.demo.district_sql import run

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
            agentSourcedIds, grades, null::varchar as password
        from (
            select 0 as ord_kind, student.i as ord, student.source_id as sourcedId,
                school.source_id as orgSourcedIds, 'student' as role, student.username,
                student.given_name as givenName, student.family_name as familyName,
                student.identifier, student.email, student.grade as grades,
                null::varchar as agentSourcedIds
            from student join school on school.j = student.j
            union all
            -- every fourth student's parent, also the parent of the next student of the school
            -- (siblings share one guardian)
            select 2, student.i,
                fake_uuid(mix($seed, 'guardian', student.i), mix(student.i, 'guardian', $seed)),
                school.source_id, 'parent', null,
                pick(lists.first_names, mix($seed, 'guardian-name', student.i)),
                student.base_family_name, 'G' || (1000000 + student.i)::varchar,
                lower(pick(lists.first_names, mix($seed, 'guardian-name', student.i)) || '.'
                    || student.base_family_name) || (1000000 + student.i)::varchar
                    || '@family.example.org',
                null, student.source_id || coalesce(',' || sibling.source_id, '')
            from student
            join school on school.j = student.j
            left join student as sibling on sibling.i = student.i + $n_schools
            cross join lists
            where student.r % 4 = 0
            union all
            -- the first teacher also works in the next school (a teacher in two schools)
            select 1, teacher.t, teacher.source_id,
                school.source_id || coalesce(',' || case when teacher.t = 0 then (
                    select other.source_id from school as other where other.j = 1
                ) end, ''),
                'teacher', teacher.username, teacher.given_name, teacher.family_name,
                teacher.identifier, teacher.email, null, null
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
            (select count(*) from session),
            (select count(*) from student where r % 4 = 0)
        """
    ).fetchall()[0]
    keys = ("students", "teachers", "schools", "sections", "courses", "academic_sessions",
            "guardians")
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
            count(*) filter (where night_change = 'enrollment') as enrollment,
            count(*) filter (where night_change = 'id_rotation') as id_rotation
        from student
        """,
        params,
    )
    keys = ("dropped", "added", "family_name", "email", "grade", "enrollment", "id_rotation")
    return dict(zip(keys, (int(v) for v in rows[0]), strict=True))
