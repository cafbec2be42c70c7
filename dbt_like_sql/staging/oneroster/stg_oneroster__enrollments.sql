-- one row per OneRoster enrollment. Roles: student; teacher, aide, proctor, administrator ->
-- teacher. Any other role is an invalid value (role 'other': the enrollment is not imported).
with enrollments as (
    select * from raw.oneroster_enrollments
),

read_values as (
    select
        *,
        rs_oneroster_status(status) as status_read,
        rs_boolean("primary") as primary_read,
        lower(trim(coalesce(role, ''))) as role_text
    from enrollments
),

final as (
    select
        sourcedId as enrollment_source_id,
        nullif(trim(classSourcedId), '') as section_source_id,
        nullif(trim(userSourcedId), '') as user_source_id,
        nullif(trim(schoolSourcedId), '') as school_source_id,
        case
            when role_text = 'student' then 'student'
            when role_text in ('teacher', 'aide', 'proctor', 'administrator') then 'teacher'
            else 'other'
        end as role,
        primary_read.value as is_primary,
        coalesce(status_read.is_deleted, false) as is_deleted,
        list_filter([
            rs_invalid_value('status', status, status_read.problem, _source_file, _source_row),
            rs_invalid_value(
                'role', role,
                case when role_text not in ('student', 'teacher', 'aide', 'proctor', 'administrator')
                    then case when role_text = '' then 'the enrollment has no role'
                        else 'not a OneRoster enrollment role: rostersync reads student, teacher, '
                            || 'aide, proctor, administrator' end
                end,
                _source_file, _source_row
            ),
            rs_invalid_value('primary', "primary", primary_read.problem, _source_file, _source_row)
        ], lambda p: p.reason is not null) as invalid_values,
        _source_file as source_file,
        _source_row as source_row
    from read_values
)

select * from final
