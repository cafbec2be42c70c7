-- The action a plan takes for one link it keeps (a user's school, a guardian's student): the
-- link the app holds for the pair (link_app_id, NULL when none) and how it compares.
create or replace macro rs_link_action(link_app_id, roster_status, changed_fields) as
case
    when link_app_id is null then 'create'
    when roster_status <> 'active' then 'reactivate'
    when len(changed_fields) > 0 then 'update'
    else 'unchanged'
end
