//! Store tests on a real SQLite file: migrations, de-duplication, records, filters, paging,
//! and replay for the rebuild after a restart.

use super::queries::{self, CallFilter, EventFilter, JournalFilter};
use super::*;
use crate::engine::{Board, CallOutcome, Change, Direction};
use crate::token::Token;

use crate::test_support::{fixture_events, FIXTURE_TOKEN as TOKEN};

fn token() -> Token {
    Token::parse(TOKEN).unwrap()
}

/// Ingests events the way the ingest thread does: store, apply, record, in one transaction.
fn ingest(writer: &mut Writer, board: &mut Board, events: &[crate::normalise::Event]) -> usize {
    let id = token().id();
    let batch = writer.begin().unwrap();
    let mut new = 0;
    for e in events {
        if batch.insert_event(&id, e, e.at).unwrap().is_some() {
            new += 1;
            for change in board.apply(e, e.at) {
                batch.record(&id, &change).unwrap();
            }
        }
    }
    batch.save_session(&id, Some("S1"), None).unwrap();
    batch.commit().unwrap();
    new
}

fn all(limit: usize) -> CallFilter {
    CallFilter {
        limit,
        ..CallFilter::default()
    }
}

/// A call record of `talk_s` seconds started at `started_at` on line 0033972101010.
fn finished(call_id: &str, started_at: f64, talk_s: f64) -> Change {
    Change::CallFinished(crate::engine::CallRecord {
        number: "0033972101010".into(),
        call_id: call_id.into(),
        direction: Direction::Incoming,
        calling: Some("0033612345678".into()),
        called: Some("0033972101010".into()),
        dialed: None,
        started_at,
        answered_at: Some(started_at + 2.0),
        ended_at: started_at + 2.0 + talk_s,
        ring_s: 2.0,
        talk_s,
        outcome: CallOutcome::Answered,
        queue: None,
        queue_caller: None,
    })
}

#[test]
fn history_was_sorted_by_the_end_of_calls_while_the_page_shows_their_start() {
    let dir = tempfile::tempdir().unwrap();
    let (mut writer, readers) = open(&dir.path().join("t.db")).unwrap();
    writer.add_token(&token(), "config", 0.0).unwrap();
    let id = token().id();
    let batch = writer.begin().unwrap();
    // A long call started first and ended last; two short ones started after it.
    for change in [
        finished("long", 1000.0, 600.0),
        finished("short-1", 1100.0, 30.0),
        finished("short-2", 1200.0, 30.0),
    ] {
        batch.record(&id, &change).unwrap();
    }
    batch.commit().unwrap();
    readers
        .with(|conn| {
            let ids = |f: &CallFilter| -> Result<Vec<String>, StoreError> {
                Ok(queries::history(conn, &id, f)?
                    .items
                    .into_iter()
                    .map(|c| c.call_id)
                    .collect())
            };
            assert_eq!(ids(&all(10))?, ["short-2", "short-1", "long"]);
            // Paging follows the same order.
            let first = queries::history(conn, &id, &all(1))?;
            assert_eq!(first.items[0].call_id, "short-2");
            let cursor = first.next.as_deref().and_then(queries::Cursor::parse);
            let rest = ids(&CallFilter { cursor, ..all(10) })?;
            assert_eq!(rest, ["short-1", "long"]);
            Ok(())
        })
        .unwrap();
}

