//! The binary as an operator meets it: one-line errors with a non-zero status for bad flags,
//! a busy port or an unusable database; exit 0 after a clean shutdown on SIGTERM; and `demo`
//! running the whole service on its built-in simulator.

use crate::helpers::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ovh-cti"))
        .args(args)
        .env_remove("OVH_CTI_TOKENS")
        .output()
        .unwrap()
}

/// Clap's message was cut to its first line, losing its suggestion and the usage line; and
/// `ovh-cti` alone printed only the program's description.
#[test]
fn a_mistyped_flag_gets_clap_s_whole_message_and_no_command_gets_the_list() {
    let out = run(&["serve", "--tokn", TOKEN_A]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("'--tokn'") && err.contains("--token"), "{err}");
    assert!(err.contains("Usage: ovh-cti serve"), "{err}");
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    let help = String::from_utf8_lossy(&out.stderr);
    for command in ["demo", "serve", "simulate", "backup", "tokens"] {
        assert!(help.contains(command), "{help}");
    }
}

/// Every flag that takes a value says its default in `--help`.
#[test]
fn every_flag_says_its_default() {
    for command in [
        "serve",
        "demo",
        "simulate",
        "backup",
        "tokens list",
        "tokens remove",
        "migrate",
    ] {
        let mut args: Vec<&str> = command.split(' ').collect();
        // The short help: one line per flag (the long one spreads a flag over several).
        args.push("-h");
        let out = run(&args);
        let help = String::from_utf8_lossy(&out.stdout);
        let undocumented: Vec<&str> = help
            .lines()
            .filter(|l| l.trim_start().starts_with("--") && l.contains(" <"))
            .filter(|l| !l.contains("default"))
            .collect();
        assert!(undocumented.is_empty(), "{command}: {undocumented:#?}");
    }
}

