-- One row per copy of a source id that this landing lists more than once with different data
-- (DUPLICATE_SOURCE_ID): the intermediate unions keep one row per id and list the copies in
-- conflicting_copies. None of the copies is imported and the app record is left as it is.
-- Copies that are identical are one record and get no row.
with repeated as (
    select 'schools' as fetch_entity, 'school' as record_type, school_source_id as source_id,
        conflicting_copies
    from core.schools
    union all
    select
        'users',
        case when role in ('student', 'educator', 'guardian') then role else 'user' end,
        user_source_id,
        conflicting_copies
    from intermediate.int_users_unioned
    union all
    select 'sections', 'section', section_source_id, conflicting_copies from core.sections
    union all
    select 'enrollments', 'enrollment', enrollment_source_id, conflicting_copies
    from intermediate.int_enrollments_unioned
    union all
    select 'terms', 'term', term_source_id, conflicting_copies from core.terms
    union all
    select 'courses', 'course', course_source_id, conflicting_copies from core.courses
),

described as (
    select
        *,
        array_to_string(
            list_transform(conflicting_copies, lambda c: c.source_file || ' row ' || c.source_row),
            ', '
        ) as copy_list
    from repeated
    where len(conflicting_copies) > 1
),

final as (
    select
        described.fetch_entity,
        described.record_type,
        described.source_id,
        'source_id' as field,
        described.source_id as error_value,
        'DUPLICATE_SOURCE_ID' as error_code,
        'the source id is listed ' || len(described.conflicting_copies)
            || ' times in this landing with different data (' || described.copy_list
            || '); none of the copies is imported' as message,
        copy.source_file,
        copy.source_row
    from described
    cross join unnest(described.conflicting_copies) as copies(copy)
)

select * from final