#[test]
fn history_is_kept_filtered_and_paged_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let (mut writer, readers) = open(&dir.path().join("t.db")).unwrap();
    writer.add_token(&token(), "config", 0.0).unwrap();
    let mut board = Board::default();
    let events = fixture_events("lines.v1.jsonl");
    assert_eq!(ingest(&mut writer, &mut board, &events), events.len());
    // The same poll delivered again is not stored or counted twice.
    assert_eq!(ingest(&mut writer, &mut board, &events), 0);

    let id = token().id();
    readers
        .with(|conn| {
            let page = queries::history(conn, &id, &all(100))?;
            assert_eq!(page.items.len(), 8);
            assert!(page.next.is_none());
            assert!(page
                .items
                .windows(2)
                .all(|w| w[0].started_at >= w[1].started_at));

            let accueil = queries::history(
                conn,
                &id,
                &CallFilter {
                    number: Some("0033972101010".into()),
                    ..all(100)
                },
            )?;
            assert_eq!(accueil.items.len(), 4);
            let missed = queries::history(
                conn,
                &id,
                &CallFilter {
                    outcome: Some(CallOutcome::Missed),
                    ..all(100)
                },
            )?;
            assert_eq!(missed.items.len(), 2);
            let out = queries::history(
                conn,
                &id,
                &CallFilter {
                    direction: Some(Direction::Outgoing),
                    ..all(100)
                },
            )?;
            assert_eq!(out.items.len(), 3);
            let window = queries::history(
                conn,
                &id,
                &CallFilter {
                    from: Some(1732612830.0),
                    to: Some(1732612850.0),
                    ..all(100)
                },
            )?;
            assert_eq!(window.items.len(), 2);
            let search = queries::history(
                conn,
                &id,
                &CallFilter {
                    search: vec!["45678".into()],
                    ..all(100)
                },
            )?;
            assert_eq!(search.items.len(), 2);

            // Paging by three walks every row exactly once.
            let mut seen = Vec::new();
            let mut cursor = None;
            loop {
                let page = queries::history(conn, &id, &CallFilter { cursor, ..all(3) })?;
                seen.extend(
                    page.items
                        .iter()
                        .map(|c| (c.number.clone(), c.call_id.clone())),
                );
                match page.next {
                    Some(n) => cursor = Cursor::parse(&n),
                    None => break,
                }
            }
            assert_eq!(seen.len(), 8);
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), 8);

            let events = queries::events(
                conn,
                &id,
                &EventFilter {
                    limit: 1000,
                    ..EventFilter::default()
                },
            )?;
            assert_eq!(events.items.len(), fixture_events("lines.v1.jsonl").len());
            assert_eq!(events.items[0].event, "end_calling", "newest first");
            assert_eq!(events.items[0].latency_ms, Some(40.0));
            assert_eq!(
                events.items.last().unwrap().description.as_deref(),
                Some("Accueil")
            );
            let rings = queries::events(
                conn,
                &id,
                &EventFilter {
                    event: Some("start_ringing".into()),
                    limit: 1000,
                    ..EventFilter::default()
                },
            )?;
            assert_eq!(rings.items.len(), 8);
            // Another token sees nothing of it.
            let other = Token::parse("00000000-0000-0000-0000-000000000000")
                .unwrap()
                .id();
            assert!(queries::history(conn, &other, &all(100))?.items.is_empty());
            Ok(())
        })
        .unwrap();
    let tokens = writer.tokens().unwrap();
    assert_eq!(tokens[0].session.as_deref(), Some("S1"));
}

#[test]
fn journal_is_kept_and_filtered() {
    let dir = tempfile::tempdir().unwrap();
    let (mut writer, readers) = open(&dir.path().join("t.db")).unwrap();
    let mut board = Board::default();
    ingest(&mut writer, &mut board, &fixture_events("queue.v1.jsonl"));
    let id = token().id();
    readers
        .with(|conn| {
            let page = queries::journal(
                conn,
                &id,
                &JournalFilter {
                    limit: 100,
                    ..JournalFilter::default()
                },
            )?;
            assert_eq!(page.items.len(), 4);
            assert_eq!(
                page.items[0].caller.as_deref(),
                Some("0033688888888"),
                "newest first"
            );
            assert_eq!(page.items[0].reason, "timeout");
            let abandoned = queries::journal(
                conn,
                &id,
                &JournalFilter {
                    outcome: Some(crate::engine::JournalOutcome::Abandoned),
                    limit: 100,
                    ..JournalFilter::default()
                },
            )?;
            assert_eq!(abandoned.items.len(), 2);
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_reopened_call_withdraws_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let (writer, readers) = open(&dir.path().join("t.db")).unwrap();
    let id = token().id();
    let mut board = Board::default();
    let events = fixture_events("lines.v1.jsonl");
    // Play the first call up to its end_ringing only: recorded as missed for now.
    let cut = events.iter().position(|e| e.name == "end_ringing").unwrap();
    let mut writer = writer;
    ingest(&mut writer, &mut board, &events[..=cut]);
    let count = |readers: &Readers| {
        readers
            .with(|c| Ok(queries::history(c, &id, &all(100))?.items))
            .unwrap()
    };
    assert_eq!(count(&readers)[0].outcome, CallOutcome::Missed);
    ingest(&mut writer, &mut board, &events[cut + 1..=cut + 1]);
    assert!(count(&readers).is_empty(), "start_calling reopened it");
}

#[test]
fn snapshot_and_replay_rebuild_the_board() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let events = fixture_events("queue.v1.jsonl");
    let half = events.len() / 2;
    let id = token().id();
    let mut board = Board::default();
    {
        let (mut writer, _) = open(&path).unwrap();
        ingest(&mut writer, &mut board, &events[..half]);
        let seq = writer.last_seq(&id).unwrap();
        let batch = writer.begin().unwrap();
        batch.save_snapshot(&id, seq, &board, 0.0).unwrap();
        batch.commit().unwrap();
        ingest(&mut writer, &mut board, &events[half..]);
    }
    let (writer, _) = open(&path).unwrap();
    let (seq, mut rebuilt) = writer.snapshot(&id).unwrap().unwrap();
    writer
        .replay(&id, seq, |_, e, at| {
            rebuilt.apply(&e, at);
        })
        .unwrap();
    assert_eq!(rebuilt.queues(), board.queues());
    assert_eq!(rebuilt.lines(), board.lines());
}

#[test]
fn an_unusable_path_is_a_clear_error() {
    let err = open(std::path::Path::new("/nonexistent-dir/x/y.db"))
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .starts_with("cannot open the database /nonexistent-dir/x/y.db"),
        "{err}"
    );
}

