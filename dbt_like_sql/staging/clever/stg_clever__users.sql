-- one row per user. Role: student -> student, teacher -> educator, contact -> guardian,
-- school staff and district admins -> other. A user holding several Clever roles takes the
-- first of student, teacher, staff, district_admin, contact.
with api_users as (
    select
        id,
        data,
        _ext,
        _source_file,
        _source_row,
        case
            when json_exists(data, '$.roles.student') then 'student'
            when json_exists(data, '$.roles.teacher') then 'teacher'
            when json_exists(data, '$.roles.staff') then 'staff'
            when json_exists(data, '$.roles.district_admin') then 'district_admin'
            when json_exists(data, '$.roles.contact') then 'contact'
        end as clever_role
    from raw.clever_users
),

api_role_data as (
    select
        *,
        case clever_role
            when 'student' then data -> '$.roles.student'
            when 'teacher' then data -> '$.roles.teacher'
            when 'staff' then data -> '$.roles.staff'
            when 'district_admin' then data -> '$.roles.district_admin'
            when 'contact' then data -> '$.roles.contact'
        end as role_data
    from api_users
),

api_fields as (
    select
        *,
        coalesce(from_json(role_data -> '$.schools', '["varchar"]'), []) as listed_schools,
        nullif(trim(role_data ->> '$.school'), '') as primary_school,
        coalesce(role_data -> '$.ext.programs', data -> '$.ext.programs') as ext_programs,
        nullif(trim(role_data ->> '$.dob'), '') as dob
    from api_role_data
),

api_users_final as (
    select
        id as user_source_id,
        case clever_role
            when 'student' then 'student'
            when 'teacher' then 'educator'
            when 'contact' then 'guardian'
            else 'other'
        end as role,
        nullif(trim(role_data ->> '$.sis_id'), '') as sis_id,
        nullif(trim(role_data ->> '$.state_id'), '') as state_id,
        nullif(trim(role_data ->> '$.student_number'), '') as student_number,
        coalesce(
            nullif(trim(data ->> '$.email'), ''), nullif(trim(role_data ->> '$.email'), '')
        ) as email,
        nullif(trim(role_data ->> '$.credentials.district_username'), '') as username,
        nullif(trim(data ->> '$.name.first'), '') as first_name,
        nullif(trim(data ->> '$.name.middle'), '') as middle_name,
        nullif(trim(data ->> '$.name.last'), '') as last_name,
        coalesce(try_strptime(dob, '%m/%d/%Y'), try_strptime(dob, '%Y-%m-%d'))::date
            as birth_date,
        nullif(trim(role_data ->> '$.grade'), '') as grade_raw,
        case
            when primary_school is null then listed_schools
            else list_concat([primary_school], list_filter(listed_schools, lambda s: s != primary_school))
        end as school_source_ids,
        list_concat(
            list_filter([
                case when upper(role_data ->> '$.ell_status') in ('Y', 'YES', 'TRUE') then 'ELL' end,
                case when upper(role_data ->> '$.frl_status') in ('Y', 'YES', 'TRUE', 'F', 'R', 'FREE', 'REDUCED') then 'FRL' end,
                case when upper(role_data ->> '$.iep_status') in ('Y', 'YES', 'TRUE') then 'IEP' end,
                case when upper(role_data ->> '$.section_504_status') in ('Y', 'YES', 'TRUE') then '504' end,
                case when upper(role_data ->> '$.gifted_status') in ('Y', 'YES', 'TRUE') then 'Gifted' end
            ], lambda p: p is not null),
            case json_type(ext_programs)
                when 'ARRAY' then from_json(ext_programs, '["varchar"]')
                when 'VARCHAR' then list_filter(
                    list_transform(string_split(ext_programs ->> '$', ','), lambda p: trim(p)),
                    lambda p: p != ''
                )
                else []::varchar[]
            end
        ) as program_names,
        coalesce(try_cast(_ext ->> '$.deleted' as boolean), false) as is_deleted,
        _source_file as source_file,
        _source_row as source_row
    from api_fields
),

