//! The schema and its migrations, for both databases. On SQLite each entry of `MIGRATIONS`
//! runs once, in order, and `PRAGMA user_version` records how many have run. PostgreSQL
//! installations start from `POSTGRES_BASELINE`, the same schema as SQLite's after its first
//! `POSTGRES_BASELINE_VERSION` migrations, written in PostgreSQL's types; a migration added
//! later runs on both, so it is written in the SQL both understand (`ALTER TABLE … ADD
//! COLUMN`, `CREATE INDEX`), and PostgreSQL records its number in `store_meta`. Add new ones
//! at the end, never edit old ones.

use super::db::{params, Conn, DbError, Dialect};

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    source TEXT NOT NULL,
    added_at REAL NOT NULL,
    session TEXT
);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    token_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    received_at REAL NOT NULL,
    at REAL NOT NULL,
    event TEXT NOT NULL,
    number TEXT NOT NULL,
    service TEXT NOT NULL,
    calling TEXT, called TEXT, dialed TEXT, call_id TEXT,
    latency_ms REAL,
    raw TEXT NOT NULL,
    UNIQUE (token_id, fingerprint)
);
CREATE INDEX events_by_token ON events (token_id, seq);
CREATE TABLE calls (
    id INTEGER PRIMARY KEY,
    token_id TEXT NOT NULL,
    number TEXT NOT NULL,
    call_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    calling TEXT, called TEXT, dialed TEXT,
    started_at REAL NOT NULL,
    answered_at REAL,
    ended_at REAL NOT NULL,
    ring_s REAL NOT NULL,
    talk_s REAL NOT NULL,
    outcome TEXT NOT NULL,
    UNIQUE (token_id, number, call_id, started_at)
);
CREATE INDEX calls_by_end ON calls (token_id, ended_at, id);
CREATE TABLE queue_journal (
    id INTEGER PRIMARY KEY,
    token_id TEXT NOT NULL,
    queue TEXT NOT NULL,
    member TEXT NOT NULL,
    caller TEXT, agent TEXT,
    joined_at REAL NOT NULL,
    answered_at REAL,
    left_at REAL NOT NULL,
    wait_s REAL NOT NULL,
    talk_s REAL NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL,
    UNIQUE (token_id, queue, member)
);
CREATE INDEX journal_by_leave ON queue_journal (token_id, left_at, id);
CREATE TABLE settings (
    token_id TEXT PRIMARY KEY,
    json TEXT NOT NULL
);
CREATE TABLE snapshots (
    token_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    board TEXT NOT NULL,
    saved_at REAL NOT NULL
);
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    token_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
"#,
    // Screen pops and webhooks: endpoints, the outbox (written in the event's own transaction,
    // so a restart loses no delivery) and the log of every attempt.
    r#"
CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY,
    token_id TEXT NOT NULL,
    url TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at REAL NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    disabled_at REAL,
    failing_since REAL,
    last_success_at REAL
);
CREATE INDEX webhooks_by_token ON webhooks (token_id, id);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    token_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('pop', 'webhook')),
    endpoint_id INTEGER,
    url TEXT NOT NULL,
    body TEXT,
    webhook_id TEXT NOT NULL,
    event TEXT NOT NULL,
    dedupe TEXT NOT NULL UNIQUE,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'gave_up')),
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    last_error TEXT
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    outbox_id INTEGER NOT NULL,
    token_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    endpoint_id INTEGER,
    event TEXT NOT NULL,
    at REAL NOT NULL,
    url TEXT NOT NULL,
    status INTEGER,
    latency_ms REAL,
    error TEXT,
    attempt INTEGER NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX deliveries_by_token ON deliveries (token_id, id);
"#,
    // Exactly-once history: a call's identity is (token, line, call id, start in whole
    // microseconds), an integer, never a float that a JSON round trip may move by one ulp.
    // Rows that an earlier version recorded twice (the same call, started_at a hair apart)
    // are collapsed first, keeping the last one written. The table is rebuilt so that the
    // old float key goes; ids are kept, so history cursors stay valid.
    r#"
