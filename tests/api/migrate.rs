//! `ovh-cti migrate` (issue 12): an installation's SQLite file — events, calls, the queue
//! journal, a user and their session, settings — copied into PostgreSQL by the binary. The
//! service started on PostgreSQL then serves the same history, and goes on recording where it
//! left off. A second copy into the same database is refused and writes nothing.
//!
//! Without a PostgreSQL at `OVH_CTI_TEST_POSTGRES` (default the machine's) these tests say
//! they were skipped; under CI (`CI=true`) they fail instead.

use crate::helpers::*;
use crate::users::{add_user, cookie_of, PASSWORD};
use ovh_cti::store::db::{Conn, PostgresUrl};
use reqwest::Method;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

/// `ovh-cti migrate --from sqlite:FROM --to TO`.
fn migrate(from: &Path, to: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ovh-cti"))
        .arg("migrate")
        .arg("--from")
        .arg(format!("sqlite:{}", from.display()))
        .args(["--to", to])
        .env_remove("OVH_CTI_MIGRATE_FROM")
        .env_remove("OVH_CTI_MIGRATE_TO")
        .env("RUST_LOG", "ovh_cti=warn")
        .output()
        .unwrap()
}

/// Every table of the SQLite file and its rows.
fn sqlite_counts(db: &Path) -> Vec<(String, i64)> {
    let conn = Conn::open_sqlite(db).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map((), |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    counts(&conn, &tables)
}

fn counts(conn: &Conn, tables: &[String]) -> Vec<(String, i64)> {
    tables
        .iter()
        .map(|t| {
            let n = conn
                .query_row(&format!("SELECT COUNT(*) FROM {t}"), (), |r| r.get(0))
                .unwrap();
            (t.clone(), n)
        })
        .collect()
}

fn postgres_counts(url: &str, tables: &[String]) -> Vec<(String, i64)> {
    let conn = Conn::postgres(&PostgresUrl::parse(url).unwrap()).unwrap();
    counts(&conn, tables)
}

fn rows(counts: &[(String, i64)], table: &str) -> i64 {
    counts.iter().find(|(t, _)| t == table).unwrap().1
}

/// An SQLite installation in a temporary folder (whatever store the suite runs on), its
/// service following Token A with `fixtures` served.
async fn installation(up: &FakeUpstream, fixtures: &[Vec<String>]) -> (TestApp, PathBuf) {
    let db = tempfile::tempdir().unwrap().keep().join("ovh-cti.db");
    for answers in fixtures {
        up.push(TOKEN_A, answers.clone());
    }
    let app = spawn_app_on(up, &db).await;
    up.idle(TOKEN_A).await;
    (app, db)
}

/// What the service serves of its history, its settings and its people.
async fn served(app: &TestApp, cookie: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        "/api/history?limit=1000",
        "/api/queue-journal?limit=1000",
        "/api/events?limit=1000",
        "/api/callbacks",
        "/api/settings",
        "/api/reports/calls",
    ] {
        out.push(app.json(path, TOKEN_A).await);
    }
    let me = app.get_with_cookie("/api/me", cookie).await;
    assert_eq!(me.status(), 200, "the user's session still holds");
    out.push(me.json().await.unwrap());
    out
}

