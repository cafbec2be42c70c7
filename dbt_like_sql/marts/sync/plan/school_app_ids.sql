-- The app school of every school source id this run can place people and sections in: the
-- schools of this landing with their planned action, and the app's other active schools (a
-- delta landing need not resend orgs.csv).
with plan_schools as (
    select source_id, action, app_id from sync.plan_schools
),

roster_schools as (
    select roster_schools.source_id, 'unchanged' as action, roster_schools.app_id
    from roster.schools as roster_schools
    anti join sync.plan_schools on plan_schools.source_id = roster_schools.source_id
    where roster_schools.status = 'active' and roster_schools.source_id is not null
),

final as (
    select * from plan_schools
    union all
    select * from roster_schools
)

select * from final