DELETE FROM calls WHERE EXISTS (
    SELECT 1 FROM calls AS c2
    WHERE c2.token_id = calls.token_id AND c2.number = calls.number AND c2.call_id = calls.call_id
      AND c2.started_at BETWEEN calls.started_at - 0.001 AND calls.started_at + 0.001
      AND c2.id > calls.id
);
CREATE TABLE calls_v3 (
    id INTEGER PRIMARY KEY,
    token_id TEXT NOT NULL,
    number TEXT NOT NULL,
    call_id TEXT NOT NULL,
    started_us INTEGER NOT NULL,
    direction TEXT NOT NULL,
    calling TEXT, called TEXT, dialed TEXT,
    started_at REAL NOT NULL,
    answered_at REAL,
    ended_at REAL NOT NULL,
    ring_s REAL NOT NULL,
    talk_s REAL NOT NULL,
    outcome TEXT NOT NULL,
    UNIQUE (token_id, number, call_id, started_us)
);
INSERT INTO calls_v3 (id, token_id, number, call_id, started_us, direction, calling, called, dialed, started_at, answered_at, ended_at, ring_s, talk_s, outcome)
    SELECT id, token_id, number, call_id, CAST(round(started_at * 1000000.0) AS INTEGER), direction, calling, called, dialed, started_at, answered_at, ended_at, ring_s, talk_s, outcome
    FROM calls;
DROP TABLE calls;
ALTER TABLE calls_v3 RENAME TO calls;
CREATE INDEX calls_by_end ON calls (token_id, ended_at, id);
"#,
    // Followed tokens have a life: `paused` (OVH refused it for days, or an operator paused
    // it: no more polling), `removed` (its secret already wiped; the running service finishes
    // the removal — and the purge, when asked — then deletes the row). `refused_since` starts
    // a streak of OVH refusals and survives restarts, so that "refused for N days" means it.
    r#"
ALTER TABLE tokens ADD COLUMN state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused', 'removed'));
ALTER TABLE tokens ADD COLUMN state_at REAL;
ALTER TABLE tokens ADD COLUMN state_reason TEXT;
ALTER TABLE tokens ADD COLUMN refused_since REAL;
ALTER TABLE tokens ADD COLUMN last_success_at REAL;
ALTER TABLE tokens ADD COLUMN purge INTEGER NOT NULL DEFAULT 0;
CREATE INDEX sessions_by_token ON sessions (token_id);
"#,
    // Webhook endpoint ids are never used twice: with a plain INTEGER PRIMARY KEY, SQLite gave
    // a deleted endpoint's id to the next one, and the old endpoint's deliveries showed under
    // the new one (issue 8). AUTOINCREMENT needs the table rebuilt; its counter then starts
    // above every id in use anywhere, deleted endpoints' included. Indexes for the queries by
    // endpoint (deleting one, its tests, the log filtered by endpoint). An endpoint saved
    // before URLs had a cap (2 KiB) is disabled, not deleted: its owner sees why, and can
    // delete it; its pending deliveries fail, as when an endpoint is disabled.
    r#"
CREATE TABLE webhooks_v5 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_id TEXT NOT NULL,
    url TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at REAL NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    disabled_at REAL,
    failing_since REAL,
    last_success_at REAL
);
INSERT INTO webhooks_v5 SELECT id, token_id, url, description, events, secret, created_at, enabled, disabled_reason, disabled_at, failing_since, last_success_at FROM webhooks;
DROP TABLE webhooks;
ALTER TABLE webhooks_v5 RENAME TO webhooks;
CREATE INDEX webhooks_by_token ON webhooks (token_id, id);
DELETE FROM sqlite_sequence WHERE name IN ('webhooks', 'webhooks_v5');
INSERT INTO sqlite_sequence (name, seq) SELECT 'webhooks', MAX(
    (SELECT COALESCE(MAX(id), 0) FROM webhooks),
    (SELECT COALESCE(MAX(endpoint_id), 0) FROM outbox),
    (SELECT COALESCE(MAX(endpoint_id), 0) FROM deliveries));