#[tokio::test]
async fn an_sqlite_installation_moves_to_postgres_with_its_history() {
    let Some(pg) = postgres_or_skip("migrate history") else {
        return;
    };
    let up = FakeUpstream::start().await;
    // The queue's day whole, and the lines' up to a call still ringing when the file is
    // copied: the service on PostgreSQL sees it end.
    let lines = answers("lines.v1.jsonl");
    let ringing = lines
        .iter()
        .position(|a| a.contains("start_ringing"))
        .unwrap();
    let (app, db) = installation(
        &up,
        &[answers("queue.v1.jsonl"), lines[..=ringing].to_vec()],
    )
    .await;
    add_user(&db, "ada", "admin", &[]);
    let cookie = cookie_of(&app, "ada").await;
    let res = app
        .send(
            TOKEN_A,
            Method::PUT,
            "/api/settings",
            Some(json!({"service_level_s": 30})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let before = served(&app, &cookie).await;
    assert!(!before[0]["calls"].as_array().unwrap().is_empty());
    assert!(!before[2]["events"].as_array().unwrap().is_empty());
    app.stop().await;
    up.forget_held_polls(TOKEN_A);

    let started = Instant::now();
    let out = migrate(&db, &pg);
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Every table of the file, row for row.
    let file = sqlite_counts(&db);
    let tables: Vec<String> = file.iter().map(|(t, _)| t.clone()).collect();
    assert_eq!(postgres_counts(&pg, &tables), file);
    for table in [
        "tokens",
        "events",
        "calls",
        "queue_journal",
        "settings",
        "snapshots",
        "sessions",
        "orgs",
        "users",
    ] {
        assert!(rows(&file, table) > 0, "{table} is empty in the test store");
    }
    // The summary says each table and the total.
    let total: i64 = file.iter().map(|(_, n)| n).sum();
    eprintln!(
        "migrate: {total} rows in {} tables copied in {:.2} s",
        file.len(),
        took.as_secs_f64()
    );
    let said = |table: &str| -> i64 {
        stdout
            .lines()
            .find_map(|l| {
                let mut words = l.split_whitespace();
                (words.next() == Some(table)).then(|| words.next().unwrap().parse().unwrap())
            })
            .unwrap_or_else(|| panic!("no line for {table} in:\n{stdout}"))
    };
    assert_eq!(said("events"), rows(&file, "events"));
    assert_eq!(said("total"), total);

    // The service on PostgreSQL serves what it served on SQLite...
    let app = spawn_app_on(&up, Path::new(&pg)).await;
    assert_eq!(served(&app, &cookie).await, before);
    // ...and records on from there: new events, calls and people take new ids.
    up.push(TOKEN_A, lines[ringing + 1..].to_vec());
    up.idle(TOKEN_A).await;
    let res = app
        .send(
            TOKEN_A,
            Method::POST,
            "/api/users",
            Some(json!({"login": "sam", "password": PASSWORD, "role": "supervisor"})),
        )
        .await;
    assert_eq!(res.status(), 201);
    app.stop().await;
    let after = postgres_counts(&pg, &tables);
    assert!(rows(&after, "events") > rows(&file, "events"));
    assert!(rows(&after, "calls") > rows(&file, "calls"));
    assert_eq!(rows(&after, "users"), 2);
}

#[tokio::test]
async fn a_second_migrate_into_a_database_in_use_is_refused_and_writes_nothing() {
    let Some(pg) = postgres_or_skip("migrate refused") else {
        return;
    };
    // A password in the address (trust authentication ignores it) must never be shown.
    let pg = format!("{pg}&password=hunter2");
    let up = FakeUpstream::start().await;
    let (app, db) = installation(&up, &[answers("lines.v1.jsonl")]).await;
    app.stop().await;
    let out = migrate(&db, &pg);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tables: Vec<String> = sqlite_counts(&db).into_iter().map(|(t, _)| t).collect();
    let copied = postgres_counts(&pg, &tables);
    assert!(rows(&copied, "events") > 0);

    // The file has more by now; the copy into the same database is refused whole.
    add_user(&db, "ada", "admin", &[]);
    let out = migrate(&db, &pg);
    let err = one_line_error(&out);
    assert!(err.contains("already holds data"), "{err}");
    assert!(err.contains("events: "), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    assert!(out.stdout.is_empty());
    assert_eq!(postgres_counts(&pg, &tables), copied);
    assert_eq!(rows(&copied, "users"), 0);

    // Nor is an SQLite file a target, or a missing file a source.
    let out = migrate(&db, db.to_str().unwrap());
    assert!(one_line_error(&out).contains("--to must be a PostgreSQL address"));
    let out = migrate(&db.with_file_name("missing.db"), &pg);
    assert!(one_line_error(&out).contains("does not exist"));
    assert!(!db.with_file_name("missing.db").exists());
}
