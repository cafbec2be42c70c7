-- one row per school, from the Clever API (raw.clever_schools) and Clever CSV (schools.csv)
with api_schools as (
    select
        id as school_source_id,
        nullif(trim(data ->> '$.sis_id'), '') as sis_id,
        nullif(trim(data ->> '$.state_id'), '') as state_id,
        nullif(trim(data ->> '$.nces_id'), '') as nces_id,
        nullif(trim(data ->> '$.name'), '') as school_name,
        coalesce(try_cast(_ext ->> '$.deleted' as boolean), false) as is_deleted,
        _source_file as source_file,
        _source_row as source_row
    from raw.clever_schools
),

csv_schools as (
    select
        nullif(trim("School_id"), '') as school_source_id,
        nullif(trim("School_id"), '') as sis_id,
        nullif(trim("State_id"), '') as state_id,
        nullif(trim("NCES_id"), '') as nces_id,
        nullif(trim("School_name"), '') as school_name,
        false as is_deleted,
        _source_file as source_file,
        _source_row as source_row
    from raw.clever_csv_schools
),

final as (
    select * from api_schools
    union all by name
    select * from csv_schools
)

select
    school_source_id,
    sis_id,
    state_id,
    nces_id,
    school_name,
    is_deleted,
    source_file,
    source_row
from final
