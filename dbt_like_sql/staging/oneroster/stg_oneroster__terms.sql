-- one row per OneRoster academic session. Dates are read by rs_date (kind 'term') against the
-- run's date.
with sessions as (
    select * from raw.oneroster_academicsessions
),

run_date as (
    select started_at::date as today from config.run
),

read_values as (
    select
        sessions.*,
        rs_oneroster_status(sessions.status) as status_read,
        rs_date(sessions.startDate, 'term', run_date.today) as start_read,
        rs_date(sessions.endDate, 'term', run_date.today) as end_read
    from sessions
    cross join run_date
),

final as (
    select
        sourcedId as term_source_id,
        nullif(trim(title), '') as term_name,
        lower(nullif(trim(type), '')) as term_type,
        start_read.value as start_date,
        end_read.value as end_date,
        nullif(trim(schoolYear), '') as school_year,
        nullif(trim(parentSourcedId), '') as parent_term_source_id,
        coalesce(status_read.is_deleted, false) as is_deleted,
        list_filter([
            rs_invalid_value('status', status, status_read.problem, _source_file, _source_row),
            rs_invalid_value('start_date', startDate, start_read.problem, _source_file, _source_row),
            rs_invalid_value('end_date', endDate, end_read.problem, _source_file, _source_row)
        ], lambda p: p.reason is not null) as invalid_values,
        _source_file as source_file,
        _source_row as source_row
    from read_values
)

select * from final
