-- one row per term. Clever terms carry no type or parent; the school year is rs_school_year
-- of the end date (a fall semester ending in December belongs to the next year's). Clever CSV terms are the distinct (school, Term_name, Term_start, Term_end) of
-- sections.csv. Dates are read by rs_date (kind 'term') against the run's date.
with run_date as (
    select started_at::date as today from config.run
),

api_terms as (
    select
        id as term_source_id,
        nullif(trim(data ->> '$.name'), '') as term_name,
        data ->> '$.start_date' as start_text,
        data ->> '$.end_date' as end_text,
        coalesce(try_cast(_ext ->> '$.deleted' as boolean), false) as is_deleted,
        _source_file as source_file,
        _source_row as source_row
    from raw.clever_terms
),

csv_terms as (
    select
        concat_ws(':', 'term', trim("School_id"), trim("Term_name"),
                  coalesce(trim("Term_start"), ''), coalesce(trim("Term_end"), ''))
            as term_source_id,
        trim("Term_name") as term_name,
        trim("Term_start") as start_text,
        trim("Term_end") as end_text,
        false as is_deleted,
        arg_min(_source_file, _source_row) as source_file,
        min(_source_row) as source_row
    from raw.clever_csv_sections
    where nullif(trim("Term_name"), '') is not null
    group by 1, 2, 3, 4
),

unioned as (
    select * from api_terms
    union all by name
    select * from csv_terms
),

read_values as (
    select
        unioned.*,
        rs_date(unioned.start_text, 'term', run_date.today) as start_read,
        rs_date(unioned.end_text, 'term', run_date.today) as end_read
    from unioned
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
        is_deleted,
        list_filter([
            rs_invalid_value('start_date', start_text, start_read.problem, source_file, source_row),
            rs_invalid_value('end_date', end_text, end_read.problem, source_file, source_row)
        ], lambda p: p.reason is not null) as invalid_values,
        source_file,
        source_row
    from read_values
)

select * from final
