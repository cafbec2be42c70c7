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

user_ids as (
    -- userIds "{type:identifier},..." -> state and student-number identifiers
    select
        sourcedId as user_source_id,
        list_zip(
            regexp_extract_all(coalesce(userIds, ''), '\{([^:}]+):([^}]*)\}', 1),
            regexp_extract_all(coalesce(userIds, ''), '\{([^:}]+):([^}]*)\}', 2)
        ) as id_pairs
    from users
),

typed_ids as (
    select
        user_source_id,
        nullif(trim(list_filter(id_pairs, lambda x: regexp_replace(lower(x[1]), '[^a-z]', '', 'g')
            in ('stateid', 'state', 'statestudentid'))[1][2]), '') as state_id,
        nullif(trim(list_filter(id_pairs, lambda x: regexp_replace(lower(x[1]), '[^a-z]', '', 'g')
            in ('studentnumber', 'localid', 'localstudentid'))[1][2]), '') as student_number
    from user_ids
),

ext_programs as (
    -- OneRoster metadata columns kept in _ext: CSV "metadata.programs" (list separated by
    -- ',' or ';') and boolean flags "metadata.ell" / ".frl" / ".iep"; REST nests them.
    select
        sourcedId as user_source_id,
        coalesce(_ext ->> '$."metadata.programs"', _ext ->> '$.metadata.programs') as programs_raw,
        coalesce(_ext ->> '$."metadata.ell"', _ext ->> '$.metadata.ell') as ell,
        coalesce(_ext ->> '$."metadata.frl"', _ext ->> '$.metadata.frl') as frl,
        coalesce(_ext ->> '$."metadata.iep"', _ext ->> '$.metadata.iep') as iep,
        coalesce(_ext ->> '$."metadata.state_id"', _ext ->> '$.metadata.state_id') as state_id,
        coalesce(_ext ->> '$."metadata.student_number"', _ext ->> '$.metadata.student_number')
            as student_number
    from users
),

programs as (
    select
        user_source_id,
        nullif(trim(state_id), '') as state_id,
        nullif(trim(student_number), '') as student_number,
        list_sort(list_distinct(list_filter(
            flatten([
                [
                    case when upper(trim(ell)) in ('Y', 'YES', 'TRUE', '1') then 'ELL' end,
                    case when upper(trim(frl)) in ('Y', 'YES', 'TRUE', '1', 'F', 'R', 'FREE',
                        'REDUCED') then 'FRL' end,
                    case when upper(trim(iep)) in ('Y', 'YES', 'TRUE', '1') then 'IEP' end
                ],
                case
                    when programs_raw is null then []::varchar[]
                    when starts_with(trim(programs_raw), '[')
                        then coalesce(try_cast(programs_raw as varchar[]), []::varchar[])
                    else list_transform(
                        regexp_split_to_array(programs_raw, '[,;]'), lambda x: trim(x)
                    )
                end
            ]),
            lambda x: x is not null and x <> ''
        ))) as program_names
    from ext_programs
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
        coalesce(programs.state_id, typed_ids.state_id) as state_id,
        coalesce(programs.student_number, typed_ids.student_number) as student_number,
        programs.program_names,
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
    left join typed_ids on typed_ids.user_source_id = users.sourcedId
    left join programs on programs.user_source_id = users.sourcedId
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
    from typed
)

select * from final
