-- The school year of a term that carries none (Clever, the CSV formats), as OneRoster writes it:
-- the year in which the school year ends. A school year ends on June 30, so a term that ends in
-- July or later (a fall semester) belongs to the school year ending the next year.
create or replace macro rs_school_year(end_date) as
(year(end_date) + case when month(end_date) >= 7 then 1 else 0 end)::varchar
