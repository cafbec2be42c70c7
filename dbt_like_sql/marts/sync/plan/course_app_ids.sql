-- The app course of every course source id this run can point at: the courses of this landing
-- that the plan keeps, and the app's other courses (a delta landing need not resend them).
with planned as (
    select source_id, app_id from sync.plan_courses where action <> 'deactivate'
),

roster_courses as (
    select roster_courses.source_id, roster_courses.app_id
    from roster.courses as roster_courses
    anti join sync.plan_courses as plan_courses
        on plan_courses.source_id = roster_courses.source_id
    where roster_courses.source_id is not null
),

final as (
    select * from planned
    union all
    select * from roster_courses
)

select * from final
