-- An enrollment is the pair (section, user) in a role; its source id is the SIS's id for it,
-- which some SISes keep when a student moves to another section. One run then deactivates the
-- old enrollment and creates the new one under the same source id, as the DuckDB roster does:
-- the source id of an enrollment is indexed, not unique.

alter table enrollments drop constraint enrollments_source_id_key;
create index enrollments_source_id_idx on enrollments (source_id);
