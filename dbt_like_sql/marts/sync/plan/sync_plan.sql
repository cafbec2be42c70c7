-- Every change this run would make to the roster: one row per record and action.
-- Unchanged records are not listed (they are counted in the run summary).
with schools as (
    select entity, action, app_id, source_id, changed_fields, matched_rule
    from sync.plan_schools
    where action in ('create', 'update', 'reactivate')
),

terms as (
    select entity, action, app_id, source_id, changed_fields, matched_rule
    from sync.plan_terms
    where action <> 'unchanged'
),

courses as (
    select entity, action, app_id, source_id, changed_fields, matched_rule
    from sync.plan_courses
    where action <> 'unchanged'
),

users as (
    select entity, action, app_id, source_id, changed_fields, matched_rule
    from sync.plan_users
    where action <> 'unchanged'
),

user_schools as (
    select entity, action, app_id, source_id, changed_fields, matched_rule
    from sync.plan_user_schools
    where action <> 'unchanged'
),

guardian_relationships as (
    select entity, action, app_id, source_id, changed_fields, matched_rule
    from sync.plan_guardian_relationships
    where action <> 'unchanged'
),

sections as (
    select entity, action, app_id, source_id, changed_fields, matched_rule
    from sync.plan_sections
    where action <> 'unchanged'
),

enrollments as (
    select entity, action, app_id, source_id, changed_fields, null::varchar as matched_rule
    from sync.plan_enrollments
    where action <> 'unchanged'
),

run as (
    select run_id from config.run
),

final as (
    select run.run_id, changes.*
    from (
        select * from schools
        union all select * from terms
        union all select * from courses
        union all select * from users
        union all select * from user_schools
        union all select * from guardian_relationships
        union all select * from sections
        union all select * from enrollments
    ) as changes
    cross join run
)

select * from final