CREATE INDEX outbox_by_endpoint ON outbox (endpoint_id) WHERE endpoint_id IS NOT NULL;
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, id) WHERE endpoint_id IS NOT NULL;
UPDATE webhooks SET enabled = 0, disabled_at = created_at,
    disabled_reason = 'the address is longer than 2 KiB, the most accepted now: delete this endpoint and create it again'
    WHERE length(url) > 2048 AND enabled = 1;
UPDATE outbox SET state = 'failed', last_error = 'the endpoint''s address is longer than 2 KiB'
    WHERE state = 'pending' AND endpoint_id IN (SELECT id FROM webhooks WHERE length(url) > 2048);
"#,
    // A call on an agent's line rung by a queue is a queue offer: the queue it came through
    // and the real caller (issue 9: unanswered offers were counted as missed calls from the
    // queue's number). Older rows stay as they were recorded.
    r#"
ALTER TABLE calls ADD COLUMN queue TEXT;
ALTER TABLE calls ADD COLUMN queue_caller TEXT;
"#,
    // Callers to call back are worked out by the store (issue 9: the page did it from at
    // most 1,000 rows): indexes to find each caller's attempts and later answered calls, and
    // the "done" marks every user of a token shares.
    r#"
CREATE INDEX calls_by_outcome ON calls (token_id, outcome, started_at);
CREATE INDEX journal_by_outcome ON queue_journal (token_id, outcome, joined_at);
CREATE TABLE callback_done (
    token_id TEXT NOT NULL,
    number TEXT NOT NULL,
    done_at REAL NOT NULL,
    PRIMARY KEY (token_id, number)
);
"#,
    // History is listed newest first by when each call started, the time the page shows
    // (issue 9: it was sorted by the end, so a long call sat below later, shorter ones).
    r#"
CREATE INDEX calls_by_start ON calls (token_id, started_at, id);
"#,
    // People, not tokens (issue 10): organisations (the tokens an admin attached), their
    // users with a role and an argon2id password hash, sessions that belong to a user, and
    // the audit log of who changed what.
    r#"
CREATE TABLE orgs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    token_login INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL
);
CREATE TABLE org_tokens (
    token_id TEXT PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES orgs (id)
);
CREATE INDEX org_tokens_by_org ON org_tokens (org_id);
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL REFERENCES orgs (id),
    login TEXT NOT NULL COLLATE NOCASE UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent', 'viewer')),
    lines TEXT NOT NULL DEFAULT '[]',
    queues TEXT NOT NULL DEFAULT '[]',
    disabled_at REAL,
    created_at REAL NOT NULL
);
ALTER TABLE sessions ADD COLUMN user_id INTEGER;
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_by_org ON audit (org_id, id);
"#,
    // Wall-screen links (issue 10): a revocable, read-only link for a TV, its key kept only
    // as a SHA-256, optionally restricted to an address range; the sessions it opened.
    r#"
CREATE TABLE wall_links (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL REFERENCES orgs (id),
    token_id TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    allow TEXT,
    created_at REAL NOT NULL,
    last_used_at REAL
);
ALTER TABLE sessions ADD COLUMN link_id INTEGER;
"#,
    // A second factor for user accounts (issue 10): the TOTP secret (active, or being set up
    // until a first code confirms it) and the last step a code was accepted for (no replay).
    r#"
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_pending TEXT;
ALTER TABLE users ADD COLUMN totp_step INTEGER;
"#,
    // A user's own screen pop (issue 10): an agent chooses how their calls pop, in place of
    // the organisation's (NULL: they follow the organisation's).
    r#"
ALTER TABLE users ADD COLUMN screen_pop TEXT;
"#,
    // Access to OVH's REST API (issue 11), per organisation: the application key and secret
    // and the consumer key, kept like tokens (in this file, never shown again), the key's
    // state while its owner validates it at OVH, and what went wrong last.
    r#"
CREATE TABLE ovh_access (
    org_id INTEGER PRIMARY KEY REFERENCES orgs (id),
    application_key TEXT NOT NULL,
    application_secret TEXT NOT NULL,
    consumer_key TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'validated')),
    validation_url TEXT,
    created_at REAL NOT NULL,
    validated_at REAL
);
"#,
    // Issue 15: a running service notices changes to the token table (`ovh-cti tokens`, the
    // admin API) within a second by reading one counter, rather than every row of ten
    // thousand tokens. Only what changes a token's life moves it, not its session or its
    // last success, which are written on every poll.
    r#"
