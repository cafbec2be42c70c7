-- Every role word the source gives a person (users.roles: a teacher who is also an
-- administrator has both), as in the DuckDB roster schema (docs/tables.md). Nullable and added
-- at the end of the table, so a destination made before keeps its rows; its users have no
-- roles until the next sync fills them in.

alter table users add column roles text[];
alter table users_history add column roles text[];
