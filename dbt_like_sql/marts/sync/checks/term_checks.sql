-- One row per problem with an incoming term (academic session): a value that cannot be read
-- (INVALID_VALUE; a date is left out, a status keeps the term out), a parent that cannot be
-- followed (REFERENCE_NOT_FOUND), a source id listed twice with different data
-- (DUPLICATE_SOURCE_ID). blocks_import: the term is not imported, nor the sections in it
-- (plan_sections holds them back; they get no row of their own).
with terms as (
    select * from core.terms
),

problems as (
    select source_id, field, error_value, error_code, message, blocks_import, source_file,
        source_row
    from sync.invalid_value_checks
    where fetch_entity = 'terms'
    union all
    select source_id, field, error_value, error_code, message, true, source_file, source_row
    from sync.reference_checks
    where fetch_entity = 'terms'
    union all
    select source_id, field, error_value, error_code, message, true, source_file, source_row
    from sync.duplicate_checks
    where fetch_entity = 'terms'
),

final as (
    select
        'term' as record_type,
        problems.field,
        problems.error_value,
        problems.error_code,
        problems.source_id,
        null::bigint as app_id,
        null::varchar as school,
        terms.term_name as name,
        problems.message,
        coalesce(problems.source_file, terms.source_file) as source_file,
        coalesce(problems.source_row, terms.source_row) as source_row,
        problems.blocks_import
    from problems
    join terms on terms.term_source_id = problems.source_id
)

select * from final
