//! Every query of the history, queue-journal and events pages is served by an index, with and
//! without their filters. Each case asks SQLite for its plan (`EXPLAIN QUERY PLAN`) of the very
//! statement the API runs (`queries::*_statement`), on a migrated empty database: the service
//! never runs `ANALYZE`, and without statistics SQLite plans a table of a million rows as it
//! plans an empty one (`benches/history.rs` prints the plan it uses on a million calls).
//!
//! A plan passes when no table is read whole (`SCAN calls`), nothing is sorted (`USE TEMP
//! B-TREE FOR ORDER BY`: every matching row read before the first one is sent), and the
//! filters that narrow a listing most — the line, the queue, the time range, the cursor —
//! bound the index search rather than being checked row by row along a walk through all of
//! the token's rows. The filters left to such a walk (direction, outcome of queue callers,
//! event type, the search box, an agent's numbers) are said so case by case.

use super::queries::{self, CallFilter, Cursor, EventFilter, JournalFilter, Statement};
use super::*;
use crate::engine::{CallOutcome, Direction, JournalOutcome};
use crate::store::db::params_from_iter;
use crate::test_support::FIXTURE_TOKEN;
use crate::token::Token;

/// What a page can ask for; each listing reads it as its own filter (`Number` is the line of
/// the history and the events, the queue of the journal).
#[derive(Clone, Copy, Debug)]
enum Ask {
    Number,
    Day,
    Cursor,
    Outcome,
    Way,
    Search,
    Agent,
    EventType,
}
use Ask::*;

/// The cases of a listing: what is asked, and the constraints its index search must apply,
/// as SQLite writes them (`number=?`, `started_at<?`; `k.call_id=?` for the table `k`).
type Cases = &'static [(&'static [Ask], &'static [&'static str])];

const HISTORY: Cases = &[
    (&[], &["token_id=?"]),
    (&[Cursor], &["started_at<?"]),
    (&[Number], &["number=?"]),
    (&[Number, Cursor], &["number=?", "started_at<?"]),
    (
        &[Number, Day],
        &["number=?", "started_at>?", "started_at<?"],
    ),
    (&[Day], &["started_at>?", "started_at<?"]),
    (&[Day, Cursor], &["started_at>?", "started_at<?"]),
    (&[Outcome], &["outcome=?"]),
    (&[Outcome, Cursor], &["outcome=?", "started_at<?"]),
    (&[Number, Outcome], &["number=?"]),
    // Three directions, each common: the walk newest first meets one within a few rows.
    (&[Way], &["token_id=?"]),
    (&[Number, Way], &["number=?"]),
    // A part of a number, anywhere in it: no index finds it.
    (&[Search], &["token_id=?"]),
    (&[Search, Day], &["started_at>?", "started_at<?"]),
    // An agent's few numbers: walked newest first, never sorted.
    (&[Agent], &["token_id=?"]),
    (&[Agent, Number], &["number=?"]),
    (
        &[Number, Day, Way, Outcome, Search, Agent, Cursor],
        &["number=?", "started_at>?", "started_at<?"],
    ),
];

const JOURNAL: Cases = &[
    (&[], &["token_id=?"]),
    (&[Cursor], &["left_at<?"]),
    (&[Number], &["queue=?"]),
    (&[Number, Cursor], &["queue=?", "left_at<?"]),
    // Filtered by arrival, listed by departure: bounded below by the day's start (callers
    // leave after they join), the walk down from the newest stops there.
    (&[Day], &["left_at>?"]),
    (&[Number, Day], &["queue=?", "left_at>?"]),
    // Answered or abandoned, both common.
    (&[Outcome], &["token_id=?"]),
    (&[Number, Outcome], &["queue=?"]),
    (&[Way], &["token_id=?"]),
    (&[Search], &["token_id=?"]),
    (&[Agent], &["token_id=?"]),
    (
        &[Number, Day, Way, Outcome, Search, Agent, Cursor],
        &["queue=?", "left_at>?"],
    ),
];

const EVENTS: Cases = &[
    (&[], &["token_id=?"]),
    (&[Cursor], &["seq<?"]),
    (&[Number], &["number=?"]),
    (&[Number, Cursor], &["number=?", "seq<?"]),
    // OVH's time, not the arrival order the list follows: checked along the walk.
    (&[Day], &["token_id=?"]),
    (&[Number, Day], &["number=?"]),
    // A dozen event types, the common ones met within a few rows.
    (&[EventType], &["token_id=?"]),
    (&[Way], &["token_id=?"]),
    // Each event's own call, found by its identity.
    (&[Outcome], &["token_id=?", "k.number=?", "k.call_id=?"]),
    (&[Agent], &["token_id=?"]),
];

const LINE: &str = "0033972101010";
const QUEUE: &str = "0033972100100";
/// 2024-11-26 in UTC: `[from, to)`.
const DAY: (f64, f64) = (1_732_579_200.0, 1_732_665_600.0);

fn cursor() -> Option<Cursor> {
    Cursor::parse("1732612830.25_42")
}

fn agent() -> Option<Vec<String>> {
    Some(vec![LINE.into(), QUEUE.into()])
}

fn history(asks: &[Ask]) -> Statement {
    let mut f = CallFilter {
        limit: 100,
        ..Default::default()
    };
    for ask in asks {
        match ask {
            Number => f.number = Some(LINE.into()),
            Day => (f.from, f.to) = (Some(DAY.0), Some(DAY.1)),
            Cursor => f.cursor = cursor(),
            Outcome => f.outcome = Some(CallOutcome::Missed),
            Way => f.direction = Some(Direction::Incoming),
            Search => f.search = vec!["45678".into()],
            Agent => f.scope = agent(),
            EventType => unreachable!("the history has no event type"),
        }
    }
    queries::history_statement(&Token::parse(FIXTURE_TOKEN).unwrap().id(), &f)
}

