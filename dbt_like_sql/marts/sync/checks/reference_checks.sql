-- One row per incoming record and reference that cannot be followed; the record is not
-- imported (never half-linked) and its app record is left as it is.
-- REFERENCE_NOT_FOUND: a user's org, a section's school, course or term, an enrollment's
-- school, a course's org or school year, a term's parent is neither in this landing nor, when
-- the landing does not send that entity whole (delta, or not sent), in the app's roster. Terms
-- and courses are checked against the app's roster only once it holds some (a district whose
-- last bulk landing predates roster.terms / roster.courses is checked from its next bulk
-- landing on). (An enrollment's section and user are ORPHAN_ENROLLMENT, enrollment_checks.)
-- INVALID_REFERENCE: a section's school is an org of another type (a district, a department).
-- SCHOOL_INACTIVE: a person's or section's school is found but cannot take records, and no row
-- of its own says why: deactivated in the app (and not in this landing), or new and marked
-- deleted by the source.
with fetch_modes as (
    select entity, mode from config.fetch_entities
),

landed_orgs as (
    select school_source_id as source_id, org_type, school_name from intermediate.int_org_types
),

known as (
    select 'orgs' as target, source_id from landed_orgs
    union all
    select 'orgs', roster_schools.source_id
    from roster.schools as roster_schools
    join fetch_modes on fetch_modes.entity = 'schools' and fetch_modes.mode <> 'bulk'
    where roster_schools.source_id is not null
    union all
    select 'terms', term_source_id from core.terms
    union all
    select 'terms', roster_terms.source_id
    from roster.terms as roster_terms
    join fetch_modes on fetch_modes.entity = 'terms' and fetch_modes.mode <> 'bulk'
    where roster_terms.source_id is not null
    union all
    select 'courses', course_source_id from core.courses
    union all
    select 'courses', roster_courses.source_id
    from roster.courses as roster_courses
    join fetch_modes on fetch_modes.entity = 'courses' and fetch_modes.mode <> 'bulk'
    where roster_courses.source_id is not null
),

checkable as (
    -- orgs are always checked (the app keeps schools); terms and courses when sent whole, or
    -- when the app's roster already holds some to check against
    select 'orgs' as target
    union all
    select 'terms'
    from fetch_modes
    where entity = 'terms' and (mode = 'bulk' or exists (select 1 from roster.terms))
    union all
    select 'courses'
    from fetch_modes
    where entity = 'courses' and (mode = 'bulk' or exists (select 1 from roster.courses))
),

user_orgs as (
    select
        user_source_id as source_id,
        role as record_type,
        unnest(school_source_ids) as reference,
        source_file,
        source_row
    from core.users
    where not is_deleted
),

references_made as (
    select 'users' as fetch_entity, record_type, source_id, 'orgs' as field, reference,
        'orgs' as target, source_file, source_row
    from user_orgs

    union all

    select 'sections', 'section', section_source_id, 'school', school_source_id, 'orgs',
        source_file, source_row
    from core.sections
    where not is_deleted and school_source_id is not null

    union all

    select 'sections', 'section', section_source_id, 'course', course_source_id, 'courses',
        source_file, source_row
    from core.sections
    where not is_deleted and course_source_id is not null

    union all

    select 'sections', 'section', section_source_id, 'term', term_source_id, 'terms',
        source_file, source_row
    from core.sections
    where not is_deleted and term_source_id is not null

    union all

    select 'enrollments', 'enrollment', enrollment_source_id, 'school', school_source_id,
        'orgs', source_file, source_row
    from core.enrollments
    where not is_deleted and school_source_id is not null

    union all

    select 'courses', 'course', course_source_id, 'org', school_source_id, 'orgs',
        source_file, source_row
    from core.courses
    where not is_deleted and school_source_id is not null

    union all

    select 'courses', 'course', course_source_id, 'school_year', school_year_source_id,
        'terms', source_file, source_row
    from core.courses
    where not is_deleted and school_year_source_id is not null

    union all

    select 'terms', 'term', term_source_id, 'parent', parent_term_source_id, 'terms',
        source_file, source_row
    from core.terms
    where not is_deleted and parent_term_source_id is not null
),

not_found as (
    select
        references_made.*,
        'REFERENCE_NOT_FOUND' as error_code,
        'the ' || references_made.field || ' ' || references_made.reference
            || ' is neither in this landing nor in the app; the record is not imported'
            as message
    from references_made
    semi join checkable on checkable.target = references_made.target
    anti join known
        on known.target = references_made.target
        and known.source_id = references_made.reference
),

not_a_school as (
    select
        references_made.*,
        'INVALID_REFERENCE' as error_code,
        'the section''s school ' || references_made.reference || ' ('
            || coalesce(landed_orgs.school_name, 'no name') || ') is an org of type '
            || landed_orgs.org_type || ', not a school; the section is not imported' as message
    from references_made
    join landed_orgs on landed_orgs.source_id = references_made.reference
    where references_made.fetch_entity = 'sections'
        and references_made.field = 'school'
        and landed_orgs.org_type <> 'school'
),

placed_schools as (
    -- the schools this run can place records in, and those with a row of their own
    -- (SCHOOL_NOT_MATCHED, EXACT_MATCH_MULTIPLE, a refused school)
    select source_id from sync.school_app_ids
    where action in ('create', 'update', 'reactivate', 'unchanged', 'unmatched', 'error',
        'refused')
),

school_holders as (
    select 'users' as fetch_entity, role as record_type, user_source_id as source_id,
        school_source_id, source_file, source_row
    from core.users
    where not is_deleted and school_source_id is not null
    union all
    select 'sections', 'section', section_source_id, school_source_id, source_file, source_row
    from core.sections
    where not is_deleted and school_source_id is not null
),

inactive_school as (
    select
        school_holders.fetch_entity,
        school_holders.record_type,
        school_holders.source_id,
        'school' as field,
        school_holders.school_source_id as reference,
        'orgs' as target,
        school_holders.source_file,
        school_holders.source_row,
        'SCHOOL_INACTIVE' as error_code,
        case
            when landed_schools.school_source_id is not null
                then 'the school ' || school_holders.school_source_id || ' ('
                    || coalesce(landed_schools.school_name, 'no name')
                    || ') is marked deleted in this landing and is not in the app; '
                    || 'the record is held back'
            else 'the school ' || school_holders.school_source_id || ' ('
                || coalesce(roster_schools.custom_name, 'no name') || ', app school '
                || roster_schools.app_id || ') is deactivated in the app; the record is held '
                || 'back until the school is active again'
        end as message
    from school_holders
    left join core.schools as landed_schools
        on landed_schools.school_source_id = school_holders.school_source_id
    left join roster.schools as roster_schools
        on roster_schools.source_id = school_holders.school_source_id
    anti join placed_schools on placed_schools.source_id = school_holders.school_source_id
),

found_problems as (
    select * from not_found
    union all by name
    select * from not_a_school
),

final as (
    select
        fetch_entity,
        record_type,
        source_id,
        field,
        reference as error_value,
        error_code,
        message,
        source_file,
        source_row
    from found_problems
    union all
    select
        inactive_school.fetch_entity,
        inactive_school.record_type,
        inactive_school.source_id,
        inactive_school.field,
        inactive_school.reference,
        inactive_school.error_code,
        inactive_school.message,
        inactive_school.source_file,
        inactive_school.source_row
    from inactive_school
    -- a school that is not found, or not a school, has its own row above
    anti join found_problems
        on found_problems.fetch_entity = inactive_school.fetch_entity
        and found_problems.source_id = inactive_school.source_id
        and found_problems.field in ('orgs', 'school')
)

select * from final
