-- A Clever student's programs: ELL / FRL / IEP / 504 / Gifted from the read *_status flags,
-- plus the district's own program names (ext.programs), sorted and without repeats as the other
-- providers list them (the same student gives the same list from every format).
create or replace macro rs_clever_programs(ell, frl, iep, section_504, gifted, ext_programs) as
list_sort(list_distinct(list_filter(
    list_concat(
        [
            case when ell then 'ELL' end,
            case when frl then 'FRL' end,
            case when iep then 'IEP' end,
            case when section_504 then '504' end,
            case when gifted then 'Gifted' end
        ],
        coalesce(ext_programs, []::varchar[])
    ),
    lambda p: p is not null and p <> ''
)))
