with users as (
    select * from intermediate.int_users_unioned
    where role in ('student', 'educator')
),

schools as (
    -- orgs that are schools: landed now, or known to the app (a delta need not resend orgs)
    select school_source_id from intermediate.int_schools_unioned
    union
    select source_id from roster.schools where source_id is not null
),

grade_codes as (
    select * from config.grade_codes
),

settings as (
    -- student_id_field: which source field is the students' ID; not_imported: fields dropped
    select student_id_field, not_imported from config.district
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
        coalesce(users.source_roles, []::varchar[]) as roles,
        case
            when list_contains(settings.not_imported, 'sis_id') then null
            when users.role <> 'student' or settings.student_id_field = 'sis_id'
                then users.sis_id
            when settings.student_id_field = 'student_number' then users.student_number
            when settings.student_id_field = 'state_id' then users.state_id
        end as sis_id,
        case when not list_contains(settings.not_imported, 'state_id')
            then users.state_id end as state_id,
        case when not list_contains(settings.not_imported, 'student_number')
            then users.student_number end as student_number,
        case when not list_contains(settings.not_imported, 'email')
            then lower(trim(users.email)) end as email,
        case when not list_contains(settings.not_imported, 'username')
            then users.username end as username,
        users.first_name,
        case when not list_contains(settings.not_imported, 'middle_name')
            then users.middle_name end as middle_name,
        users.last_name,
        case when not list_contains(settings.not_imported, 'birth_date')
            then users.birth_date end as birth_date,
        users.grade_raw,
        grade_codes.grade_code,
        users.grade_values,
        primary_school.school_source_id,
        users.school_source_ids,
        case when list_contains(settings.not_imported, 'programs') then []::varchar[]
            else coalesce(users.program_names, []::varchar[]) end as program_names,
        users.is_deleted,
        users.provider,
        users.invalid_values,
        users.conflicting_copies,
        users.source_file,
        users.source_row
    from users
    cross join settings
    left join primary_school on primary_school.user_source_id = users.user_source_id
    left join grade_codes on grade_codes.source_value = lower(trim(users.grade_raw))
)

select * from final
