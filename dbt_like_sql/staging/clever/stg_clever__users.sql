-- one row per user. Role: student -> student, teacher -> educator, contact -> guardian,
-- school staff and district admins -> other. A user holding several Clever roles takes the
-- first of student, teacher, staff, district_admin, contact; a user holding none of them is an
-- invalid value (role 'other'). Birth dates are read by rs_date (kind 'birth'); the ELL / FRL
-- / IEP / 504 / gifted flags by rs_boolean (FRL also free / reduced / paid). program_names are
-- the flags' programs and ext.programs (the API's list or comma-separated text, the CSV's
-- ext.programs column), sorted, as every provider lists them. Clever CSV contacts
-- (students.csv Contact_* columns) are guardians too (csv_contacts).
with run_date as (
    select started_at::date as today from config.run
),

api_users as (
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
        end as clever_role,
        -- every Clever role the user holds, in the same order
        list_filter([
            case when json_exists(data, '$.roles.student') then 'student' end,
            case when json_exists(data, '$.roles.teacher') then 'teacher' end,
            case when json_exists(data, '$.roles.staff') then 'staff' end,
            case when json_exists(data, '$.roles.district_admin') then 'district_admin' end,
            case when json_exists(data, '$.roles.contact') then 'contact' end
        ], lambda r: r is not null) as source_roles
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
        api_role_data.*,
        coalesce(from_json(role_data -> '$.schools', '["varchar"]'), []) as listed_schools,
        nullif(trim(role_data ->> '$.school'), '') as primary_school,
        coalesce(role_data -> '$.ext.programs', data -> '$.ext.programs') as ext_programs,
        role_data ->> '$.dob' as dob,
        role_data ->> '$.ell_status' as ell,
        role_data ->> '$.frl_status' as frl,
        role_data ->> '$.iep_status' as iep,
        role_data ->> '$.section_504_status' as section_504,
        role_data ->> '$.gifted_status' as gifted,
        run_date.today
    from api_role_data
    cross join run_date
),

api_read as (
    select
        *,
        rs_date(dob, 'birth', today) as dob_read,
        rs_boolean(ell) as ell_read,
        rs_frl(frl) as frl_read,
        rs_boolean(iep) as iep_read,
        rs_boolean(section_504) as section_504_read,
        rs_boolean(gifted) as gifted_read,
        case
            when ext_programs is null or json_type(ext_programs) = 'NULL' then []::varchar[]
            when json_type(ext_programs) = 'ARRAY' then from_json(ext_programs, '["varchar"]')
            when json_type(ext_programs) = 'VARCHAR' then list_filter(
                list_transform(string_split(ext_programs ->> '$', ','), lambda p: trim(p)),
                lambda p: p != ''
            )
        end as ext_program_list
    from api_fields
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
        source_roles,
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
        dob_read.value as birth_date,
        nullif(trim(role_data ->> '$.grade'), '') as grade_raw,
        case
            when primary_school is null then listed_schools
            else list_concat([primary_school], list_filter(listed_schools, lambda s: s != primary_school))
        end as school_source_ids,
        -- a contact's students (roles.contact.student_relationships), each with its relationship
        list_transform(
            list_filter(
                coalesce(from_json(
                    role_data -> '$.student_relationships',
                    '[{"student": "varchar", "relationship": "varchar"}]'
                ), []),
                lambda r: nullif(trim(r.student), '') is not null
            ),
            lambda r: {'user_source_id': trim(r.student), 'relationship': nullif(trim(r.relationship), '')}
        ) as relationships,
        rs_clever_programs(
            ell_read.value, frl_read.value, iep_read.value, section_504_read.value,
            gifted_read.value, ext_program_list
        ) as program_names,
        coalesce(try_cast(_ext ->> '$.deleted' as boolean), false) as is_deleted,
        list_filter([
            rs_invalid_value(
                'role', array_to_string(json_keys(data -> '$.roles'), ', '),
                case when clever_role is null
                    then 'not a Clever role: rostersync reads student, teacher, staff, '
                        || 'district_admin, contact' end,
                _source_file, _source_row
            ),
            rs_invalid_value('birth_date', dob, dob_read.problem, _source_file, _source_row),
            rs_invalid_value('ell_status', ell, ell_read.problem, _source_file, _source_row),
            rs_invalid_value('frl_status', frl, frl_read.problem, _source_file, _source_row),
            rs_invalid_value('iep_status', iep, iep_read.problem, _source_file, _source_row),
            rs_invalid_value(
                'section_504_status', section_504, section_504_read.problem,
                _source_file, _source_row
            ),
            rs_invalid_value('gifted_status', gifted, gifted_read.problem, _source_file, _source_row),
            rs_invalid_value(
                'programs', ext_programs::varchar,
                case when ext_program_list is null
                    then 'not a list of program names (a JSON list or a comma-separated text)' end,
                _source_file, _source_row
            )
        ], lambda p: p.reason is not null) as invalid_values,
        _source_file as source_file,
        _source_row as source_row
    from api_read
),