#[test]
fn bad_flags_are_one_line_errors() {
    let out = run(&["serve", "--token", "3F2504E0-4F89-11D3-9A0C-0305E82C330Z"]);
    let err = one_line_error(&out);
    assert!(
        err.contains("token #1 is invalid") && !err.contains("4F89"),
        "{err}"
    );
    let out = run(&["serve", "--upstream", "ftp://x", "--token", TOKEN_A]);
    assert!(one_line_error(&out).contains("upstream"));
    // Tokens are read from OVH_CTI_TOKENS (comma-separated) as well as from flags.
    let out = Command::new(env!("CARGO_BIN_EXE_ovh-cti"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("OVH_CTI_TOKENS", format!("{TOKEN_A},nope"))
        .output()
        .unwrap();
    assert!(one_line_error(&out).contains("token #2 is invalid"));
    let out = run(&["simulate", "--rate=-3"]);
    assert!(one_line_error(&out).contains("--rate"));
    // A retention of 0 days is refused, by flag or by variable, naming the setting.
    let out = run(&["serve", "--token", TOKEN_A, "--retain-events-days", "0"]);
    assert!(one_line_error(&out).contains("retention.events_days (--retain-events-days)"));
    let out = Command::new(env!("CARGO_BIN_EXE_ovh-cti"))
        .args(["serve", "--token", TOKEN_A, "--listen", "127.0.0.1:0"])
        .env("OVH_CTI_RETAIN_OUTBOX_DAYS", "-1")
        .output()
        .unwrap();
    assert!(one_line_error(&out).contains("--retain-outbox-days"));
}

#[test]
fn a_busy_port_and_an_unusable_database_are_one_line_errors() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let db = temp_db();
    let out = run(&[
        "serve",
        "--token",
        TOKEN_A,
        "--listen",
        &addr,
        "--db",
        db.to_str().unwrap(),
    ]);
    let err = one_line_error(&out);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    assert!(err.contains("another address with --listen"), "{err}");
    let out = run(&[
        "serve",
        "--token",
        TOKEN_A,
        "--listen",
        "127.0.0.1:0",
        "--db",
        "/nonexistent/dir/x.db",
    ]);
    assert!(one_line_error(&out).contains("cannot open the database /nonexistent/dir/x.db"));
}

#[test]
fn a_file_that_is_not_a_database_is_named_with_what_to_do() {
    // It said "cannot start following a token: …", naming neither the file nor a way out.
    // A file, whatever store the suite runs on: the test is about `--db` naming one.
    let db = tempfile::tempdir().unwrap().keep().join("ovh-cti.db");
    std::fs::write(
        &db,
        "this is not SQLite, but a file of text long enough to be read as a header".repeat(20),
    )
    .unwrap();
    let out = run(&[
        "serve",
        "--token",
        TOKEN_A,
        "--listen",
        "127.0.0.1:0",
        "--db",
        db.to_str().unwrap(),
    ]);
    let err = one_line_error(&out);
    assert!(
        err.contains(&format!("cannot open the database {}", db.display()))
            && err.contains("not an SQLite database")
            && err.contains("backup"),
        "{err}"
    );
}

fn sigterm(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn demo_runs_the_whole_service_and_stops_cleanly_on_sigterm() {
    let db = temp_db();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ovh-cti"))
        .args(["demo", "--listen", "127.0.0.1:0", "--rate", "120"])
        .arg("--db")
        .arg(&db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let base = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");
    line.clear();
    out.read_line(&mut line).unwrap();
    let token = line.split_whitespace().nth(3).unwrap().to_string();

    let http = reqwest::Client::new();
    let login = http
        .post(format!("{base}/api/login"))
        .json(&serde_json::json!({"token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = session_cookie(&login);
    // The simulated lines register as soon as the feed is followed: wait for them to show.
    let mut stream = http
        .get(format!("{base}/api/stream"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let mut seen = String::new();
    while !seen.contains("\"event\":\"registered\"") {
        seen.push_str(std::str::from_utf8(&stream.chunk().await.unwrap().unwrap()).unwrap());
    }
    let lines: serde_json::Value = http
        .get(format!("{base}/api/lines"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!lines["lines"].as_array().unwrap().is_empty());
    drop(stream);

    sigterm(child.id());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");

    // Both default to ovh-cti.db: the demo's database is never taken for a real one.
    let out = run(&[
        "serve",
        "--token",
        TOKEN_A,
        "--listen",
        "127.0.0.1:0",
        "--db",
        db.to_str().unwrap(),
    ]);
    let err = one_line_error(&out);
    assert!(
        err.contains("simulated calls of `ovh-cti demo`") && err.contains("--db"),
        "{err}"
    );
}

/// `demo` and `serve` share the contract's default database, `ovh-cti.db`: a demo started in
/// the folder of a real installation wrote its simulated calls into the real database and
/// polled the real tokens against its simulator.
#[test]
fn a_demo_never_writes_into_a_real_installation_s_database() {
    let db = temp_db();
    // A real installation's database, from before databases were marked: a real token in it.
    {
        let (writer, _) = ovh_cti::store::open(&db).unwrap();
        let token = ovh_cti::token::Token::parse(TOKEN_A).unwrap();
        writer.add_token(&token, "config", 0.0).unwrap();
    }
    let out = run(&[
        "demo",
        "--listen",
        "127.0.0.1:0",
        "--db",
        db.to_str().unwrap(),
    ]);
    let err = one_line_error(&out);
    assert!(err.contains("--db ovh-cti-demo.db"), "{err}");
}

#[tokio::test]
async fn serve_exits_0_on_sigterm_and_keeps_what_it_received() {
    let up = FakeUpstream::start().await;
    up.push(TOKEN_A, answers("lines.v1.jsonl"));
    let db = temp_db();
    let mut child = crate::binary::serve(&up.url, TOKEN_A, &db, &[]).child;
    up.idle(TOKEN_A).await;
    sigterm(child.id());
    assert!(child.wait().unwrap().success());
    let conn = open_db(&db);
    let events: i64 = conn
        .query_row("SELECT COUNT(*) FROM events", (), |r| r.get(0))
        .unwrap();
    let calls: i64 = conn
        .query_row("SELECT COUNT(*) FROM calls", (), |r| r.get(0))
        .unwrap();
    assert_eq!((events, calls), (29, 8));
    // The token is kept only in the tokens table, never next to the events.
    let leaked: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM events WHERE upper(raw) LIKE '%' || ?1 || '%'",
            [TOKEN_A],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(leaked, 0);
}
