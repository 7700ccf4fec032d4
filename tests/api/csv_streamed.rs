//! A CSV of every matching row (`all=1`) is read and sent a thousand rows at a time
//! (`web::export::csv_download`, issue 13), so that the service's memory does not grow with the
//! file. The parts must join into the file a single read would have made: every row once, in
//! the listing's order, from the cursor asked for, with one header (and one byte-order mark
//! for `excel-fr`) at its top.

use crate::helpers::*;
use ovh_cti::engine::{CallOutcome, CallRecord, Change, Direction, JournalEntry, JournalOutcome};
use ovh_cti::token::Token;

/// More rows than one read takes, and not a multiple of it.
const CALLS: usize = 2_345;
const CALLERS: usize = 1_234;

/// `CALLS` calls on one line and `CALLERS` callers of one queue, a minute apart, written
/// as the ingest writes them; the newest call is `call-{CALLS - 1}`.
fn seed(db: &std::path::Path) {
    let (mut writer, _readers) = ovh_cti::store::open(db).unwrap();
    let token = Token::parse(TOKEN_A).unwrap();
    writer.add_token(&token, "config", T0).unwrap();
    let id = token.id();
    let batch = writer.begin().unwrap();
    for i in 0..CALLS {
        let started_at = T0 - 86_400.0 + 60.0 * i as f64;
        let call = CallRecord {
            number: "0033972101010".into(),
            call_id: format!("call-{i}"),
            direction: Direction::Incoming,
            calling: Some("0033612345678".into()),
            called: Some("0033972101010".into()),
            dialed: None,
            started_at,
            answered_at: Some(started_at + 5.0),
            ended_at: started_at + 35.0,
            ring_s: 5.0,
            talk_s: 30.0,
            outcome: CallOutcome::Answered,
            queue: None,
            queue_caller: None,
        };
        batch.record(&id, &Change::CallFinished(call)).unwrap();
    }
    for i in 0..CALLERS {
        let joined_at = T0 - 86_400.0 + 60.0 * i as f64;
        let entry = JournalEntry {
            queue: "0033972100100".into(),
            member: format!("member-{i}"),
            caller: Some("0033612345678".into()),
            agent: None,
            joined_at,
            answered_at: None,
            left_at: joined_at + 20.0,
            wait_s: 20.0,
            talk_s: 0.0,
            outcome: JournalOutcome::Abandoned,
            reason: "hangup".into(),
        };
        batch.record(&id, &Change::CallerLeft(entry)).unwrap();
    }
    batch.commit().unwrap();
}

/// The values of `column` in a CSV, header line excluded.
fn column(text: &str, column: &str) -> Vec<String> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let at = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == column)
        .unwrap();
    reader
        .records()
        .map(|r| r.unwrap()[at].to_string())
        .collect()
}

fn newest_first(prefix: &str, n: usize) -> Vec<String> {
    (0..n).rev().map(|i| format!("{prefix}-{i}")).collect()
}

#[tokio::test]
async fn a_csv_of_every_row_read_a_part_at_a_time_is_the_whole_listing_once() {
    let db = temp_db();
    seed(&db);
    let up = FakeUpstream::start().await;
    let app = spawn_app_on(&up, &db).await;

    let res = app.get("/api/history.csv?all=1", TOKEN_A).await;
    assert_eq!(res.status(), 200);
    assert!(!res.headers().contains_key("x-next-cursor"));
    let calls = column(&res.text().await.unwrap(), "call_id");
    assert_eq!(calls, newest_first("call", CALLS));

    // From a cursor on, as a page's `next` names it.
    let page = app.json("/api/history?limit=10", TOKEN_A).await;
    let next = page["next"].as_str().unwrap();
    let rest = app
        .get(&format!("/api/history.csv?all=1&cursor={next}"), TOKEN_A)
        .await;
    let rest = column(&rest.text().await.unwrap(), "call_id");
    assert_eq!(rest, newest_first("call", CALLS)[10..]);

    // One byte-order mark and one header, however many parts.
    let fr = app
        .get("/api/history.csv?all=1&dialect=excel-fr", TOKEN_A)
        .await
        .text()
        .await
        .unwrap();
    assert!(fr.starts_with('\u{feff}'));
    assert_eq!(fr.matches('\u{feff}').count(), 1);
    assert_eq!(fr.lines().filter(|l| l.contains("call_id")).count(), 1);
    assert_eq!(fr.lines().count(), CALLS + 1);

    let res = app.get("/api/queue-journal.csv?all=1", TOKEN_A).await;
    assert_eq!(res.status(), 200);
    // The journal shows no member id: its callers joined a minute apart, each once.
    let joined = column(&res.text().await.unwrap(), "joined_at");
    let mut sorted = joined.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(joined.len(), CALLERS);
    assert_eq!(joined, sorted, "newest first, each once");

    // A page stays a page, its cursor in the header.
    let res = app.get("/api/history.csv?limit=1000", TOKEN_A).await;
    assert!(res.headers().contains_key("x-next-cursor"));
    let calls = column(&res.text().await.unwrap(), "call_id");
    assert_eq!(calls, newest_first("call", CALLS)[..1000]);
    app.stop().await;
}
