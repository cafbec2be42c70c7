with users as (
    select * from intermediate.int_users_unioned
    where role in ('student', 'educator')
),

schools as (
    select school_source_id from intermediate.int_schools_unioned
),

grade_codes as (
    select * from config.grade_codes
),

primary_school as (
    -- the first of a user's orgs that is a school in this landing
    select
        users.user_source_id,
        arg_min(schools.school_source_id, list_position(users.school_source_ids, schools.school_source_id))
            as school_source_id
    from users
    cross join unnest(users.school_source_ids) as org(org_id)
    join schools on schools.school_source_id = org.org_id
    group by users.user_source_id
),

final as (
    select
        users.user_source_id,
        users.role,
        users.sis_id,
        users.state_id,
        users.student_number,
        lower(trim(users.email)) as email,
        users.username,
        users.first_name,
        users.middle_name,
        users.last_name,
        users.birth_date,
        users.grade_raw,
        grade_codes.grade_code,
        primary_school.school_source_id,
        users.school_source_ids,
        users.program_names,
        users.is_deleted,
        users.provider,
        users.source_file,
        users.source_row
    from users
    left join primary_school on primary_school.user_source_id = users.user_source_id
    left join grade_codes on grade_codes.source_value = lower(trim(users.grade_raw))
)

select * from final