#[test]
fn migrations_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    drop(open(&path).unwrap());
    let (writer, _) = open(&path).unwrap();
    let v: i64 = writer
        .connection()
        .query_row("PRAGMA user_version", (), |r| r.get(0))
        .unwrap();
    assert_eq!(
        v as usize,
        schema::VERSION,
        "the core schema, screen pops and webhooks, calls keyed by identity, token states, \
         webhook ids never reused: each once"
    );
    let _ = Change::Line(String::new());
}

#[test]
fn a_snapshot_or_an_event_that_no_longer_reads_does_not_stop_the_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let (mut writer, _) = open(&dir.path().join("t.db")).unwrap();
    let id = token().id();
    let mut board = Board::default();
    ingest(&mut writer, &mut board, &fixture_events("queue.v1.jsonl"));
    writer
        .connection()
        .execute("UPDATE events SET raw = '{cut' WHERE seq = 1", ())
        .unwrap();
    writer
        .connection()
        .execute("INSERT OR REPLACE INTO snapshots (token_id, seq, board, saved_at) VALUES (?1, 0, '{\"not\": 1}', 0)", [id.as_str()])
        .unwrap();
    assert!(
        writer.snapshot(&id).unwrap().is_none(),
        "an unreadable snapshot means: replay everything"
    );
    let mut replayed = 0;
    writer.replay(&id, 0, |_, _, _| replayed += 1).unwrap();
    assert_eq!(
        replayed,
        fixture_events("queue.v1.jsonl").len() - 1,
        "the unreadable row is skipped"
    );
}

/// Line events of one call on one line, started at a time that JSON once moved by one ulp.
fn one_call(call_id: &str, start_ns: i64) -> Vec<crate::normalise::Event> {
    let e = |name: &str, dt_ms: i64| {
        let ts = start_ns + dt_ms * 1_000_000;
        let raw = serde_json::json!({
            "Event": name, "Ressource": "0033972101010", "Service": "sip", "Timestamp": ts,
            "Details": {"Type": "sipCirpack"},
            "Data": {"CallId": call_id, "Calling": "0033612345678", "Called": "0033972101010", "Ts": (ts as f64) / 1e9}
        });
        crate::normalise::Event::from_json(raw, "", (ts as f64) / 1e9).unwrap()
    };
    vec![
        e("start_ringing", 0),
        e("end_ringing", 4_000),
        e("start_calling", 4_001),
        e("end_calling", 60_000),
    ]
}

fn count(writer: &Writer, sql: &str) -> i64 {
    writer
        .connection()
        .query_row(sql, (), |r| r.get(0))
        .unwrap()
}

