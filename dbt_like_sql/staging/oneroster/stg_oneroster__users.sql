-- one row per OneRoster user. Role: users.role (1.1) or the primary role of roles.csv (1.2).
-- student -> student; teacher, aide, proctor, administrator, siteAdministrator, principal ->
-- educator; guardian, parent, relative -> guardian; districtAdministrator,
-- systemAdministrator, counselor -> other (not imported); any other role is an invalid value
-- (role 'other'). source_roles: every role word the source gives the user, lower-cased, the
-- users.csv role or the primary roles first (1.2: a teacher who is also an administrator has
-- both). enabledUser = false makes the user deleted at the source, like tobedeleted.
with users as (
    select * from raw.oneroster_users
),

run_date as (
    select started_at::date as today from config.run
),

role_rows as (
    -- v1.2: a user's role and orgs come from roles.csv, the primary role first
    select
        userSourcedId as user_source_id,
        orgSourcedId,
        role,
        lower(trim(coalesce(role, ''))) as role_text,
        lower(trim(coalesce(roleType, ''))) as role_type,
        roleType,
        status,
        rs_oneroster_status(status) as status_read,
        _source_file,
        _source_row
    from raw.oneroster_roles
),

roles as (
    select
        user_source_id,
        arg_min(role, (role_type <> 'primary', _source_row))
            filter (where not coalesce(status_read.is_deleted, false)) as role,
        arg_min(_source_file, (role_type <> 'primary', _source_row))
            filter (where not coalesce(status_read.is_deleted, false)) as role_file,
        arg_min(_source_row, (role_type <> 'primary', _source_row))
            filter (where not coalesce(status_read.is_deleted, false)) as role_row,
        count(distinct role_text)
            filter (where role_type = 'primary' and not coalesce(status_read.is_deleted, false))
            as primary_roles,
        -- every role the user holds (lower-cased), the primary ones first
        rs_distinct_in_order(coalesce(
            list(role_text order by role_type <> 'primary', _source_row)
                filter (where not coalesce(status_read.is_deleted, false) and role_text <> ''),
            []::varchar[])) as role_texts,
        string_agg(distinct role, ' | ' order by role)
            filter (where role_type = 'primary' and not coalesce(status_read.is_deleted, false))
            as primary_role_list,
        list(
            orgSourcedId order by case when role_type = 'primary' then 0 else 1 end, orgSourcedId
        ) filter (where not coalesce(status_read.is_deleted, false)) as org_ids,
        flatten(list(list_filter([
            rs_invalid_value(
                'role_status', status, status_read.problem, _source_file, _source_row
            ),
            rs_invalid_value(
                'role_type', roleType,
                case when role_type not in ('primary', 'secondary')
                    then 'not a OneRoster role type: rostersync reads primary, secondary' end,
                _source_file, _source_row
            )
        ], lambda p: p.reason is not null) order by _source_row)) as role_problems
    from role_rows
    group by user_source_id
),

demographic_rows as (
    select
        demographics.sourcedId as user_source_id,
        demographics.birthDate,
        rs_date(demographics.birthDate, 'birth', run_date.today) as birth_read,
        demographics._source_file,
        demographics._source_row
    from raw.oneroster_demographics as demographics
    cross join run_date
    where nullif(trim(demographics.birthDate), '') is not null
),

demographics as (
    -- several demographics rows of one user with different birth dates: none is used
    select
        user_source_id,
        count(distinct trim(birthDate)) as birth_dates,
        string_agg(distinct trim(birthDate), ' | ' order by trim(birthDate)) as birth_date_list,
        arg_min(birthDate, _source_row) as birth_date_text,
        arg_min(birth_read, _source_row) as birth_read,
        min(_source_row) as source_row,
        arg_min(_source_file, _source_row) as source_file
    from demographic_rows
    group by user_source_id
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
            as student_number,
        _source_file,
        _source_row
    from users
),

program_values as (
    select
        *,
        rs_boolean(ell) as ell_read,
        rs_frl(frl) as frl_read,
        rs_boolean(iep) as iep_read,
        case
            when programs_raw is null then []::varchar[]
            when starts_with(trim(programs_raw), '[')
                then try_cast(programs_raw as varchar[])
            else list_transform(regexp_split_to_array(programs_raw, '[,;]'), lambda x: trim(x))
        end as program_list
    from ext_programs
),

programs as (
    select
        user_source_id,
        nullif(trim(state_id), '') as state_id,
        nullif(trim(student_number), '') as student_number,
        list_sort(list_distinct(list_filter(
            flatten([
                [
                    case when ell_read.value then 'ELL' end,
                    case when frl_read.value then 'FRL' end,
                    case when iep_read.value then 'IEP' end
                ],
                coalesce(program_list, []::varchar[])
            ]),
            lambda x: x is not null and x <> ''
        ))) as program_names,
        list_filter([
            rs_invalid_value(
                'programs', programs_raw,
                case when program_list is null
                    then 'not a list of program names (a JSON list, or names separated by , or ;)'
                end,
                _source_file, _source_row
            ),
            rs_invalid_value('ell_status', ell, ell_read.problem, _source_file, _source_row),
            rs_invalid_value('frl_status', frl, frl_read.problem, _source_file, _source_row),
            rs_invalid_value('iep_status', iep, iep_read.problem, _source_file, _source_row)
        ], lambda p: p.reason is not null) as program_problems
    from program_values
),

