-- A list without its repeats, each value where it first appears (DuckDB's list_distinct does not
-- keep the order, and a user's first school is their primary one).
create or replace macro rs_distinct_in_order(values) as
list_filter(values, lambda v, i: list_position(values, v) = i)
