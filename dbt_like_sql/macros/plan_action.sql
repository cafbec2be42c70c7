-- The action a plan takes for one incoming record (users, sections, enrollments):
-- skip: new, but deleted at the source or the import rule is update_only (the plan drops it)
-- create: new
-- deactivate: deleted at the source, active, created by sync, and deactivations are allowed
-- unchanged: deleted but not deactivated, or nothing to change
-- reactivate: the app record is inactive
-- update: a synced field differs (changed_fields)
create or replace macro plan_action(
    is_new, is_deleted, import_rule, may_deactivate, roster_status, origin, changed_fields
) as
case
    when is_new and (is_deleted or import_rule = 'update_only') then 'skip'
    when is_new then 'create'
    when is_deleted and roster_status = 'active' and origin = 'sync' and may_deactivate
        then 'deactivate'
    when is_deleted then 'unchanged'
    when roster_status <> 'active' then 'reactivate'
    when len(changed_fields) > 0 then 'update'
    else 'unchanged'
end