typed as (
    select
        users.sourcedId as user_source_id,
        coalesce(nullif(trim(users.role), ''), roles.role) as role_value,
        lower(trim(coalesce(nullif(trim(users.role), ''), roles.role, ''))) as source_role,
        case when nullif(trim(users.role), '') is not null then users._source_file
            else roles.role_file end as role_file,
        case when nullif(trim(users.role), '') is not null then users._source_row
            else roles.role_row end as role_row,
        nullif(trim(users.role), '') is null and roles.primary_roles > 1 as has_several_roles,
        rs_distinct_in_order(list_concat(
            case when nullif(trim(users.role), '') is not null
                then [lower(trim(users.role))] else []::varchar[] end,
            coalesce(roles.role_texts, []::varchar[]))) as source_roles,
        roles.primary_role_list,
        coalesce(nullif(trim(users.identifier), ''), users.sourcedId) as sis_id,
        nullif(trim(users.email), '') as email,
        nullif(trim(users.username), '') as username,
        nullif(trim(users.givenName), '') as first_name,
        nullif(trim(users.middleName), '') as middle_name,
        nullif(trim(users.familyName), '') as last_name,
        coalesce(programs.state_id, typed_ids.state_id) as state_id,
        coalesce(programs.student_number, typed_ids.student_number) as student_number,
        programs.program_names,
        case when demographics.birth_dates = 1 then demographics.birth_read.value end
            as birth_date,
        list_filter(
            list_transform(string_split(coalesce(users.grades, ''), ','), lambda g: trim(g)),
            lambda g: g <> ''
        ) as grade_list,
        rs_distinct_in_order(list_filter(
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
        -- agentSourcedIds: a student's guardians, a guardian's students (OneRoster gives no type)
        list_transform(
            rs_distinct_in_order(list_filter(
                list_transform(string_split(coalesce(users.agentSourcedIds, ''), ','),
                               lambda x: trim(x)),
                lambda x: x <> ''
            )),
            lambda x: {'user_source_id': x, 'relationship': null::varchar}
        ) as relationships,
        rs_oneroster_status(users.status) as status_read,
        rs_boolean(users.enabledUser) as enabled_read,
        users.status,
        users.enabledUser,
        users.userIds,
        demographics.birth_dates,
        demographics.birth_date_list,
        demographics.birth_date_text,
        demographics.birth_read,
        demographics.source_file as birth_file,
        demographics.source_row as birth_row,
        coalesce(roles.role_problems, []) as role_problems,
        programs.program_problems,
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
            when has_several_roles then 'other'
            when source_role = 'student' then 'student'
            when source_role in (
                'teacher', 'aide', 'proctor', 'administrator', 'siteadministrator', 'principal'
            ) then 'educator'
            when source_role in ('guardian', 'parent', 'relative') then 'guardian'
            else 'other'
        end as role,
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
        grade_list[1] as grade_raw,
        list_filter(grade_list, lambda g, i: list_position(grade_list, g) = i) as grade_values,
        school_source_ids,
        relationships,
        program_names,
        coalesce(status_read.is_deleted, false) or coalesce(not enabled_read.value, false)
            as is_deleted,
        list_concat(
            list_filter([
                rs_invalid_value('status', status, status_read.problem, source_file, source_row),
                rs_invalid_value(
                    'enabled_user', enabledUser, enabled_read.problem, source_file, source_row
                ),
                rs_invalid_value(
                    'role',
                    case when has_several_roles then primary_role_list else role_value end,
                    case
                        when has_several_roles
                            then 'roles lists several different primary roles for this user'
                        when source_role = '' then 'the user has no role'
                        when source_role not in (
                            'student', 'teacher', 'aide', 'proctor', 'administrator',
                            'siteadministrator', 'principal', 'guardian', 'parent', 'relative',
                            'districtadministrator', 'systemadministrator', 'counselor'
                        ) then 'not a OneRoster role: rostersync reads student, teacher, aide, '
                            || 'proctor, administrator, siteAdministrator, principal (educators), '
                            || 'guardian, parent, relative, districtAdministrator, '
                            || 'systemAdministrator, counselor (not imported)'
                    end,
                    role_file, role_row
                ),
                rs_invalid_value(
                    'user_ids', userIds,
                    case when nullif(trim(userIds), '') is not null and not regexp_full_match(
                        userIds, '\s*\{[^:{}]+:[^{}]*\}(\s*,\s*\{[^:{}]+:[^{}]*\})*\s*'
                    ) then 'not a OneRoster userIds list: {type:identifier},{type:identifier}...'
                    end,
                    source_file, source_row
                ),
                rs_invalid_value(
                    'birth_date',
                    case when birth_dates > 1 then birth_date_list else birth_date_text end,
                    case when birth_dates > 1
                        then 'demographics lists ' || birth_dates
                            || ' different birth dates for this user'
                        else birth_read.problem end,
                    birth_file, birth_row
                )
            ], lambda p: p.reason is not null),
            role_problems,
            coalesce(program_problems, rs_no_invalid_values())
        ) as invalid_values,
        source_file,
        source_row
    from typed
)

select * from final
