-- A section's primary teacher among its co-teachers: enrollments.is_primary, as in the DuckDB
-- roster schema (docs/tables.md). Nullable and added at the end of the table, so a destination
-- made before keeps its rows; its enrollments have no flag until the next sync sets it.

alter table enrollments add column is_primary boolean;
alter table enrollments_history add column is_primary boolean;
