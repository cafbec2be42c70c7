-- What rostersync needs besides the roster: the change feed the app reads, the record of every
-- applied run (crash-safe ordering with the district's DuckDB run record), the webhook outbox,
-- and which district owns this schema.

create table district (
    district_id text primary key,
    claimed_at timestamptz not null default now(),
    -- at most one row: one district per destination schema
    singleton boolean not null default true unique check (singleton)
);

create table change_feed (
    feed_id bigserial primary key,
    run_id text not null,
    entity text not null,
    app_id bigint not null,
    action text not null,
    changed_fields text[] not null default '{}',
    applied_at timestamptz not null
);
create index change_feed_run_id_idx on change_feed (run_id);

create table applied_runs (
    run_id text primary key,
    applied_seq bigserial unique,
    kind text not null check (kind in ('sync', 'approval', 'restore')),
    plan_id text,
    plan_fingerprint text not null,
    changes bigint not null,
    feed_after bigint not null,
    feed_until bigint not null,
    summary jsonb not null,
    applied_at timestamptz not null
);

create table webhook_deliveries (
    run_id text primary key references applied_runs (run_id),
    url text not null,
    body text not null,
    status text not null check (status in ('pending', 'delivered', 'failed')),
    attempts integer not null default 0,
    last_status_code integer,
    last_error text,
    created_at timestamptz not null,
    last_attempt_at timestamptz,
    delivered_at timestamptz
);
create index webhook_deliveries_undelivered_idx on webhook_deliveries (created_at)
    where status <> 'delivered';