CREATE TABLE token_changes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO token_changes (id, version) VALUES (1, 0);
CREATE TRIGGER token_added AFTER INSERT ON tokens
    BEGIN UPDATE token_changes SET version = version + 1; END;
CREATE TRIGGER token_deleted AFTER DELETE ON tokens
    BEGIN UPDATE token_changes SET version = version + 1; END;
CREATE TRIGGER token_state_changed AFTER UPDATE OF state, purge, secret ON tokens
    BEGIN UPDATE token_changes SET version = version + 1; END;
"#,
    // Issue 12: an organisation publishes its events and states to NATS JetStream for
    // integrators only when its admin asked for it.
    r#"
ALTER TABLE orgs ADD COLUMN publish_nats INTEGER NOT NULL DEFAULT 0;
"#,
    // ...and to MQTT.
    r#"
ALTER TABLE orgs ADD COLUMN publish_mqtt INTEGER NOT NULL DEFAULT 0;
"#,
    // Issue 13: the listings filtered by a line or a queue are walked in their own index,
    // newest first. Through the token's whole index instead, a line's newest 100 calls read
    // the rows of every other line in between — about 5,000 for 100 on 50 lines, and the whole
    // token's history for a line that rarely calls. `store::query_plans` checks that each
    // listing's query is served this way.
    r#"
CREATE INDEX calls_by_number ON calls (token_id, number, started_at);
CREATE INDEX journal_by_queue ON queue_journal (token_id, queue, left_at);
CREATE INDEX events_by_number ON events (token_id, number, seq);
"#,
    // Issue 12: several instances on one PostgreSQL database divide the tokens with leases
    // (`store::leases`); each instance says it is alive in `instances`, and claims the
    // deliveries it attempts (`hooks::outbox::due`), so that each is attempted by one. A token's last stored
    // event is kept with its session, so that instances that show a token another one follows
    // see cheaply that it moved. (SQLite has the tables too and never uses the leases: one
    // process owns the file.)
    r#"
