-- The current run's problems, one row per problem, in the export's column order (A-F fixed).
with record_problems as (
    select * from sync.school_checks
    union all by name select * from sync.user_checks
    union all by name select * from sync.section_checks
    union all by name select * from sync.enrollment_checks
    union all by name select * from sync.term_checks
    union all by name select * from sync.course_checks
    union all by name select * from sync.relationship_checks
),

file_problems as (
    select
        record_type,
        field,
        null::varchar as error_value,
        error_code,
        null::varchar as source_id,
        null::bigint as app_id,
        null::varchar as school,
        null::varchar as name,
        reason as message,
        location as source_file,
        source_row
    from config.fetch_problems
),

problems as (
    select * from record_problems
    union all by name select * from file_problems
),

final as (
    select
        problems.record_type,
        problems.field,
        problems.error_value,
        problems.error_code,
        problems.source_id,
        problems.app_id,
        problems.school,
        problems.name,
        problems.message,
        error_codes.remediation,
        run.run_id,
        problems.source_file,
        problems.source_row
    from problems
    cross join config.run as run
    left join config.error_codes as error_codes on error_codes.error_code = problems.error_code
)

select * from final
