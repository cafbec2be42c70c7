-- The empty invalid_values list, typed as rs_invalid_value's entries: for staging models (or
-- branches) whose values need no cast.
create or replace macro rs_no_invalid_values() as
[]::struct(
    field varchar, value varchar, reason varchar, source_file varchar, source_row bigint
)[]
