-- A free / reduced lunch status -> struct(value BOOLEAN, problem VARCHAR), case and spaces
-- ignored: free / reduced (f / r) are true, paid (p) false, and the booleans rs_boolean reads
-- (true / t / yes / y / 1, false / no / n / 0; a lone f is free). Anything else is a problem
-- (value NULL); an empty value is no value and no problem. Macros call no other macro here, so
-- the boolean words are listed again.
create or replace macro rs_frl(value) as
{
    'value': case
        when lower(trim(value)) in ('f', 'r', 'free', 'reduced', 'true', 't', 'yes', 'y', '1')
            then true
        when lower(trim(value)) in ('p', 'paid', 'false', 'no', 'n', '0') then false
    end,
    'problem': case
        when nullif(trim(value), '') is null then null
        when lower(trim(value)) not in (
            'f', 'r', 'free', 'reduced', 'true', 't', 'yes', 'y', '1',
            'p', 'paid', 'false', 'no', 'n', '0'
        ) then 'not a free / reduced lunch status: rostersync reads free, reduced, paid and '
            || 'true / false (yes / no, y / n, 1 / 0)'
    end
}
