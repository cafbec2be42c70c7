with schools as (
    select * from intermediate.int_schools_unioned
),

final as (
    select
        school_source_id,
        sis_id,
        state_id,
        nces_id,
        school_name,
        is_deleted,
        provider,
        invalid_values,
        conflicting_copies,
        source_file,
        source_row
    from schools
)

select * from final
