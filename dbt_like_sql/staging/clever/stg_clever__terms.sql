-- one row per term. Clever terms carry no type; the school year is the end date's year.
-- Clever CSV terms are the distinct (school, Term_name, Term_start, Term_end) of sections.csv.
with api_terms as (
    select
        id as term_source_id,
        nullif(trim(data ->> '$.name'), '') as term_name,
        null::varchar as term_type,
        try_cast(data ->> '$.start_date' as date) as start_date,
        try_cast(data ->> '$.end_date' as date) as end_date,
        coalesce(try_cast(_ext ->> '$.deleted' as boolean), false) as is_deleted
    from raw.clever_terms
),

csv_terms as (
    select distinct
        concat_ws(':', 'term', trim("School_id"), trim("Term_name"),
                  coalesce(trim("Term_start"), ''), coalesce(trim("Term_end"), ''))
            as term_source_id,
        trim("Term_name") as term_name,
        null::varchar as term_type,
        coalesce(try_strptime(trim("Term_start"), '%m/%d/%Y'),
                 try_strptime(trim("Term_start"), '%Y-%m-%d'))::date as start_date,
        coalesce(try_strptime(trim("Term_end"), '%m/%d/%Y'),
                 try_strptime(trim("Term_end"), '%Y-%m-%d'))::date as end_date,
        false as is_deleted
    from raw.clever_csv_sections
    where nullif(trim("Term_name"), '') is not null
),

final as (
    select * from api_terms
    union all by name
    select * from csv_terms
)

select
    term_source_id,
    term_name,
    term_type,
    start_date,
    end_date,
    year(end_date)::varchar as school_year,
    is_deleted
from final
