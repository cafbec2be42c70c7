-- one row per org: the Clever API's schools and its district (raw.clever_districts), and
-- Clever CSV schools.csv. Clever values need no cast: invalid_values is always empty.
with api_schools as (
    select
        id as school_source_id,
        nullif(trim(data ->> '$.sis_id'), '') as sis_id,
        nullif(trim(data ->> '$.state_id'), '') as state_id,
        nullif(trim(data ->> '$.nces_id'), '') as nces_id,
        nullif(trim(data ->> '$.name'), '') as school_name,
        'school' as org_type,
        coalesce(try_cast(_ext ->> '$.deleted' as boolean), false) as is_deleted,
        _source_file as source_file,
        _source_row as source_row
    from raw.clever_schools
),

api_districts as (
    -- sections and users never name the district as their school; staged so that a record
    -- that does is INVALID_REFERENCE, not REFERENCE_NOT_FOUND
    select
        id as school_source_id,
        nullif(trim(data ->> '$.sis_id'), '') as sis_id,
        null::varchar as state_id,
        nullif(trim(data ->> '$.nces_id'), '') as nces_id,
        nullif(trim(data ->> '$.name'), '') as school_name,
        'district' as org_type,
        false as is_deleted,
        _source_file as source_file,
        _source_row as source_row
    from raw.clever_districts
),

csv_schools as (
    select
        nullif(trim("School_id"), '') as school_source_id,
        nullif(trim("School_id"), '') as sis_id,
        nullif(trim("State_id"), '') as state_id,
        nullif(trim("NCES_id"), '') as nces_id,
        nullif(trim("School_name"), '') as school_name,
        'school' as org_type,
        false as is_deleted,
        _source_file as source_file,
        _source_row as source_row
    from raw.clever_csv_schools
),

final as (
    select * from api_schools
    union all by name
    select * from api_districts
    union all by name
    select * from csv_schools
)

select
    school_source_id,
    sis_id,
    state_id,
    nces_id,
    school_name,
    org_type,
    is_deleted,
    rs_no_invalid_values() as invalid_values,
    source_file,
    source_row
from final
