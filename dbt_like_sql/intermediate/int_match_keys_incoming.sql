with users as (
    -- students, educators and guardians (entity 'guardians': matched only to app guardians)
    select * from intermediate.int_people
),

schools as (
    select * from core.schools
),

sections as (
    select * from core.sections
),

school_names as (
    -- the app's custom name configured for an incoming school, else the incoming name
    select * from config.school_names
),

user_keys as (
    unpivot (
        select
            role || 's' as entity,
            user_source_id as source_id,
            user_source_id as source_id_key,
            sis_id,
            state_id,
            student_number,
            email,
            lower(trim(username)) as username
        from users
    )
    on source_id_key as 'source_id', sis_id, state_id, student_number, email, username
    into name key_name value key_value
),

school_keys as (
    unpivot (
        select
            'schools' as entity,
            schools.school_source_id as source_id,
            schools.school_source_id as source_id_key,
            schools.sis_id,
            schools.state_id,
            schools.nces_id,
            lower(trim(coalesce(by_sis.custom_name, by_source.custom_name, schools.school_name)))
                as name
        from schools
        left join school_names as by_sis on by_sis.incoming_key = schools.sis_id
        left join school_names as by_source on by_source.incoming_key = schools.school_source_id
    )
    on source_id_key as 'source_id', sis_id, state_id, nces_id, name
    into name key_name value key_value
),

section_keys as (
    unpivot (
        select
            'sections' as entity,
            section_source_id as source_id,
            section_source_id as source_id_key,
            sis_id
        from sections
    )
    on source_id_key as 'source_id', sis_id
    into name key_name value key_value
),

final as (
    select entity, source_id, key_name, key_value from user_keys
    union all
    select entity, source_id, key_name, key_value from school_keys
    union all
    select entity, source_id, key_name, key_value from section_keys
)

select * from final
