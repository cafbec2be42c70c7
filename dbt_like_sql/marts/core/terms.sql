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
        is_deleted,
        provider
    from terms
)

select * from final