fn journal(asks: &[Ask]) -> Statement {
    let mut f = JournalFilter {
        limit: 100,
        ..Default::default()
    };
    for ask in asks {
        match ask {
            Number => f.queue = Some(QUEUE.into()),
            Day => (f.from, f.to) = (Some(DAY.0), Some(DAY.1)),
            Cursor => f.cursor = cursor(),
            Outcome => f.outcome = Some(JournalOutcome::Abandoned),
            Way => f.direction = Some(Direction::Incoming),
            Search => f.search = vec!["45678".into()],
            Agent => f.scope = agent(),
            EventType => unreachable!("the journal has no event type"),
        }
    }
    queries::journal_statement(&Token::parse(FIXTURE_TOKEN).unwrap().id(), &f)
}

fn events(asks: &[Ask]) -> Statement {
    let mut f = EventFilter {
        limit: 100,
        ..Default::default()
    };
    for ask in asks {
        match ask {
            Number => f.number = Some(LINE.into()),
            Day => (f.from, f.to) = (Some(DAY.0), Some(DAY.1)),
            Cursor => f.cursor = cursor(),
            Outcome => f.outcome = Some(CallOutcome::Missed),
            Way => f.direction = Some(Direction::Outgoing),
            Search => unreachable!("the events have no search box"),
            Agent => f.scope = agent(),
            EventType => f.event = Some("start_ringing".into()),
        }
    }
    queries::events_statement(&Token::parse(FIXTURE_TOKEN).unwrap().id(), &f)
}

/// SQLite's plan for `statement`: its steps, as `EXPLAIN QUERY PLAN` words them; or why it
/// cannot run (an index it names is missing).
fn plan(conn: &Conn, statement: &Statement) -> db::Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", statement.sql))?;
    let steps = stmt.query_map(params_from_iter(&statement.params), |r| r.get(3))?;
    steps.collect()
}

/// What is wrong with a plan of a query of `table` that should apply `bounds`, if anything.
fn faults(table: &str, bounds: &[&str], steps: &[String]) -> Vec<String> {
    let mut faults = Vec::new();
    for step in steps {
        // A virtual table is the agent's list of numbers (`json_each`), not stored rows.
        if step.starts_with("SCAN ") && !step.contains("VIRTUAL TABLE") {
            faults.push(format!("reads a table whole: {step}"));
        }
        if step.contains("TEMP B-TREE") {
            faults.push(format!("sorts: {step}"));
        }
    }
    for bound in bounds {
        let (table, bound) = bound.split_once('.').unwrap_or((table, bound));
        let constraints = steps
            .iter()
            .find_map(|s| s.strip_prefix(&format!("SEARCH {table} USING ")))
            .filter(|s| s.contains("INDEX "))
            .and_then(|s| s.split_once(" ("))
            .map_or("", |(_, c)| c.trim_end_matches(')'));
        if !constraints.split(" AND ").any(|c| c == bound) {
            faults.push(format!(
                "the index search of {table} is not bounded by {bound}"
            ));
        }
    }
    faults
}

/// The cases of a listing whose plan is at fault, with their plan and query, on a migrated
/// empty database on which `prepare` ran first.
fn failures(
    table: &str,
    cases: Cases,
    statement: fn(&[Ask]) -> Statement,
    prepare: &str,
) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let (writer, _readers) = open(&dir.path().join("plans.db")).unwrap();
    let conn = writer.connection();
    conn.execute_batch(prepare).unwrap();
    let mut failures = Vec::new();
    for (asks, bounds) in cases {
        let statement = statement(asks);
        let (steps, faults) = match plan(conn, &statement) {
            Ok(steps) => {
                let faults = faults(table, bounds, &steps);
                (steps, faults)
            }
            Err(e) => (Vec::new(), vec![format!("does not run: {e}")]),
        };
        if !faults.is_empty() {
            failures.push(format!(
                "{asks:?}: {}\n    plan: {}\n    sql: {}",
                faults.join("; "),
                steps.join(" | "),
                statement.sql
            ));
        }
    }
    failures
}

fn assert_served(table: &str, cases: Cases, statement: fn(&[Ask]) -> Statement) {
    let failures = failures(table, cases, statement, "");
    assert!(
        failures.is_empty(),
        "{} of {} queries of {table} are not served by an index:\n  {}",
        failures.len(),
        cases.len(),
        failures.join("\n  ")
    );
}

#[test]
fn every_history_query_is_served_by_an_index() {
    assert_served("calls", HISTORY, history);
}

#[test]
fn every_queue_journal_query_is_served_by_an_index() {
    assert_served("queue_journal", JOURNAL, journal);
}

#[test]
fn every_events_query_is_served_by_an_index() {
    assert_served("events", EVENTS, events);
}

/// The check itself: a line's history read through an index that does not lead with the line
/// walks through every call of the token, and the check says so; so it does when the index
/// is missing.
#[test]
fn a_line_walking_through_every_call_is_caught() {
    let a_line: Cases = &[(&[Number], &["number=?"])];
    assert!(failures("calls", a_line, history, "").is_empty());
    let by_time_only = "DROP INDEX calls_by_number; \
                        CREATE INDEX calls_by_number ON calls (token_id, started_at);";
    let walking = failures("calls", a_line, history, by_time_only);
    assert!(
        walking[0].contains("not bounded by number=?"),
        "{walking:?}"
    );
    let missing = failures("calls", a_line, history, "DROP INDEX calls_by_number;");
    assert!(missing[0].contains("no such index"), "{missing:?}");
}
