with users as (
    select * from roster.users
),

schools as (
    select * from roster.schools
),

sections as (
    select * from roster.sections
),

user_keys as (
    unpivot (
        select
            role || 's' as entity,
            app_id,
            source_id,
            sis_id,
            state_id,
            student_number,
            lower(trim(email)) as email,
            lower(trim(username)) as username
        from users
    )
    on source_id, sis_id, state_id, student_number, email, username
    into name key_name value key_value
),

school_keys as (
    unpivot (
        select
            'schools' as entity,
            app_id,
            source_id,
            sis_id,
            state_id,
            nces_id,
            lower(trim(custom_name)) as name
        from schools
    )
    on source_id, sis_id, state_id, nces_id, name
    into name key_name value key_value
),

section_keys as (
    unpivot (
        select
            'sections' as entity,
            app_id,
            source_id,
            sis_id
        from sections
    )
    on source_id, sis_id
    into name key_name value key_value
),

final as (
    select entity, app_id, key_name, key_value from user_keys
    union all
    select entity, app_id, key_name, key_value from school_keys
    union all
    select entity, app_id, key_name, key_value from section_keys
)

select * from final