#[test]
fn a_call_in_progress_at_a_snapshot_is_recorded_once_after_any_number_of_replays() {
    // 570 of 2,460 calls were in history twice after kill -9 loops: a call in progress at a
    // snapshot came back from its JSON 1 ulp off, and its float start was in the row's key.
    let dir = tempfile::tempdir().unwrap();
    let (mut writer, _) = open(&dir.path().join("t.db")).unwrap();
    let id = token().id();
    let events = one_call("c-1", 1_732_612_345_123_456_789);
    let mut board = Board::default();
    ingest(&mut writer, &mut board, &events[..3]);
    let snapshot = serde_json::to_string(&board).unwrap();
    ingest(&mut writer, &mut board, &events[3..]);
    let first_id = count(&writer, "SELECT id FROM calls");
    // A crash: the board comes back from the snapshot and the events after it are replayed,
    // as many times as the service is killed before its next snapshot.
    for _ in 0..3 {
        let mut restored: Board = serde_json::from_str(&snapshot).unwrap();
        let batch = writer.begin().unwrap();
        for change in restored.apply(&events[3], events[3].at) {
            batch.record(&id, &change).unwrap();
        }
        batch.commit().unwrap();
    }
    assert_eq!(count(&writer, "SELECT COUNT(*) FROM calls"), 1);
    assert_eq!(
        count(&writer, "SELECT id FROM calls"),
        first_id,
        "updated in place: cursors stay valid"
    );
}

#[test]
fn times_survive_a_json_round_trip_bit_for_bit() {
    use proptest::prelude::*;
    proptest!(|(ns in 1_500_000_000_000_000_000i64..2_000_000_000_000_000_000i64)| {
        let t = ns as f64 / 1e9;
        let back: f64 = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        prop_assert_eq!(back.to_bits(), t.to_bits());
        prop_assert_eq!(writer::micros(back), writer::micros(t));
    });
}

#[test]
fn upgrading_collapses_calls_an_older_version_recorded_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    {
        let mut conn = crate::store::db::Conn::open_sqlite(&path).unwrap();
        schema::migrate_up_to(&mut conn, 2).unwrap();
        let t = 1_732_612_345.123_456_7_f64;
        let next_up = f64::from_bits(t.to_bits() + 1);
        let insert = |id: i64, call: &str, started: f64, outcome: &str| {
            conn.execute(
                "INSERT INTO calls (id, token_id, number, call_id, direction, started_at, ended_at, ring_s, talk_s, outcome)
                 VALUES (?1, 'tok', '0033972101010', ?2, 'incoming', ?3, ?3 + 60, 4, 56, ?4)",
                crate::store::db::params![id, call, started, outcome],
            )
            .unwrap();
        };
        insert(1, "c-1", t, "answered");
        insert(2, "c-1", next_up, "answered");
        insert(3, "c-1", t + 3600.0, "missed"); // the same call id an hour later: another call
        insert(4, "c-2", t, "missed");
        insert(5, "c-2", f64::from_bits(t.to_bits() - 1), "missed");
        insert(6, "c-2", f64::from_bits(t.to_bits() + 2), "missed");
    }
    let (writer, _) = open(&path).unwrap();
    let ids: Vec<i64> = writer
        .connection()
        .prepare("SELECT id FROM calls ORDER BY id")
        .unwrap()
        .query_map((), |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ids, [2, 3, 6], "one row per call, the last written kept");
    assert_eq!(
        count(
            &writer,
            "SELECT COUNT(*) FROM calls WHERE started_us IS NULL"
        ),
        0
    );
    assert_eq!(
        count(&writer, "SELECT COUNT(DISTINCT started_us) FROM calls"),
        2
    );
}

