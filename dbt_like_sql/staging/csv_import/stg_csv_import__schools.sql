-- one row per school id and distinct name: the CSV import has no schools file, its schools are
-- the school_id values of people.csv and classes.csv, named by their school_name. Rows without
-- a name name no school; a school id listed with two different names is two copies
-- (DUPLICATE_SOURCE_ID downstream). CSV import school values need no cast.
with school_rows as (
    select
        nullif(trim(school_id), '') as school_source_id,
        nullif(trim(school_name), '') as school_name,
        _source_file,
        _source_row
    from raw.csv_import_users
    union all by name
    select
        nullif(trim(school_id), '') as school_source_id,
        nullif(trim(school_name), '') as school_name,
        _source_file,
        _source_row
    from raw.csv_import_classes
),

named as (
    select
        school_source_id,
        school_name,
        arg_min(_source_file, (_source_file, _source_row)) as source_file,
        arg_min(_source_row, (_source_file, _source_row)) as source_row
    from school_rows
    where school_source_id is not null
    group by school_source_id, school_name
    qualify school_name is not null
        or count(school_name) over (partition by school_source_id) = 0
),

final as (
    select
        school_source_id,
        school_source_id as sis_id,
        null::varchar as state_id,
        null::varchar as nces_id,
        school_name,
        'school' as org_type,
        false as is_deleted,
        rs_no_invalid_values() as invalid_values,
        source_file,
        source_row
    from named
)

select * from final
