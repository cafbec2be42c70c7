-- one row per term: the distinct term name and dates per school of classes.csv (the id is
-- derived as in stg_csv_import__sections). Dates are read by rs_date (kind 'term'); the school
-- year is rs_school_year of the end date.
with run_date as (
    select started_at::date as today from config.run
),

terms as (
    select
        concat_ws(':', 'term', trim(school_id), trim(term_name),
                  coalesce(trim(term_start), ''), coalesce(trim(term_end), ''))
            as term_source_id,
        trim(term_name) as term_name,
        nullif(trim(term_start), '') as start_text,
        nullif(trim(term_end), '') as end_text,
        arg_min(_source_file, _source_row) as source_file,
        min(_source_row) as source_row
    from raw.csv_import_classes
    where nullif(trim(term_name), '') is not null
    group by 1, 2, 3, 4
),

read_values as (
    select
        terms.*,
        rs_date(terms.start_text, 'term', run_date.today) as start_read,
        rs_date(terms.end_text, 'term', run_date.today) as end_read
    from terms
    cross join run_date
),

final as (
    select
        term_source_id,
        term_name,
        null::varchar as term_type,
        start_read.value as start_date,
        end_read.value as end_date,
        rs_school_year(end_read.value) as school_year,
        null::varchar as parent_term_source_id,
        false as is_deleted,
        list_filter([
            rs_invalid_value('start_date', start_text, start_read.problem, source_file, source_row),
            rs_invalid_value('end_date', end_text, end_read.problem, source_file, source_row)
        ], lambda p: p.reason is not null) as invalid_values,
        source_file,
        source_row
    from read_values
)

select * from final
