-- One row per incoming record and value that staging could not read (INVALID_VALUE): the
-- staging models' invalid_values lists, unnested. What happens to the record depends on the
-- field (field_policy below; docs/error-codes.md lists the same table): a value that decides
-- what happens to the record (status, role, enabledUser, org type, the ids) keeps the record
-- from being imported and its app record is left as it is; a descriptive value (a birth date,
-- a term date, a program flag, an enrollment's primary) is left out and the record imported
-- without it (a stored value is kept: an empty incoming value never blanks a stored one).
-- Records the source marks deleted are not checked. Users and enrollments are read before
-- core drops the roles it does not import, so that a role that cannot be read is reported.
with field_policy as (
    select * from (values
        ('schools', 'status', true, 'the school is not imported, nor its people and sections'),
        ('schools', 'org_type', true, 'the org is not imported as a school, nor its people and '
            || 'sections'),
        ('users', 'status', true, 'the person is not imported; the app record is left as it is'),
        ('users', 'enabled_user', true, 'the person is not imported; the app record is left as '
            || 'it is'),
        ('users', 'role', true, 'the person is not imported; the app record is left as it is'),
        ('users', 'role_status', true, 'the person is not imported; the app record is left as '
            || 'it is'),
        ('users', 'role_type', true, 'the person is not imported; the app record is left as it '
            || 'is'),
        ('users', 'user_ids', true, 'the person is not imported; the app record is left as it '
            || 'is'),
        ('users', 'birth_date', false, 'the person is imported without a birth date (a stored '
            || 'one is kept)'),
        ('users', 'programs', false, 'the person is imported without these programs'),
        ('users', 'ell_status', false, 'the person is imported without the ELL program'),
        ('users', 'frl_status', false, 'the person is imported without the FRL program'),
        ('users', 'iep_status', false, 'the person is imported without the IEP program'),
        ('users', 'section_504_status', false, 'the person is imported without the 504 program'),
        ('users', 'gifted_status', false, 'the person is imported without the Gifted program'),
        ('users', 'related_sis_ids', false, 'the person is imported without these '
            || 'relationships'),
        ('sections', 'status', true, 'the section is not imported; the app record is left as it '
            || 'is'),
        ('enrollments', 'status', true, 'the enrollment is not imported; the app record is left '
            || 'as it is'),
        ('enrollments', 'role', true, 'the enrollment is not imported; the app record is left '
            || 'as it is'),
        ('enrollments', 'primary', false, 'the enrollment is imported without it'),
        ('terms', 'status', true, 'the term is not imported, nor the sections in it'),
        ('terms', 'start_date', false, 'the term is imported without its start date'),
        ('terms', 'end_date', false, 'the term is imported without its end date'),
        ('courses', 'status', true, 'the course is not imported, nor its sections')
    ) as policy(fetch_entity, field, blocks_import, outcome)
),

landed as (
    select
        'schools' as fetch_entity, 'school' as record_type, school_source_id as source_id,
        invalid_values
    from core.schools
    where not is_deleted

    union all

    select
        'users',
        case when role in ('student', 'educator', 'guardian') then role else 'user' end,
        user_source_id,
        invalid_values
    from intermediate.int_users_unioned
    where not is_deleted
        and (role in ('student', 'educator', 'guardian')
            or list_contains(list_transform(invalid_values, lambda p: p.field), 'role'))

    union all

    select 'sections', 'section', section_source_id, invalid_values
    from core.sections
    where not is_deleted

    union all

    select 'enrollments', 'enrollment', enrollment_source_id, invalid_values
    from intermediate.int_enrollments_unioned
    where not is_deleted
        and (role in ('student', 'teacher')
            or list_contains(list_transform(invalid_values, lambda p: p.field), 'role'))

    union all

    select 'terms', 'term', term_source_id, invalid_values
    from core.terms
    where not is_deleted

    union all

    select 'courses', 'course', course_source_id, invalid_values
    from core.courses
    where not is_deleted
),

problems as (
    select
        landed.fetch_entity,
        landed.record_type,
        landed.source_id,
        unnest(landed.invalid_values) as problem
    from landed
    where len(landed.invalid_values) > 0
),

final as (
    select
        problems.fetch_entity,
        problems.record_type,
        problems.source_id,
        problems.problem.field,
        left(problems.problem.value, 200) as error_value,
        'INVALID_VALUE' as error_code,
        problems.problem.reason || '; '
            || coalesce(field_policy.outcome, 'the record is not imported') as message,
        -- a field without a policy entry is refused: fail closed
        coalesce(field_policy.blocks_import, true) as blocks_import,
        problems.problem.source_file,
        problems.problem.source_row
    from problems
    left join field_policy
        on field_policy.fetch_entity = problems.fetch_entity
        and field_policy.field = problems.problem.field
)

select * from final
