#!/usr/bin/env bash
# The attack script of issue 8 (docs/security.md): builds ovh-cti in release mode and replays,
# against it, junk tokens at the login page, huge webhook and screen-pop URLs, trickling
# headers, a flood of live streams and a hostile upstream — with the service's open-files
# limit at 1024 (a common default; pass another as the first argument). Prints, after each
# attack, the service's RSS and peak, its open files, the database's size, whether /healthz
# answers (and how fast) and whether the feed of a followed token is still polled.
#
#   scripts/attack.sh [FD_LIMIT]
#
# Runs on loopback only; takes about a minute after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin ovh-cti --example attack
# The attacker needs more files than the service it attacks.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec target/release/examples/attack target/release/ovh-cti "${1:-1024}"
