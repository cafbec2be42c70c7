-- One row per incoming guardian: OneRoster users of role parent, guardian or relative, Clever
-- contacts (and CSV import people of role guardian / parent / contact). Kept apart from
-- core.users, so that no guardian is ever matched to a student or an educator; their
-- relationships to students are core.guardian_relationships. Matching, the user checks and
-- plan_users read them through intermediate.int_people (entity 'guardians': matched only to
-- the app's guardians).
with settings as (
    select not_imported from config.district
),

final as (
    select
        users.user_source_id,
        coalesce(users.source_roles, []::varchar[]) as roles,
        case when not list_contains(settings.not_imported, 'sis_id') then users.sis_id end
            as sis_id,
        case when not list_contains(settings.not_imported, 'email')
            then lower(trim(users.email)) end as email,
        case when not list_contains(settings.not_imported, 'username')
            then users.username end as username,
        users.first_name,
        case when not list_contains(settings.not_imported, 'middle_name')
            then users.middle_name end as middle_name,
        users.last_name,
        users.school_source_ids,
        users.is_deleted,
        users.provider,
        users.invalid_values,
        users.conflicting_copies,
        users.source_file,
        users.source_row
    from intermediate.int_users_unioned as users
    cross join settings
    where users.role = 'guardian'
)

select * from final
