-- One entry of a staging model's invalid_values list: the canonical field, the value as sent,
-- why it could not be read (NULL: it could) and the file and row it came from. Staging builds
-- list_filter([rs_invalid_value(...), ...], lambda p: p.reason is not null), so every model
-- emits the same struct type.
create or replace macro rs_invalid_value(field, value, reason, source_file, source_row) as
{
    'field': field::varchar,
    'value': value::varchar,
    'reason': reason::varchar,
    'source_file': source_file::varchar,
    'source_row': source_row::bigint
}
