with terms as (
    select * from intermediate.int_terms_unioned
),

final as (
    select
        term_source_id,
        term_name,
        term_type,
        start_date,
        end_date,
        school_year,
        parent_term_source_id,
        is_deleted,
        provider,
        invalid_values,
        conflicting_copies,
        source_file,
        source_row
    from terms
)

select * from final
