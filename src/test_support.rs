//! Helpers shared by the unit tests: the fixture files (kept in `tests/fixtures/`) and the
//! token they were recorded with.

use crate::normalise::{decode_v1_poll, Event};

pub const FIXTURE_TOKEN: &str = "3F2504E0-4F89-11D3-9A0C-0305E82C3301";

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Every event of a `.v1.jsonl` fixture, in order, skipping the fault lines.
pub fn fixture_events(name: &str) -> Vec<Event> {
    fixture(name)
        .lines()
        .filter(|l| !l.contains("__status__"))
        .flat_map(|l| {
            decode_v1_poll(l.as_bytes(), FIXTURE_TOKEN, 0.0)
                .unwrap()
                .events
        })
        .map(Result::unwrap)
        .collect()
}

/// Adds `n` screen-pop rows to the outbox in `state`, created, last due and last updated at
/// `at`: what retention looks at.
pub fn add_outbox(conn: &crate::store::db::Conn, n: usize, state: &str, at: f64) {
    let tx = conn.unchecked_transaction().unwrap();
    for _ in 0..n {
        tx.execute(
            "INSERT INTO outbox (token_id, kind, url, webhook_id, event, dedupe, next_attempt_at, state, created_at, updated_at)
             VALUES ('t', 'pop', 'https://crm.example/', 'msg', 'start_ringing', hex(randomblob(16)), ?2, ?1, ?2, ?2)",
            crate::store::db::params![state, at],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

/// The PostgreSQL the tests use: `OVH_CTI_TEST_POSTGRES`, by default the machine's service.
pub const TEST_POSTGRES: &str = "postgres://127.0.0.1:5432/test?user=postgres";

/// A fresh, empty schema on the test PostgreSQL, named after `test` (and this process, so
/// runs side by side do not meet), and an address whose connections use it; `None` when no
/// PostgreSQL answers — except under CI (`CI=true`), where the service must be there.
pub fn postgres_schema(test: &str) -> Option<crate::store::db::PostgresUrl> {
    use crate::store::db::{Conn, PostgresUrl};
    let base = std::env::var("OVH_CTI_TEST_POSTGRES").unwrap_or_else(|_| TEST_POSTGRES.into());
    let admin = match PostgresUrl::parse(&base)
        .and_then(|u| Conn::postgres(&u).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("{test}: skipped, PostgreSQL not reachable ({e})");
            return None;
        }
        Err(e) => panic!("{test}: PostgreSQL is required under CI: {e}"),
    };
    let name = format!(
        "t_{}_",
        test.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    );
    let schema = format!("{name}{}", std::process::id());
    // The same test's schemas from earlier runs go first.
    let old: Vec<String> = admin
        .prepare("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, ?1)")
        .unwrap()
        .query_map([name.as_str()], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for s in old.iter().chain([&schema]) {
        admin
            .execute_batch(&format!("DROP SCHEMA IF EXISTS {s} CASCADE"))
            .unwrap();
    }
    admin
        .execute_batch(&format!("CREATE SCHEMA {schema}"))
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(PostgresUrl::parse(&format!("{base}{sep}options=-csearch_path%3D{schema}")).unwrap())
}
