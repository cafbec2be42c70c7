-- Guardians are app users (users.role 'guardian'), linked to their students: the same name and
-- columns as the DuckDB roster schema (docs/tables.md). A link has no source id: it is the pair
-- (guardian, student), one row per pair, so a guardian shared by siblings is one user with a
-- link per sibling; a sync never changes a link's pair, only relationship and status. New tables
-- only: a destination made before keeps its rows, and the next sync creates the guardians and
-- the links of every student it imports.

create table guardian_relationships (
    app_id bigint primary key,
    guardian_app_id bigint not null references users (app_id),
    student_app_id bigint not null references users (app_id),
    relationship text,
    status text not null default 'active' check (status in ('active', 'inactive')),
    origin text not null default 'sync',
    created_run_id text,
    updated_run_id text,
    constraint guardian_relationships_guardian_app_id_student_app_id_key
        unique (guardian_app_id, student_app_id)
);

-- (guardian_app_id, student_app_id) serves a guardian's links; this one a student's guardians.
create index guardian_relationships_student_app_id_idx on guardian_relationships (student_app_id);

create table guardian_relationships_history (
    app_id bigint not null,
    guardian_app_id bigint not null,
    student_app_id bigint not null,
    relationship text,
    status text not null,
    origin text not null,
    created_run_id text,
    updated_run_id text,
    valid_from_run text,
    valid_to_run text,
    valid_from timestamptz not null,
    valid_to timestamptz
);

create unique index guardian_relationships_history_current_idx
    on guardian_relationships_history (app_id) where valid_to is null;
create index guardian_relationships_history_app_id_idx
    on guardian_relationships_history (app_id, valid_from);
