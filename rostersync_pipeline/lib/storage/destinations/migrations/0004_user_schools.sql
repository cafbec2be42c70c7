-- Every school an app user belongs to (a user's primary school is also its users.school_app_id):
-- the same name and columns as the DuckDB roster schema (docs/tables.md). A link has no source
-- id: it is the pair (user, school), one row per pair; a sync never changes a link's pair, only
-- is_primary and status.

create table user_schools (
    app_id bigint primary key,
    user_app_id bigint not null references users (app_id),
    school_app_id bigint not null references schools (app_id),
    is_primary boolean not null,
    status text not null default 'active' check (status in ('active', 'inactive')),
    origin text not null default 'sync',
    created_run_id text,
    updated_run_id text,
    constraint user_schools_user_app_id_school_app_id_key unique (user_app_id, school_app_id)
);

-- (user_app_id, school_app_id) serves a user's links; this one a school's users.
create index user_schools_school_app_id_idx on user_schools (school_app_id);

create table user_schools_history (
    app_id bigint not null,
    user_app_id bigint not null,
    school_app_id bigint not null,
    is_primary boolean not null,
    status text not null,
    origin text not null,
    created_run_id text,
    updated_run_id text,
    valid_from_run text,
    valid_to_run text,
    valid_from timestamptz not null,
    valid_to timestamptz
);

create unique index user_schools_history_current_idx on user_schools_history (app_id)
    where valid_to is null;
create index user_schools_history_app_id_idx on user_schools_history (app_id, valid_from);
