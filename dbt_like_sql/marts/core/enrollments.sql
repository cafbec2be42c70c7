with enrollments as (
    select * from intermediate.int_enrollments_unioned
    where role in ('student', 'teacher')
),

final as (
    select
        enrollment_source_id,
        section_source_id,
        user_source_id,
        school_source_id,
        role,
        is_primary,
        is_deleted,
        provider,
        invalid_values,
        conflicting_copies,
        source_file,
        source_row
    from enrollments
)

select * from final
