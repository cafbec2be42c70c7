-- one row per (class, person, role): the rows of enrollments.csv, and each class's teacher_sis_id
-- of classes.csv (role teacher, primary) unless enrollments.csv lists that teacher in that class
-- itself. The CSV import has no enrollment ID: the key is class:person:role, as for Clever.
-- Role: student; teacher, educator, aide -> teacher; an empty role is the person's in
-- people.csv (a student: student, an educator: teacher; a person people.csv does not list:
-- student, so that ORPHAN_ENROLLMENT names the missing person). Any other role, or an empty one
-- whose person people.csv lists but not as one student or educator, is an invalid value (role
-- 'other': the enrollment is not imported). An empty school_id is the class's school.
with person_roles as (
    -- each person's role in people.csv, when the person has one role there
    select
        nullif(trim(sis_id), '') as user_source_id,
        case when count(distinct lower(trim(role))) = 1 then min(lower(trim(role))) end
            as person_role,
        true as is_listed
    from raw.csv_import_users
    group by 1
),

class_rows as (
    select
        nullif(trim(class_id), '') as section_source_id,
        nullif(trim(school_id), '') as school_source_id,
        nullif(trim(teacher_sis_id), '') as teacher_source_id,
        _source_file,
        _source_row
    from raw.csv_import_classes
),

class_schools as (
    select
        section_source_id,
        arg_min(school_source_id, _source_row) as school_source_id,
        arg_min(teacher_source_id, _source_row) as teacher_source_id
    from class_rows
    group by section_source_id
),

listed as (
    select
        nullif(trim(enrollments.class_id), '') as section_source_id,
        nullif(trim(enrollments.person_sis_id), '') as user_source_id,
        coalesce(nullif(trim(enrollments.school_id), ''), class_schools.school_source_id)
            as school_source_id,
        enrollments.role as role_value,
        lower(trim(coalesce(enrollments.role, ''))) as role_text,
        person_roles.person_role,
        coalesce(person_roles.is_listed, false) as person_is_listed,
        class_schools.teacher_source_id,
        enrollments."primary" as primary_value,
        rs_boolean(enrollments."primary") as primary_read,
        enrollments._source_file,
        enrollments._source_row
    from raw.csv_import_enrollments as enrollments
    left join class_schools
        on class_schools.section_source_id = nullif(trim(enrollments.class_id), '')
    left join person_roles
        on person_roles.user_source_id = nullif(trim(enrollments.person_sis_id), '')
),

listed_roles as (
    select
        *,
        case
            when role_text = 'student' then 'student'
            when role_text in ('teacher', 'educator', 'aide') then 'teacher'
            when role_text <> '' then 'other'
            when person_role = 'student' then 'student'
            when person_role in ('teacher', 'educator', 'aide') then 'teacher'
            when not person_is_listed then 'student'
            else 'other'
        end as role
    from listed
),

listed_final as (
    select
        section_source_id,
        user_source_id,
        school_source_id,
        role,
        coalesce(
            primary_read.value,
            case when role = 'teacher' and user_source_id = teacher_source_id then true end
        ) as is_primary,
        list_filter([
            rs_invalid_value(
                'role', role_value,
                case
                    when role_text <> '' and role = 'other'
                        then 'not a CSV import enrollment role: rostersync reads student, and '
                            || 'teacher, educator, aide (as teacher)'
                    when role_text = '' and role = 'other'
                        then 'the enrollment has no role, and people.csv lists its person '
                            || 'neither as a student nor as an educator'
                end,
                _source_file, _source_row
            ),
            rs_invalid_value('primary', primary_value, primary_read.problem, _source_file, _source_row)
        ], lambda p: p.reason is not null) as invalid_values,
        _source_file,
        _source_row
    from listed_roles
),

class_teachers as (
    -- a class's teacher_sis_id, unless enrollments.csv lists that teacher in the class
    select
        class_rows.section_source_id,
        class_rows.teacher_source_id as user_source_id,
        class_rows.school_source_id,
        'teacher' as role,
        true as is_primary,
        rs_no_invalid_values() as invalid_values,
        class_rows._source_file,
        class_rows._source_row
    from class_rows
    anti join listed_roles
        on listed_roles.section_source_id = class_rows.section_source_id
        and listed_roles.user_source_id = class_rows.teacher_source_id
        and listed_roles.role = 'teacher'
    where class_rows.teacher_source_id is not null
),

final as (
    select * from listed_final
    union all by name
    select * from class_teachers
)

select
    section_source_id || ':' || user_source_id || ':' || role as enrollment_source_id,
    section_source_id,
    user_source_id,
    school_source_id,
    role,
    is_primary,
    false as is_deleted,
    invalid_values,
    _source_file as source_file,
    _source_row as source_row
from final
