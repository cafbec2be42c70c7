-- Terms (academic sessions) and courses join the roster, and a section names its term and
-- course by app id: the same names and columns as the DuckDB roster schema (docs/tables.md).
-- The new sections columns come last, as in DuckDB.

-- A parent term and its child may be created by one insert: a foreign key that is not deferred
-- is checked at the end of the statement, so the order of the rows does not matter.
create table terms (
    app_id bigint primary key,
    source_id text,
    name text,
    term_type text,
    start_date date,
    end_date date,
    school_year text,
    parent_term_app_id bigint references terms (app_id),
    status text not null default 'active' check (status in ('active', 'inactive')),
    origin text not null default 'sync',
    created_run_id text,
    updated_run_id text,
    constraint terms_source_id_key unique (source_id) deferrable initially deferred
);

create table courses (
    app_id bigint primary key,
    source_id text,
    title text,
    course_code text,
    school_app_id bigint references schools (app_id),
    school_year_app_id bigint references terms (app_id),
    status text not null default 'active' check (status in ('active', 'inactive')),
    origin text not null default 'sync',
    created_run_id text,
    updated_run_id text,
    constraint courses_source_id_key unique (source_id) deferrable initially deferred
);

alter table sections add column term_app_id bigint references terms (app_id);
alter table sections add column course_app_id bigint references courses (app_id);

create index courses_school_app_id_idx on courses (school_app_id);
create index sections_term_app_id_idx on sections (term_app_id);
create index sections_course_app_id_idx on sections (course_app_id);

create table terms_history (
    app_id bigint not null,
    source_id text,
    name text,
    term_type text,
    start_date date,
    end_date date,
    school_year text,
    parent_term_app_id bigint,
    status text not null,
    origin text not null,
    created_run_id text,
    updated_run_id text,
    valid_from_run text,
    valid_to_run text,
    valid_from timestamptz not null,
    valid_to timestamptz
);

create table courses_history (
    app_id bigint not null,
    source_id text,
    title text,
    course_code text,
    school_app_id bigint,
    school_year_app_id bigint,
    status text not null,
    origin text not null,
    created_run_id text,
    updated_run_id text,
    valid_from_run text,
    valid_to_run text,
    valid_from timestamptz not null,
    valid_to timestamptz
);

alter table sections_history add column term_app_id bigint;
alter table sections_history add column course_app_id bigint;

create unique index terms_history_current_idx on terms_history (app_id) where valid_to is null;
create unique index courses_history_current_idx on courses_history (app_id)
    where valid_to is null;
create index terms_history_app_id_idx on terms_history (app_id, valid_from);
create index courses_history_app_id_idx on courses_history (app_id, valid_from);
