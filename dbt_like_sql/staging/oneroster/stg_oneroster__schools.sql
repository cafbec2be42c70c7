-- one row per OneRoster org of any type: schools, and the districts, departments, local, state
-- and national orgs records may point at (core.schools keeps the schools).
with orgs as (
    select * from raw.oneroster_orgs
),

read_values as (
    select
        *,
        rs_oneroster_status(status) as status_read,
        coalesce(lower(trim(type)), '') as type_text
    from orgs
),

final as (
    select
        sourcedId as school_source_id,
        nullif(trim(identifier), '') as sis_id,
        null::varchar as state_id,
        null::varchar as nces_id,
        nullif(trim(name), '') as school_name,
        case
            -- an org without a type is a school (OneRoster 1.0 bundles leave it empty)
            when type_text = '' then 'school'
            when type_text in ('school', 'district', 'department', 'local', 'state', 'national')
                then type_text
        end as org_type,
        coalesce(status_read.is_deleted, false) as is_deleted,
        list_filter([
            rs_invalid_value('status', status, status_read.problem, _source_file, _source_row),
            rs_invalid_value(
                'org_type', type,
                case when type_text not in (
                    '', 'school', 'district', 'department', 'local', 'state', 'national'
                ) then 'not a OneRoster org type: rostersync reads school, district, department, '
                    || 'local, state, national' end,
                _source_file, _source_row
            )
        ], lambda p: p.reason is not null) as invalid_values,
        _source_file as source_file,
        _source_row as source_row
    from read_values
)

select * from final
