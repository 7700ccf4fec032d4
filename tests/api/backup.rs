//! `ovh-cti backup` as an operator uses it: a copy taken while the service writes to the
//! database opens and passes `PRAGMA integrity_check`; restored as `docs/operations.md` says
//! (stop, replace the file, remove the old `-wal`/`-shm`), it brings back the same history and
//! live state. An existing file is never overwritten, and a missing database is never created.

use crate::helpers::*;
use std::path::Path;
use std::process::{Command, Output};

fn backup(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ovh-cti"))
        .arg("backup")
        .args(args)
        .env_remove("OVH_CTI_DB")
        .env_remove("OVH_CTI_CONFIG")
        .output()
        .unwrap()
}

fn backup_of(db: &Path, out: &Path) -> Output {
    backup(&[Path::new("--db"), db, out])
}

fn count(db: &Path, table: &str) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// Runs the check SQLite offers on a whole file; "ok" when it is sound.
fn integrity(db: &Path) -> String {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn a_backup_taken_while_the_service_writes_is_consistent_and_restores() {
    if on_postgres() {
        eprintln!(
            "a_backup_taken_while_the_service_writes_is_consistent_and_restores: skipped on \
             PostgreSQL: `ovh-cti backup` copies the SQLite file (PostgreSQL is backed up with \
             pg_dump)"
        );
        return;
    }
    let up = FakeUpstream::start().await;
    let lines = answers("lines.v1.jsonl");
    let queue = answers("queue.v1.jsonl");
    up.push(TOKEN_A, lines);
    let db = temp_db();
    let app = spawn_app_on(&up, &db).await;
    up.idle(TOKEN_A).await;
    let committed = count(&db, "events");

    // The copy is taken while the follower commits the queue's events.
    up.push(TOKEN_A, queue);
    let during = db.with_file_name("during.db");
    let (from, to) = (db.clone(), during.clone());
    let out = tokio::task::spawn_blocking(move || backup_of(&from, &to))
        .await
        .unwrap();
    up.idle(TOKEN_A).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.starts_with(&format!("ovh-cti backup: wrote {}", during.display()))
            && said.contains(&db.display().to_string()),
        "{said}"
    );
    assert_eq!(integrity(&during), "ok");
    let copied = count(&during, "events");
    assert!(
        (committed..=count(&db, "events")).contains(&copied),
        "{copied} events: what was committed when it began, at least"
    );
    assert!(count(&during, "calls") >= 8);

    // Once everything is committed, a copy holds all of it.
    let after = db.with_file_name("after.db");
    assert!(backup_of(&db, &after).status.success());
    assert_eq!(integrity(&after), "ok");
    assert_eq!(count(&after, "events"), count(&db, "events"));
    let before = (
        app.json("/api/history", TOKEN_A).await,
        app.json("/api/queues", TOKEN_A).await,
    );

    // A second backup to the same name is refused, and leaves the first alone.
    let first = std::fs::read(&after).unwrap();
    let refused = backup_of(&db, &after);
    let err = one_line_error(&refused);
    assert!(
        err.contains(&after.display().to_string()) && err.contains("already exists"),
        "{err}"
    );
    assert_eq!(std::fs::read(&after).unwrap(), first);

    // Restore: stop the service, put the copy in place, remove the old -wal and -shm.
    app.stop().await;
    up.forget_held_polls(TOKEN_A);
    std::fs::copy(&after, &db).unwrap();
    for suffix in ["-wal", "-shm"] {
        let mut side = db.clone().into_os_string();
        side.push(suffix);
        let _ = std::fs::remove_file(side);
    }
    let app = spawn_app_on(&up, &db).await;
    assert_eq!(app.json("/api/history", TOKEN_A).await, before.0);
    assert_eq!(app.json("/api/queues", TOKEN_A).await, before.1);
    app.stop().await;
}

#[test]
fn a_backup_never_creates_the_database_and_names_the_path_in_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.db");
    let out = dir.path().join("out.db");
    let err = one_line_error(&backup_of(&missing, &out));
    assert!(
        err.contains(&format!("cannot open the database {}", missing.display())),
        "{err}"
    );
    assert!(!missing.exists() && !out.exists());

    let text = dir.path().join("notes.txt");
    std::fs::write(
        &text,
        "not a database, but long enough to be read as one? no.",
    )
    .unwrap();
    let err = one_line_error(&backup_of(&text, &out));
    assert!(err.contains(&text.display().to_string()), "{err}");
    assert!(!out.exists());

    let db = dir.path().join("ovh-cti.db");
    drop(ovh_cti::store::open(&db).unwrap());
    let nowhere = dir.path().join("no-such-dir").join("out.db");
    let err = one_line_error(&backup_of(&db, &nowhere));
    assert!(
        err.contains(&format!("cannot write the backup {}", nowhere.display())),
        "{err}"
    );

    // The database's path can come from the --config file, as for `serve`.
    let config = dir.path().join("ovh-cti.toml");
    std::fs::write(&config, format!("db = {:?}\n", db.display().to_string())).unwrap();
    let out = backup(&[Path::new("--config"), &config, &out]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(integrity(&dir.path().join("out.db")), "ok");
}
