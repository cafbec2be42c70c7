-- A boolean as sources write it -> struct(value BOOLEAN, problem VARCHAR), case and spaces
-- ignored: true / t / yes / y / 1 and false / f / no / n / 0. Anything else is a problem (value
-- NULL); an empty value is no value and no problem.
create or replace macro rs_boolean(value) as
{
    'value': case
        when lower(trim(value)) in ('true', 't', 'yes', 'y', '1') then true
        when lower(trim(value)) in ('false', 'f', 'no', 'n', '0') then false
    end,
    'problem': case
        when nullif(trim(value), '') is null then null
        when lower(trim(value)) not in ('true', 't', 'yes', 'y', '1', 'false', 'f', 'no', 'n', '0')
            then 'not a boolean: rostersync reads true / false (also yes / no, y / n, t / f, 1 / 0)'
    end
}
