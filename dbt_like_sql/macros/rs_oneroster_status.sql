-- A OneRoster record status -> struct(is_deleted BOOLEAN, problem VARCHAR), case and spaces
-- ignored: active or empty (bulk files may leave it empty) -> false; tobedeleted, and the
-- OneRoster 1.0 inactive -> true. Anything else is a problem (is_deleted NULL: the record's
-- state is unknown, so it is not imported).
create or replace macro rs_oneroster_status(value) as
{
    'is_deleted': case
        when coalesce(lower(trim(value)), '') in ('', 'active') then false
        when lower(trim(value)) in ('tobedeleted', 'inactive') then true
    end,
    'problem': case
        when coalesce(lower(trim(value)), '') not in ('', 'active', 'tobedeleted', 'inactive')
            then 'not a OneRoster status: rostersync reads active, tobedeleted (and the 1.0 '
                || 'inactive); an empty status is active'
    end
}