CREATE TABLE instances (
    id TEXT PRIMARY KEY,
    started_at DOUBLE PRECISION NOT NULL,
    seen_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE token_leases (
    token_id TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
ALTER TABLE tokens ADD COLUMN last_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claimed_until DOUBLE PRECISION;
"#,
    // Issue 12: what an instance asks of a token another one follows reaches it through the
    // token's row: its settings changed (`settings_version`), a reset asked (`reset_asked`)
    // and done by the following instance (`reset_done`, once its snapshot is stored).
    r#"
ALTER TABLE tokens ADD COLUMN settings_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN reset_asked BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN reset_done BIGINT NOT NULL DEFAULT 0;
"#,
];

/// The SQLite migrations the PostgreSQL baseline stands for.
const POSTGRES_BASELINE_VERSION: usize = 17;
const _: () = assert!(POSTGRES_BASELINE_VERSION <= VERSION);

/// The schema of SQLite's first `POSTGRES_BASELINE_VERSION` migrations, in PostgreSQL's
/// words: `BIGINT` for SQLite's integers (flags stay 0 / 1, as the queries compare them),
/// `DOUBLE PRECISION` for its reals, identity columns for its `INTEGER PRIMARY KEY`s, a
/// unique index on `lower(login)` for its `COLLATE NOCASE`, a trigger function for its
/// triggers. `store_meta` holds what SQLite keeps in its header (the schema version, the
/// database's purpose).
const POSTGRES_BASELINE: &str = r#"
CREATE TABLE store_meta (
    key TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    source TEXT NOT NULL,
    added_at DOUBLE PRECISION NOT NULL,
    session TEXT,
    state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused', 'removed')),
    state_at DOUBLE PRECISION,
    state_reason TEXT,
    refused_since DOUBLE PRECISION,
    last_success_at DOUBLE PRECISION,
    purge BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE events (
    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    token_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    received_at DOUBLE PRECISION NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    event TEXT NOT NULL,
    number TEXT NOT NULL,
    service TEXT NOT NULL,
    calling TEXT, called TEXT, dialed TEXT, call_id TEXT,
    latency_ms DOUBLE PRECISION,
    raw TEXT NOT NULL,
    UNIQUE (token_id, fingerprint)
);
CREATE INDEX events_by_token ON events (token_id, seq);
CREATE INDEX events_by_number ON events (token_id, number, seq);
CREATE TABLE calls (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    token_id TEXT NOT NULL,
    number TEXT NOT NULL,
    call_id TEXT NOT NULL,
    started_us BIGINT NOT NULL,
    direction TEXT NOT NULL,
    calling TEXT, called TEXT, dialed TEXT,
    started_at DOUBLE PRECISION NOT NULL,
    answered_at DOUBLE PRECISION,
    ended_at DOUBLE PRECISION NOT NULL,
    ring_s DOUBLE PRECISION NOT NULL,
    talk_s DOUBLE PRECISION NOT NULL,
    outcome TEXT NOT NULL,
    queue TEXT,
    queue_caller TEXT,
    UNIQUE (token_id, number, call_id, started_us)
);
CREATE INDEX calls_by_end ON calls (token_id, ended_at, id);
CREATE INDEX calls_by_outcome ON calls (token_id, outcome, started_at);
CREATE INDEX calls_by_start ON calls (token_id, started_at, id);
CREATE INDEX calls_by_number ON calls (token_id, number, started_at);
CREATE TABLE queue_journal (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    token_id TEXT NOT NULL,
    queue TEXT NOT NULL,
    member TEXT NOT NULL,
    caller TEXT, agent TEXT,
    joined_at DOUBLE PRECISION NOT NULL,
    answered_at DOUBLE PRECISION,
    left_at DOUBLE PRECISION NOT NULL,
    wait_s DOUBLE PRECISION NOT NULL,
    talk_s DOUBLE PRECISION NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL,
    UNIQUE (token_id, queue, member)
);
CREATE INDEX journal_by_leave ON queue_journal (token_id, left_at, id);
CREATE INDEX journal_by_outcome ON queue_journal (token_id, outcome, joined_at);
CREATE INDEX journal_by_queue ON queue_journal (token_id, queue, left_at);
CREATE TABLE settings (
    token_id TEXT PRIMARY KEY,
    json TEXT NOT NULL
);
CREATE TABLE snapshots (
    token_id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    board TEXT NOT NULL,
    saved_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    token_id TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    user_id BIGINT,
    link_id BIGINT
);
CREATE INDEX sessions_by_token ON sessions (token_id);
CREATE TABLE webhooks (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    token_id TEXT NOT NULL,
    url TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    disabled_at DOUBLE PRECISION,
    failing_since DOUBLE PRECISION,
    last_success_at DOUBLE PRECISION
);
CREATE INDEX webhooks_by_token ON webhooks (token_id, id);
CREATE TABLE outbox (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    token_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('pop', 'webhook')),
    endpoint_id BIGINT,
    url TEXT NOT NULL,
    body TEXT,
    webhook_id TEXT NOT NULL,
    event TEXT NOT NULL,
    dedupe TEXT NOT NULL UNIQUE,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at DOUBLE PRECISION NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'gave_up')),
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    last_error TEXT
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_by_endpoint ON outbox (endpoint_id) WHERE endpoint_id IS NOT NULL;
CREATE TABLE deliveries (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    outbox_id BIGINT NOT NULL,
    token_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    endpoint_id BIGINT,
    event TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    url TEXT NOT NULL,
    status BIGINT,
    latency_ms DOUBLE PRECISION,
    error TEXT,
    attempt BIGINT NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX deliveries_by_token ON deliveries (token_id, id);
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, id) WHERE endpoint_id IS NOT NULL;
CREATE TABLE callback_done (
    token_id TEXT NOT NULL,
    number TEXT NOT NULL,
    done_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (token_id, number)
);
CREATE TABLE orgs (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL,
    token_login BIGINT NOT NULL DEFAULT 1,
    created_at DOUBLE PRECISION NOT NULL,
    publish_nats BIGINT NOT NULL DEFAULT 0,
    publish_mqtt BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE org_tokens (
    token_id TEXT PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES orgs (id)
);
CREATE INDEX org_tokens_by_org ON org_tokens (org_id);
CREATE TABLE users (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    login TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent', 'viewer')),
    lines TEXT NOT NULL DEFAULT '[]',
    queues TEXT NOT NULL DEFAULT '[]',
    disabled_at DOUBLE PRECISION,
    created_at DOUBLE PRECISION NOT NULL,
    totp_secret TEXT,
    totp_pending TEXT,
    totp_step BIGINT,
    screen_pop TEXT
);
CREATE UNIQUE INDEX users_by_login ON users (lower(login));
CREATE TABLE audit (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    org_id BIGINT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_by_org ON audit (org_id, id);
CREATE TABLE wall_links (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    token_id TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    allow TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    last_used_at DOUBLE PRECISION
);
CREATE TABLE ovh_access (
    org_id BIGINT PRIMARY KEY REFERENCES orgs (id),
    application_key TEXT NOT NULL,
    application_secret TEXT NOT NULL,
    consumer_key TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'validated')),
    validation_url TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    validated_at DOUBLE PRECISION
);
CREATE TABLE token_changes (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO token_changes (id, version) VALUES (1, 0);
CREATE FUNCTION token_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN UPDATE token_changes SET version = version + 1; RETURN NULL; END
$$;
CREATE TRIGGER token_added AFTER INSERT ON tokens
    FOR EACH ROW EXECUTE FUNCTION token_changed();
CREATE TRIGGER token_deleted AFTER DELETE ON tokens
    FOR EACH ROW EXECUTE FUNCTION token_changed();
CREATE TRIGGER token_state_changed AFTER UPDATE OF state, purge, secret ON tokens
    FOR EACH ROW EXECUTE FUNCTION token_changed();
"#;

/// How many migrations there are: the `user_version` of an up-to-date database.
pub const VERSION: usize = MIGRATIONS.len();

pub fn migrate(conn: &mut Conn) -> Result<(), DbError> {
    match conn.dialect() {
        Dialect::Sqlite => migrate_up_to(conn, VERSION),
        Dialect::Postgres => migrate_postgres(conn),
    }
}

/// PostgreSQL: the baseline once, then the later migrations. Instances starting together
/// take a transaction-wide advisory lock first, so one of them builds the schema and the
/// others find it built.
fn migrate_postgres(conn: &mut Conn) -> Result<(), DbError> {
    const LOCK: i64 = 0x6f76_6863_7363; // "ovhcsc"
    let tx = conn.transaction()?;
    tx.execute_batch(&format!("SELECT pg_advisory_xact_lock({LOCK})"))?;
    let exists: bool = tx.query_row(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'store_meta'",
        (),
        |r| r.get(0),
    )?;
    if !exists {
        tx.execute_batch(POSTGRES_BASELINE)?;
        tx.execute(
            "INSERT INTO store_meta (key, value) VALUES ('schema_version', ?1)",
            params![POSTGRES_BASELINE_VERSION as i64],
        )?;
    }
    let done: usize = tx.query_row(
        "SELECT value FROM store_meta WHERE key = 'schema_version'",
        (),
        |r| r.get(0),
    )?;
    if done > VERSION {
        return Err(DbError::Other(format!(
            "the database's schema is version {done}, newer than this ovh-cti's {VERSION}: run the newer version"
        )));
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(done.max(POSTGRES_BASELINE_VERSION))
    {
        tx.execute_batch(sql)?;
        tx.execute(
            "UPDATE store_meta SET value = ?1 WHERE key = 'schema_version'",
            params![(i + 1) as i64],
        )?;
    }
    tx.commit()
}

/// Runs the migrations up to the `version`th (tests build databases as older versions left them).
pub(super) fn migrate_up_to(conn: &mut Conn, version: usize) -> Result<(), DbError> {
    let done: usize = conn.query_row("PRAGMA user_version", (), |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().take(version).skip(done) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        tx.commit()?;
    }
    Ok(())
}
