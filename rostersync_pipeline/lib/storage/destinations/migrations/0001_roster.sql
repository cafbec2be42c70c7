-- The roster tables an app reads: the same names and columns as the DuckDB roster schema
-- (docs/tables.md), with the constraints an app relies on. Runs with search_path set to the
-- destination schema only: every name below is a table of that schema.

create table schools (
    app_id bigint primary key,
    custom_name text not null,
    source_id text,
    sis_id text,
    state_id text,
    nces_id text,
    status text not null default 'active' check (status in ('active', 'inactive')),
    origin text not null default 'sync',
    created_run_id text,
    updated_run_id text,
    -- NULLs are distinct: unique among the records that have a source id. Deferred to commit,
    -- so one run may hand a source id from one record to another (an ID rotation).
    constraint schools_source_id_key unique (source_id) deferrable initially deferred
);

create table users (
    app_id bigint primary key,
    role text not null,
    source_id text,
    sis_id text,
    state_id text,
    student_number text,
    email text,
    username text,
    first_name text,
    middle_name text,
    last_name text,
    birth_date date,
    grade text,
    school_app_id bigint,
    programs text[],
    status text not null default 'active' check (status in ('active', 'inactive')),
    origin text not null default 'sync',
    app_notes text,
    created_run_id text,
    updated_run_id text,
    constraint users_source_id_key unique (source_id) deferrable initially deferred
);

create table sections (
    app_id bigint primary key,
    source_id text,
    sis_id text,
    school_app_id bigint references schools (app_id),
    name text,
    course_name text,
    term_name text,
    status text not null default 'active' check (status in ('active', 'inactive')),
    origin text not null default 'sync',
    created_run_id text,
    updated_run_id text,
    constraint sections_source_id_key unique (source_id) deferrable initially deferred
);

create table enrollments (
    app_id bigint primary key,
    source_id text,
    section_app_id bigint not null references sections (app_id),
    user_app_id bigint not null references users (app_id),
    role text not null,
    status text not null default 'active' check (status in ('active', 'inactive')),
    origin text not null default 'sync',
    created_run_id text,
    updated_run_id text,
    constraint enrollments_source_id_key unique (source_id) deferrable initially deferred
);

create index sections_school_app_id_idx on sections (school_app_id);
create index enrollments_section_app_id_idx on enrollments (section_app_id);
create index enrollments_user_app_id_idx on enrollments (user_app_id);

create table change_log (
    run_id text not null,
    entity text not null,
    app_id bigint not null,
    action text not null,
    changed_fields text[],
    applied_at timestamptz not null
);
create index change_log_run_id_idx on change_log (run_id);

-- One row per version of each record: every column of the roster table, then validity.
create table schools_history (
    app_id bigint not null,
    custom_name text not null,
    source_id text,
    sis_id text,
    state_id text,
    nces_id text,
    status text not null,
    origin text not null,
    created_run_id text,
    updated_run_id text,
    valid_from_run text,
    valid_to_run text,
    valid_from timestamptz not null,
    valid_to timestamptz
);

create table users_history (
    app_id bigint not null,
    role text not null,
    source_id text,
    sis_id text,
    state_id text,
    student_number text,
    email text,
    username text,
    first_name text,
    middle_name text,
    last_name text,
    birth_date date,
    grade text,
    school_app_id bigint,
    programs text[],
    status text not null,
    origin text not null,
    app_notes text,
    created_run_id text,
    updated_run_id text,
    valid_from_run text,
    valid_to_run text,
    valid_from timestamptz not null,
    valid_to timestamptz
);

create table sections_history (
    app_id bigint not null,
    source_id text,
    sis_id text,
    school_app_id bigint,
    name text,
    course_name text,
    term_name text,
    status text not null,
    origin text not null,
    created_run_id text,
    updated_run_id text,
    valid_from_run text,
    valid_to_run text,
    valid_from timestamptz not null,
    valid_to timestamptz
);

create table enrollments_history (
    app_id bigint not null,
    source_id text,
    section_app_id bigint not null,
    user_app_id bigint not null,
    role text not null,
    status text not null,
    origin text not null,
    created_run_id text,
    updated_run_id text,
    valid_from_run text,
    valid_to_run text,
    valid_from timestamptz not null,
    valid_to timestamptz
);

-- The current version of a record (closed by the next change) and "valid at t" reads.
create unique index schools_history_current_idx on schools_history (app_id) where valid_to is null;
create unique index users_history_current_idx on users_history (app_id) where valid_to is null;
create unique index sections_history_current_idx on sections_history (app_id)
    where valid_to is null;
create unique index enrollments_history_current_idx on enrollments_history (app_id)
    where valid_to is null;
create index schools_history_app_id_idx on schools_history (app_id, valid_from);
create index users_history_app_id_idx on users_history (app_id, valid_from);
create index sections_history_app_id_idx on sections_history (app_id, valid_from);
create index enrollments_history_app_id_idx on enrollments_history (app_id, valid_from);
create index enrollments_history_section_idx on enrollments_history (section_app_id, valid_from);
