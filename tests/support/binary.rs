//! The real `ovh-cti` binary as a child process, for tests that need what only a process
//! gives: signals, `kill -9`, exit codes. Shared by the test binaries through `#[path]`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running `ovh-cti serve`, and the address it printed.
pub struct Served {
    pub child: Child,
    pub base: String,
}

/// Starts `ovh-cti serve --listen 127.0.0.1:0 --db DB --upstream UPSTREAM --token TOKEN`
/// plus `extra`, and waits for the line that names its address.
pub fn serve(upstream: &str, token: &str, db: &Path, extra: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ovh-cti"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            upstream,
            "--token",
            token,
        ])
        .args(extra)
        .arg("--db")
        .arg(db)
        .env_remove("OVH_CTI_TOKENS")
        .env("RUST_LOG", "ovh_cti=warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let base = first
        .trim()
        .strip_prefix("ovh-cti: serving on ")
        .unwrap_or_else(|| panic!("not the address line: {first:?}"))
        .trim_end_matches('/')
        .to_string();
    Served { child, base }
}
