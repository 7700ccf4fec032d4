//! A real full disk under the real binary: its database on a 4 MiB tmpfs that a filler file
//! fills to the last byte, then frees. SQLite then fails with the kernel's own ENOSPC, as on a
//! server whose disk filled up. Mounting needs root (as in CI); elsewhere the test says it
//! was skipped.

use crate::helpers::*;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A small tmpfs, unmounted when dropped.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap().keep();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk { dir })
    }

    /// Writes a file until the disk is full.
    fn fill(&self) -> PathBuf {
        let filler = self.dir.join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 * 1024];
        loop {
            match f.write(&block) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let _ = f.sync_all();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

async fn get(http: &reqwest::Client, base: &str, path: &str) -> (u16, Value) {
    let res = http
        .get(format!("{base}{path}"))
        .bearer_auth(TOKEN_A)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn count(db: &Path, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn a_full_disk_pauses_the_feed_keeps_the_board_and_loses_nothing_once_freed() {
    let Some(disk) = SmallDisk::mount("4m") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root); .ci/run runs it");
        return;
    };
    let up = FakeUpstream::start().await;
    let script = answers("lines.v1.jsonl");
    let (before, during) = script.split_at(5);
    up.push(TOKEN_A, before.to_vec());
    let db = disk.dir.join("ovh-cti.db");
    let mut served = crate::binary::serve(&up.url, TOKEN_A, &db, &[]);
    let http = reqwest::Client::new();
    up.idle(TOKEN_A).await;

    let filler = disk.fill();
    up.push(TOKEN_A, during.to_vec());
    let health = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let (_, h) = get(&http, &served.base, "/api/health").await;
            if h["store"]["state"] == "failing" {
                return h;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the full disk is reported");
    let error = health["store"]["last_error"].as_str().unwrap();
    assert!(error.contains("full"), "{error}");
    for path in ["/api/me", "/api/lines", "/api/queues", "/api/calls"] {
        assert_eq!(get(&http, &served.base, path).await.0, 200, "{path}");
    }

    std::fs::remove_file(filler).unwrap();
    up.idle(TOKEN_A).await;
    let (_, health) = get(&http, &served.base, "/api/health").await;
    assert_eq!(health["store"]["state"], "ok");
    Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(served.child.wait().unwrap().success());
    assert_eq!(
        (count(&db, "events"), count(&db, "calls")),
        (29, 8),
        "every event and call of the fixture"
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}
