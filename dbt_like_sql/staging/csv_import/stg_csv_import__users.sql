-- one row per person of people.csv. A person listed at several schools (one row per school, the
-- same data otherwise) is one user, first school primary; rows of one person that differ in
-- anything but the school stay apart (DUPLICATE_SOURCE_ID downstream). sis_id is the source id.
-- Role: student -> student; teacher, educator, aide -> educator; guardian, parent, contact ->
-- guardian; staff, administrator -> other (not imported); any other role, or none, is an
-- invalid value (role 'other'). Birth dates are read by rs_date (kind 'birth'), the ELL / FRL /
-- IEP / 504 / gifted flags by rs_boolean (FRL also free / reduced / paid); programs is a list
-- separated by , or ;. Relationships: related_sis_ids (a list separated by , or ;) names a
-- guardian's students, or a student's guardians, each with the row's relationship word; the rows
-- of one person that differ only in school_id, related_sis_ids and relationship are one person
-- with the relationships of all its rows. An id holding a space (ids run together, a name) or
-- related_sis_ids on a person who is neither guardian nor student is an invalid value, and that
-- id is not followed.
with run_date as (
    select started_at::date as today from config.run
),

people as (
    select
        nullif(trim(sis_id), '') as user_source_id,
        nullif(trim(role), '') as role_value,
        lower(trim(coalesce(role, ''))) as role_text,
        nullif(trim(school_id), '') as school_id,
        nullif(trim(state_id), '') as state_id,
        nullif(trim(student_number), '') as student_number,
        nullif(trim(email), '') as email,
        nullif(trim(username), '') as username,
        nullif(trim(first_name), '') as first_name,
        nullif(trim(middle_name), '') as middle_name,
        nullif(trim(last_name), '') as last_name,
        nullif(trim(birth_date), '') as dob,
        nullif(trim(grade), '') as grade_raw,
        nullif(trim(programs), '') as programs_raw,
        nullif(trim(ell_status), '') as ell,
        nullif(trim(frl_status), '') as frl,
        nullif(trim(iep_status), '') as iep,
        nullif(trim(section_504_status), '') as section_504,
        nullif(trim(gifted_status), '') as gifted,
        nullif(trim(related_sis_ids), '') as related_raw,
        nullif(trim(relationship), '') as relationship,
        _source_file,
        _source_row
    from raw.csv_import_users
),

related_items as (
    -- each row's related_sis_ids as a list (empty items skipped)
    select
        *,
        list_filter(
            list_transform(regexp_split_to_array(coalesce(related_raw, ''), '[,;]'),
                           lambda x: trim(x)),
            lambda x: x <> ''
        ) as items
    from people
),

related_rows as (
    -- the ids a row relates (none for a role that has no related people) and why the others
    -- cannot be followed
    select
        *,
        role_text in ('student', 'guardian', 'parent', 'contact') as may_relate,
        list_filter(items, lambda x: regexp_matches(x, '\s')) as unreadable_items
    from related_items
),

related_read as (
    select
        *,
        case when may_relate then list_transform(
            list_filter(items, lambda x: not regexp_matches(x, '\s')),
            lambda x: {'user_source_id': x, 'relationship': relationship}
        ) else [] end as row_relationships,
        list_filter([
            rs_invalid_value(
                'related_sis_ids', related_raw,
                case
                    when len(items) > 0 and not may_relate
                        then 'only a guardian (its students) or a student (its guardians) names '
                            || 'related people; these ids were not followed'
                    when len(unreadable_items) > 0
                        then 'not a list of sis_ids: ' || array_to_string(unreadable_items, ', ')
                            || ' holds a space; separate the ids by , or ; (that id was not '
                            || 'followed)'
                end,
                _source_file, _source_row
            )
        ], lambda p: p.reason is not null) as row_problems
    from related_rows
),

grouped as (
    -- one user per person and distinct data, each at its first row
    select
        user_source_id, role_value, role_text, state_id, student_number, email, username,
        first_name, middle_name, last_name, dob, grade_raw, programs_raw, ell, frl, iep,
        section_504, gifted,
        list(school_id order by _source_row) filter (where school_id is not null)
            as schools_in_order,
        flatten(list(row_relationships order by _source_row)) as relationships_in_order,
        flatten(list(row_problems order by _source_row)) as related_problems,
        arg_min(_source_file, _source_row) as source_file,
        min(_source_row) as source_row
    from related_read
    group by
        user_source_id, role_value, role_text, state_id, student_number, email, username,
        first_name, middle_name, last_name, dob, grade_raw, programs_raw, ell, frl, iep,
        section_504, gifted
),

read_values as (
    select
        grouped.*,
        rs_date(dob, 'birth', run_date.today) as dob_read,
        rs_boolean(ell) as ell_read,
        rs_frl(frl) as frl_read,
        rs_boolean(iep) as iep_read,
        rs_boolean(section_504) as section_504_read,
        rs_boolean(gifted) as gifted_read,
        case
            when programs_raw is null then []::varchar[]
            else list_transform(regexp_split_to_array(programs_raw, '[,;]'), lambda x: trim(x))
        end as program_list
    from grouped
    cross join run_date
),

final as (
    select
        user_source_id,
        case
            when role_text = 'student' then 'student'
            when role_text in ('teacher', 'educator', 'aide') then 'educator'
            when role_text in ('guardian', 'parent', 'contact') then 'guardian'
            else 'other'
        end as role,
        case when role_text <> '' then [role_text] else []::varchar[] end as source_roles,
        user_source_id as sis_id,
        state_id,
        student_number,
        email,
        username,
        first_name,
        middle_name,
        last_name,
        dob_read.value as birth_date,
        grade_raw,
        case when grade_raw is null then []::varchar[] else [grade_raw] end as grade_values,
        rs_distinct_in_order(coalesce(schools_in_order, []::varchar[])) as school_source_ids,
        rs_distinct_in_order(coalesce(
            relationships_in_order, []::struct(user_source_id varchar, relationship varchar)[]
        )) as relationships,
        list_sort(list_distinct(list_filter(
            flatten([
                [
                    case when ell_read.value then 'ELL' end,
                    case when frl_read.value then 'FRL' end,
                    case when iep_read.value then 'IEP' end,
                    case when section_504_read.value then '504' end,
                    case when gifted_read.value then 'Gifted' end
                ],
                program_list
            ]),
            lambda p: p is not null and p <> ''
        ))) as program_names,
        false as is_deleted,
        list_concat(list_filter([
            rs_invalid_value(
                'role', role_value,
                case
                    when role_text = '' then 'the person has no role'
                    when role_text not in (
                        'student', 'teacher', 'educator', 'aide', 'guardian', 'parent',
                        'contact', 'staff', 'administrator'
                    ) then 'not a CSV import role: rostersync reads student; teacher, educator, '
                        || 'aide (educators); guardian, parent, contact (guardians); staff, '
                        || 'administrator (not imported)'
                end,
                source_file, source_row
            ),
            rs_invalid_value('birth_date', dob, dob_read.problem, source_file, source_row),
            rs_invalid_value('ell_status', ell, ell_read.problem, source_file, source_row),
            rs_invalid_value('frl_status', frl, frl_read.problem, source_file, source_row),
            rs_invalid_value('iep_status', iep, iep_read.problem, source_file, source_row),
            rs_invalid_value(
                'section_504_status', section_504, section_504_read.problem,
                source_file, source_row
            ),
            rs_invalid_value('gifted_status', gifted, gifted_read.problem, source_file, source_row)
        ], lambda p: p.reason is not null), related_problems) as invalid_values,
        source_file,
        source_row
    from read_values
)

select * from final