csv_people as (
    select
        "Student_id" as person_id, 'student' as role, 'student' as source_role,
        "School_id" as school_id,
        "Student_id" as sis_id, "State_id" as state_id, "Student_number" as student_number,
        "Student_email" as email, "Username" as username, "First_name" as first_name,
        "Middle_name" as middle_name, "Last_name" as last_name, "DOB" as dob,
        "Grade" as grade_raw, "Ell_status" as ell, "Frl_status" as frl, "IEP_status" as iep,
        "Section_504_status" as section_504, "Gifted_status" as gifted,
        _ext ->> '$."ext.programs"' as programs_raw, _source_file, _source_row
    from raw.clever_csv_students
    union all by name
    select
        "Teacher_id" as person_id, 'educator' as role, 'teacher' as source_role,
        "School_id" as school_id,
        "Teacher_id" as sis_id, "State_teacher_id" as state_id, null as student_number,
        "Teacher_email" as email, "Username" as username, "First_name" as first_name,
        "Middle_name" as middle_name, "Last_name" as last_name, null as dob,
        null as grade_raw, null as ell, null as frl, null as iep, null as section_504,
        null as gifted, null as programs_raw, _source_file, _source_row
    from raw.clever_csv_teachers
    union all by name
    select
        "Staff_id" as person_id, 'other' as role, 'staff' as source_role,
        "School_id" as school_id,
        "Staff_id" as sis_id, null as state_id, null as student_number,
        "Staff_email" as email, "Username" as username, "First_name" as first_name,
        null as middle_name, "Last_name" as last_name, null as dob,
        null as grade_raw, null as ell, null as frl, null as iep, null as section_504,
        null as gifted, null as programs_raw, _source_file, _source_row
    from raw.clever_csv_staff
),

csv_trimmed as (
    select
        nullif(trim(person_id), '') as user_source_id,
        role,
        source_role,
        nullif(trim(school_id), '') as school_id,
        nullif(trim(sis_id), '') as sis_id,
        nullif(trim(state_id), '') as state_id,
        nullif(trim(student_number), '') as student_number,
        nullif(trim(email), '') as email,
        nullif(trim(username), '') as username,
        nullif(trim(first_name), '') as first_name,
        nullif(trim(middle_name), '') as middle_name,
        nullif(trim(last_name), '') as last_name,
        nullif(trim(dob), '') as dob,
        nullif(trim(grade_raw), '') as grade_raw,
        nullif(trim(ell), '') as ell,
        nullif(trim(frl), '') as frl,
        nullif(trim(iep), '') as iep,
        nullif(trim(section_504), '') as section_504,
        nullif(trim(gifted), '') as gifted,
        nullif(trim(programs_raw), '') as programs_raw,
        _source_file,
        _source_row
    from csv_people
),

csv_users_grouped as (
    -- a person listed at several schools has one row per school in the file, the same data
    -- on each: one user. Rows of one person that differ in anything but the school stay apart
    -- (DUPLICATE_SOURCE_ID downstream), each at its first row.
    select
        user_source_id, role, source_role, sis_id, state_id, student_number, email, username,
        first_name,
        middle_name, last_name, dob, grade_raw, ell, frl, iep, section_504, gifted,
        programs_raw,
        list(school_id order by _source_row) filter (where school_id is not null)
            as schools_in_order,
        arg_min(_source_file, _source_row) as source_file,
        min(_source_row) as source_row
    from csv_trimmed
    group by all
),

csv_read as (
    select
        csv_users_grouped.*,
        rs_date(dob, 'birth', run_date.today) as dob_read,
        rs_boolean(ell) as ell_read,
        rs_frl(frl) as frl_read,
        rs_boolean(iep) as iep_read,
        rs_boolean(section_504) as section_504_read,
        rs_boolean(gifted) as gifted_read
    from csv_users_grouped
    cross join run_date
),

