-- The app term of every term source id this run can point at: the terms of this landing that
-- the plan keeps, and the app's other terms (a delta landing need not resend them).
with planned as (
    select source_id, app_id from sync.plan_terms where action <> 'deactivate'
),

roster_terms as (
    select roster_terms.source_id, roster_terms.app_id
    from roster.terms as roster_terms
    anti join sync.plan_terms as plan_terms on plan_terms.source_id = roster_terms.source_id
    where roster_terms.source_id is not null
),

final as (
    select * from planned
    union all
    select * from roster_terms
)

select * from final
