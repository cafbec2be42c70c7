with users as (
    select * from raw.oneroster_users
),

roles as (
    -- v1.2: a user's role and orgs come from roles.csv, the primary role first
    select
        userSourcedId as user_source_id,
        arg_min(role, case when lower(roleType) = 'primary' then 0 else 1 end) as role,
        list(
            orgSourcedId
            order by case when lower(roleType) = 'primary' then 0 else 1 end, orgSourcedId
        ) as org_ids
    from raw.oneroster_roles
    where lower(trim(coalesce(status, ''))) not in ('tobedeleted', 'inactive')
    group by userSourcedId
),

demographics as (
    select
        sourcedId as user_source_id,
        max(try_cast(birthDate as date)) as birth_date
    from raw.oneroster_demographics
    group by sourcedId
),

typed as (
    select
        users.sourcedId as user_source_id,
        lower(trim(coalesce(nullif(trim(users.role), ''), roles.role, ''))) as source_role,
        coalesce(nullif(trim(users.identifier), ''), users.sourcedId) as sis_id,
        nullif(trim(users.email), '') as email,
        nullif(trim(users.username), '') as username,
        nullif(trim(users.givenName), '') as first_name,
        nullif(trim(users.middleName), '') as middle_name,
        nullif(trim(users.familyName), '') as last_name,
        demographics.birth_date,
        nullif(trim(split_part(users.grades, ',', 1)), '') as grade_raw,
        list_distinct(list_filter(
            list_transform(
                flatten([
                    [users.primaryOrgSourcedId],
                    string_split(coalesce(users.orgSourcedIds, ''), ','),
                    coalesce(roles.org_ids, [])
                ]),
                lambda x: trim(x)
            ),
            lambda x: x is not null and x <> ''
        )) as school_source_ids,
        lower(trim(coalesce(users.status, ''))) in ('tobedeleted', 'inactive') as is_deleted,
        users._source_file as source_file,
        users._source_row as source_row
    from users
    left join roles on roles.user_source_id = users.sourcedId
    left join demographics on demographics.user_source_id = users.sourcedId
),

final as (
    select
        user_source_id,
        case
            when source_role = 'student' then 'student'
            when source_role in (
                'teacher', 'aide', 'proctor', 'administrator', 'siteadministrator', 'principal'
            ) then 'educator'
            when source_role in ('guardian', 'parent', 'relative') then 'guardian'
            else 'other'
        end as role,
        sis_id,
        null::varchar as state_id,
        null::varchar as student_number,
        email,
        username,
        first_name,
        middle_name,
        last_name,
        birth_date,
        grade_raw,
        school_source_ids,
        []::varchar[] as program_names,
        is_deleted,
        source_file,
        source_row
    from typed
)

select * from final