/// Issue 8: SQLite gave a deleted webhook endpoint's id to the next one created, and the old
/// endpoint's deliveries showed under the new one. Checked across the upgrade too: an id that
/// only the delivery log still remembers is not given out again, and an endpoint saved with
/// an address over today's cap is disabled, saying why.
#[test]
fn webhook_endpoint_ids_are_never_reused_even_across_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let create = |conn: &crate::store::db::Conn| -> i64 {
        conn.execute(
            "INSERT INTO webhooks (token_id, url, events, secret, created_at) VALUES ('tok', 'https://x.example/', '[\"*\"]', 's', 0)",
            (),
        )
        .unwrap();
        conn.query_row("SELECT MAX(id) FROM webhooks", (), |r| r.get(0))
            .unwrap()
    };
    {
        let mut conn = crate::store::db::Conn::open_sqlite(&path).unwrap();
        schema::migrate_up_to(&mut conn, 3).unwrap();
        assert_eq!((create(&conn), create(&conn)), (1, 2));
        conn.execute(
            "INSERT INTO deliveries (outbox_id, token_id, kind, endpoint_id, event, at, url, attempt, outcome)
             VALUES (1, 'tok', 'webhook', 2, 'test', 0, 'https://x.example/', 1, 'delivered')",
            (),
        )
        .unwrap();
        conn.execute("DELETE FROM webhooks WHERE id = 2", ())
            .unwrap();
        // Saved before URLs had a cap: disabled by the upgrade, with its pending delivery.
        conn.execute(
            "UPDATE webhooks SET url = 'https://x.example/?' || hex(zeroblob(2000)) WHERE id = 1",
            (),
        )
        .unwrap();
        conn.execute(
            "INSERT INTO outbox (token_id, kind, endpoint_id, url, webhook_id, event, dedupe, next_attempt_at, state, created_at, updated_at)
             VALUES ('tok', 'webhook', 1, 'u', 'msg_1', 'test', 'd1', 0, 'pending', 0, 0)",
            (),
        )
        .unwrap();
    }
    let (writer, _) = open(&path).unwrap();
    let conn = writer.connection();
    let (enabled, reason): (bool, String) = conn
        .query_row(
            "SELECT enabled, disabled_reason FROM webhooks WHERE id = 1",
            (),
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(!enabled && reason.contains("2 KiB"), "{reason}");
    let state: String = conn
        .query_row("SELECT state FROM outbox WHERE dedupe = 'd1'", (), |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(state, "failed");
    assert_eq!(create(conn), 3, "2 is still in the delivery log");
    conn.execute("DELETE FROM webhooks WHERE id = 3", ())
        .unwrap();
    assert_eq!(create(conn), 4);
    let kept: i64 = conn
        .query_row("SELECT COUNT(*) FROM webhooks WHERE id = 1", (), |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(kept, 1, "endpoints keep their ids through the upgrade");
}

/// Issue 8: `%` and `_` typed in the search box acted as LIKE's wildcards.
#[test]
fn the_search_box_matches_what_was_typed_literally() {
    let dir = tempfile::tempdir().unwrap();
    let (mut writer, readers) = open(&dir.path().join("t.db")).unwrap();
    writer.add_token(&token(), "config", 0.0).unwrap();
    let mut board = Board::default();
    ingest(&mut writer, &mut board, &fixture_events("lines.v1.jsonl"));
    let id = token().id();
    readers
        .with(|conn| {
            let found = |q: &str| -> Result<usize, StoreError> {
                let f = CallFilter {
                    search: vec![q.into()],
                    ..all(100)
                };
                Ok(queries::history(conn, &id, &f)?.items.len())
            };
            assert_eq!(found("45678")?, 2);
            for wildcard in ["%", "_", "4_678", "4%8", "\\", "\\%"] {
                assert_eq!(found(wildcard)?, 0, "{wildcard}");
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_rotated_token_carries_on_with_the_old_one_s_history_settings_and_links() {
    let dir = tempfile::tempdir().unwrap();
    let (mut writer, readers) = open(&dir.path().join("t.db")).unwrap();
    writer.add_token(&token(), "config", 0.0).unwrap();
    let mut board = Board::default();
    let events = fixture_events("lines.v1.jsonl");
    ingest(&mut writer, &mut board, &events);
    let old = token().id();
    let new = Token::parse("00000000-0000-4000-8000-000000000001")
        .unwrap()
        .id();
    writer.save_settings(&old, r#"{"from":"old"}"#).unwrap();
    // The new token was followed a moment before: its own settings, and one event both got.
    writer.save_settings(&new, r#"{"from":"new"}"#).unwrap();
    let conn = writer.connection_mut();
    conn.execute(
        "INSERT INTO events (token_id, fingerprint, received_at, at, event, number, service, raw)
         SELECT ?2, fingerprint, received_at, at, event, number, service, raw FROM events
         WHERE token_id = ?1 ORDER BY seq LIMIT 1",
        [old.as_str(), new.as_str()],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO orgs (id, name, created_at) VALUES (1, 'Acme', 0)",
        (),
    )
    .unwrap();
    conn.execute(
        "INSERT INTO wall_links (org_id, token_id, key_hash, label, allow, created_at)
         VALUES (1, ?1, 'h', 'TV', NULL, 0)",
        [old.as_str()],
    )
    .unwrap();
    tokens::carry_over(conn, &old, &new).unwrap();
    readers
        .with(|c| {
            let count = |table: &str, id: &crate::token::TokenId| -> i64 {
                c.query_row(
                    &format!("SELECT count(*) FROM {table} WHERE token_id = ?1"),
                    [id.as_str()],
                    |r| r.get(0),
                )
                .unwrap()
            };
            assert_eq!(count("calls", &new), 8);
            assert_eq!(count("calls", &old), 0);
            assert_eq!(count("wall_links", &new), 1);
            // Every event once under the new token; the one both got stays behind.
            assert_eq!(count("events", &new) as usize, events.len());
            assert_eq!(count("events", &old), 1);
            assert_eq!(
                queries::settings_json(c, &new)?.as_deref(),
                Some(r#"{"from":"old"}"#)
            );
            Ok(())
        })
        .unwrap();
}

/// Following a token reads its own row only (regression: it read and parsed every token, so
/// starting with 10,000 configured tokens took over a minute before the first answer).
#[test]
fn one_token_is_read_by_its_id_and_a_removed_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let (mut writer, _readers) = open(&dir.path().join("t.db")).unwrap();
    let other = Token::parse("00000000-0000-4000-8000-000000000002").unwrap();
    writer.add_token(&token(), "config", 0.0).unwrap();
    writer.add_token(&other, "login", 1.0).unwrap();
    let found = writer.token(&other.id()).unwrap().expect("stored");
    assert_eq!(found.token.id(), other.id());
    assert_eq!(found.source, "login");
    tokens::mark_removed(writer.connection_mut(), &other.id(), false, 2.0).unwrap();
    assert!(writer.token(&other.id()).unwrap().is_none());
    assert_eq!(
        writer.token(&token().id()).unwrap().unwrap().source,
        "config"
    );
}

/// Each connection once asked SQLite for a 64 MiB page cache, up to nine of them: memory grew
/// with the database, not with the configuration. The budget is now shared out.
#[test]
fn the_page_caches_share_the_configured_budget() {
    let dir = tempfile::tempdir().unwrap();
    let budget = CacheBudget::mib(12).unwrap();
    let (writer, readers) = open_with(&dir.path().join("t.db"), budget).unwrap();
    let cache_kib = |c: &Conn| -> i64 {
        -c.query_row("PRAGMA cache_size", (), |r| r.get::<_, i64>(0))
            .unwrap()
    };
    assert_eq!(
        cache_kib(writer.connection()),
        8 * 1024,
        "two thirds for the writer"
    );
    let reader = readers.with(|c| Ok(cache_kib(c))).unwrap();
    assert_eq!(
        reader, 512,
        "the other third shared by the eight readers kept"
    );
    assert!(CacheBudget::mib(3).is_none() && CacheBudget::mib(65537).is_none());
    assert_eq!(CacheBudget::default().total_mib(), 96);
}

/// Three hundred dashboards connecting at once each opened a PostgreSQL connection for its
/// first read, and PostgreSQL refused most (its `max_connections`): the readers now hold at
/// most `POSTGRES_READERS` and the other reads wait for one. Skipped without PostgreSQL
/// (failing under CI).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_reads_at_once_share_a_bounded_set_of_postgres_connections() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let Some(url) = crate::test_support::postgres_schema("store_readers") else {
        return;
    };
    let (_writer, readers) = open(Path::new(url.as_secret_str())).unwrap();
    let readers = std::sync::Arc::new(readers);
    let (busy, most) = (
        std::sync::Arc::new(AtomicUsize::new(0)),
        std::sync::Arc::new(AtomicUsize::new(0)),
    );
    let reads: Vec<_> = (0..60)
        .map(|_| {
            let (busy, most, readers) = (busy.clone(), most.clone(), readers.clone());
            tokio::spawn(async move {
                readers
                    .read(move |c| {
                        let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        // Held a moment, so that reads overlap.
                        c.execute_batch("SELECT pg_sleep(0.02)")?;
                        busy.fetch_sub(1, Ordering::SeqCst);
                        Ok(())
                    })
                    .await
            })
        })
        .collect();
    for r in reads {
        r.await.unwrap().unwrap();
    }
    let most = most.load(Ordering::SeqCst);
    assert!(
        most <= POSTGRES_READERS,
        "{most} reads held a connection at once"
    );
    assert!(most > 1, "the reads did not overlap at all");
}