csv_users_final as (
    select
        user_source_id,
        role,
        [source_role] as source_roles,
        sis_id,
        state_id,
        student_number,
        email,
        username,
        first_name,
        middle_name,
        last_name,
        dob_read.value as birth_date,
        grade_raw,
        rs_distinct_in_order(coalesce(schools_in_order, []::varchar[])) as school_source_ids,
        -- a student's contacts list the student (csv_contacts_final)
        []::struct(user_source_id varchar, relationship varchar)[] as relationships,
        rs_clever_programs(
            ell_read.value, frl_read.value, iep_read.value, section_504_read.value,
            gifted_read.value,
            list_transform(string_split(coalesce(programs_raw, ''), ','), lambda p: trim(p))
        ) as program_names,
        false as is_deleted,
        list_filter([
            rs_invalid_value('birth_date', dob, dob_read.problem, source_file, source_row),
            rs_invalid_value('ell_status', ell, ell_read.problem, source_file, source_row),
            rs_invalid_value('frl_status', frl, frl_read.problem, source_file, source_row),
            rs_invalid_value('iep_status', iep, iep_read.problem, source_file, source_row),
            rs_invalid_value(
                'section_504_status', section_504, section_504_read.problem,
                source_file, source_row
            ),
            rs_invalid_value('gifted_status', gifted, gifted_read.problem, source_file, source_row)
        ], lambda p: p.reason is not null) as invalid_values,
        source_file,
        source_row
    from csv_read
),

csv_contacts as (
    -- students.csv names at most one contact per row (Contact_* columns; a student with two
    -- contacts is on two rows). The contact is a guardian: its id is Contact_sis_id, or without
    -- one 'contact:' and the md5 of its lower-cased name, email and phone, so that siblings'
    -- rows naming the same person give one guardian. Clever keeps a contact's full name in
    -- last_name (as its API does); Contact_type and phones are not imported.
    select
        coalesce(
            nullif(trim("Contact_sis_id"), ''),
            'contact:' || md5(concat_ws('|', lower(trim(coalesce("Contact_name", ''))),
                                        lower(trim(coalesce("Contact_email", ''))),
                                        trim(coalesce("Contact_phone", ''))))
        ) as user_source_id,
        nullif(trim("Contact_sis_id"), '') as sis_id,
        nullif(trim("Contact_email"), '') as email,
        nullif(trim("Contact_name"), '') as last_name,
        nullif(trim("School_id"), '') as school_id,
        nullif(trim("Student_id"), '') as student_id,
        nullif(trim("Contact_relationship"), '') as relationship,
        _source_file,
        _source_row
    from raw.clever_csv_students
    where coalesce(nullif(trim("Contact_name"), ''), nullif(trim("Contact_sis_id"), ''),
                   nullif(trim("Contact_email"), '')) is not null
),

csv_contacts_final as (
    -- one guardian per contact id; its students (with the relationship each row names) are
    -- its relationships. Rows of one contact id that disagree keep the first row's values.
    select
        user_source_id,
        'guardian' as role,
        ['contact'] as source_roles,
        arg_min(sis_id, _source_row) as sis_id,
        null::varchar as state_id,
        null::varchar as student_number,
        arg_min(email, _source_row) as email,
        null::varchar as username,
        null::varchar as first_name,
        null::varchar as middle_name,
        arg_min(last_name, _source_row) as last_name,
        null::date as birth_date,
        null::varchar as grade_raw,
        rs_distinct_in_order(coalesce(
            list(school_id order by _source_row) filter (where school_id is not null),
            []::varchar[])) as school_source_ids,
        coalesce(list(distinct {'user_source_id': student_id, 'relationship': relationship})
                     filter (where student_id is not null),
                 []::struct(user_source_id varchar, relationship varchar)[]) as relationships,
        []::varchar[] as program_names,
        false as is_deleted,
        rs_no_invalid_values() as invalid_values,
        arg_min(_source_file, _source_row) as source_file,
        min(_source_row) as source_row
    from csv_contacts
    group by user_source_id
),

final as (
    select * from api_users_final
    union all by name
    select * from csv_users_final
    union all by name
    select * from csv_contacts_final
)

select
    user_source_id,
    role,
    source_roles,
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
    case when grade_raw is null then []::varchar[] else [grade_raw] end as grade_values,
    school_source_ids,
    relationships,
    program_names,
    is_deleted,
    invalid_values,
    source_file,
    source_row
from final