csv_people as (
    select
        "Student_id" as person_id, 'student' as role, "School_id" as school_id,
        "Student_id" as sis_id, "State_id" as state_id, "Student_number" as student_number,
        "Student_email" as email, "Username" as username, "First_name" as first_name,
        "Middle_name" as middle_name, "Last_name" as last_name, "DOB" as dob,
        "Grade" as grade_raw,
        list_filter([
            case when upper("Ell_status") in ('Y', 'YES', 'TRUE') then 'ELL' end,
            case when upper("Frl_status") in ('Y', 'YES', 'TRUE', 'F', 'R', 'FREE', 'REDUCED') then 'FRL' end,
            case when upper("IEP_status") in ('Y', 'YES', 'TRUE') then 'IEP' end,
            case when upper("Section_504_status") in ('Y', 'YES', 'TRUE') then '504' end,
            case when upper("Gifted_status") in ('Y', 'YES', 'TRUE') then 'Gifted' end
        ], lambda p: p is not null) as program_names,
        _source_file, _source_row
    from raw.clever_csv_students
    union all by name
    select
        "Teacher_id" as person_id, 'educator' as role, "School_id" as school_id,
        "Teacher_id" as sis_id, "State_teacher_id" as state_id, null as student_number,
        "Teacher_email" as email, "Username" as username, "First_name" as first_name,
        "Middle_name" as middle_name, "Last_name" as last_name, null as dob,
        null as grade_raw, []::varchar[] as program_names, _source_file, _source_row
    from raw.clever_csv_teachers
    union all by name
    select
        "Staff_id" as person_id, 'other' as role, "School_id" as school_id,
        "Staff_id" as sis_id, null as state_id, null as student_number,
        "Staff_email" as email, "Username" as username, "First_name" as first_name,
        null as middle_name, "Last_name" as last_name, null as dob,
        null as grade_raw, []::varchar[] as program_names, _source_file, _source_row
    from raw.clever_csv_staff
),

csv_users_grouped as (
    -- a person listed at several schools has one row per school in the file
    select
        nullif(trim(person_id), '') as user_source_id,
        role,
        nullif(trim(arg_min(sis_id, _source_row)), '') as sis_id,
        nullif(trim(arg_min(state_id, _source_row)), '') as state_id,
        nullif(trim(arg_min(student_number, _source_row)), '') as student_number,
        nullif(trim(arg_min(email, _source_row)), '') as email,
        nullif(trim(arg_min(username, _source_row)), '') as username,
        nullif(trim(arg_min(first_name, _source_row)), '') as first_name,
        nullif(trim(arg_min(middle_name, _source_row)), '') as middle_name,
        nullif(trim(arg_min(last_name, _source_row)), '') as last_name,
        coalesce(
            try_strptime(trim(arg_min(dob, _source_row)), '%m/%d/%Y'),
            try_strptime(trim(arg_min(dob, _source_row)), '%Y-%m-%d')
        )::date as birth_date,
        nullif(trim(arg_min(grade_raw, _source_row)), '') as grade_raw,
        list(nullif(trim(school_id), '') order by _source_row)
            filter (where nullif(trim(school_id), '') is not null) as schools_in_order,
        arg_min(program_names, _source_row) as program_names,
        false as is_deleted,
        arg_min(_source_file, _source_row) as source_file,
        min(_source_row) as source_row
    from csv_people
    group by person_id, role
),

csv_users_final as (
    select
        * exclude (schools_in_order),
        list_filter(
            coalesce(schools_in_order, []::varchar[]),
            lambda s, i: list_position(schools_in_order, s) = i
        ) as school_source_ids
    from csv_users_grouped
),

final as (
    select * from api_users_final
    union all by name
    select * from csv_users_final
)

select
    user_source_id,
    role,
    sis_id,
    state_id,
    student_number,
    email,
    username,
    first_name,
    middle_name,
    last_name,
    birth_date,
    grade_raw,
    school_source_ids,
    program_names,
    is_deleted,
    source_file,
    source_row
from final
