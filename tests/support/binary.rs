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
    wait_ready(&base);
    Served { child, base }
}

/// Waits until `/readyz` says every token known at start is followed (they are followed in
/// the background: the listener answers first).
pub fn wait_ready(base: &str) {
    let address = base.trim_start_matches("http://").to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(&address) {
            use std::io::{Read, Write};
            // An answer that never comes is a try that failed, not a test that hangs.
            let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(1)));
            let _ = write!(
                s,
                "GET /readyz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
            );
            let mut answer = String::new();
            let _ = s.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{base} never became ready"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}
