-- one row per (section, user, role). Clever has no enrollment ID: the key is
-- section_source_id || ':' || user_source_id || ':' || role. API enrollments come from each
-- section's students[] / teachers[], CSV ones from enrollments.csv (students) and the
-- Teacher_id .. Teacher_10_id columns of sections.csv (teachers). is_primary: the teacher is
-- the section's primary teacher (API `teacher`, CSV `Teacher_id`); NULL for students.
with api_sections as (
    select
        id as section_source_id,
        nullif(trim(data ->> '$.school'), '') as school_source_id,
        nullif(trim(data ->> '$.teacher'), '') as primary_teacher_id,
        coalesce(from_json(data -> '$.students', '["varchar"]'), []) as student_ids,
        coalesce(from_json(data -> '$.teachers', '["varchar"]'), []) as teacher_ids,
        coalesce(try_cast(_ext ->> '$.deleted' as boolean), false) as is_deleted,
        _source_file,
        _source_row
    from raw.clever_sections
),

api_students as (
    select
        section_source_id, school_source_id, unnest(student_ids) as user_source_id,
        'student' as role, null::boolean as is_primary, is_deleted, _source_file, _source_row
    from api_sections
),

api_teachers as (
    select
        section_source_id, school_source_id, unnest(teacher_ids) as user_source_id,
        'teacher' as role, primary_teacher_id, is_deleted, _source_file, _source_row
    from api_sections
),

api_members as (
    select * from api_students
    union all by name
    select
        * exclude (primary_teacher_id),
        user_source_id = primary_teacher_id as is_primary
    from api_teachers
),

csv_students as (
    select
        nullif(trim("Section_id"), '') as section_source_id,
        nullif(trim("School_id"), '') as school_source_id,
        nullif(trim("Student_id"), '') as user_source_id,
        'student' as role,
        null::boolean as is_primary,
        false as is_deleted,
        _source_file,
        _source_row
    from raw.clever_csv_enrollments
),

csv_teachers as (
    select
        nullif(trim("Section_id"), '') as section_source_id,
        nullif(trim("School_id"), '') as school_source_id,
        nullif(trim(teacher_id), '') as user_source_id,
        'teacher' as role,
        teacher_column = 'Teacher_id' as is_primary,
        false as is_deleted,
        _source_file,
        _source_row
    from (
        unpivot raw.clever_csv_sections
        on "Teacher_id", "Teacher_2_id", "Teacher_3_id", "Teacher_4_id", "Teacher_5_id",
            "Teacher_6_id", "Teacher_7_id", "Teacher_8_id", "Teacher_9_id", "Teacher_10_id"
        into name teacher_column value teacher_id
    )
    where nullif(trim(teacher_id), '') is not null
),

final as (
    select * from api_members
    union all by name
    select * from csv_students
    union all by name
    select * from csv_teachers
)

select
    section_source_id || ':' || user_source_id || ':' || role as enrollment_source_id,
    section_source_id,
    user_source_id,
    school_source_id,
    role,
    is_primary,
    is_deleted,
    rs_no_invalid_values() as invalid_values,
    _source_file as source_file,
    _source_row as source_row
from final
