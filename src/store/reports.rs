//! Figures over time for the reports view: calls per hour (answered vs missed) and, per queue
//! and hour, callers answered and abandoned, service level and waits.
//!
//! Hours are the hours of the account's time zone (a report for "Tuesday" means Tuesday on the
//! wall clock of the office, including half-hour zones and daylight-saving days), so rows are
//! read from the store and bucketed here rather than grouped in SQL on UTC hours. The figures
//! follow the engine's meanings: answered = an agent answered; abandoned = left unanswered;
//! service level = answered within the threshold ÷ (answered + abandoned).

use super::StoreError;
use crate::clock::{as_rfc3339, UnixTime};
use crate::store::db::Conn;
use crate::token::TokenId;
use chrono::{Offset, TimeZone};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::BTreeMap;

/// The longest range a report covers, in seconds (93 days: a quarter, hour by hour).
pub const MAX_SPAN_S: f64 = 93.0 * 86400.0;

/// Calls that started in one hour, by outcome.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CallCounts {
    pub answered: u64,
    pub missed: u64,
    pub unanswered: u64,
    pub unknown: u64,
    /// Calls: every outcome above; a queue's rings on agents' lines that they did not take
    /// are not calls of their own (the caller is counted by the queue) and are not in it.
    pub total: u64,
    pub queue_offers: u64,
}

impl CallCounts {
    fn add(&mut self, outcome: &str) {
        match outcome {
            "answered" => self.answered += 1,
            "missed" => self.missed += 1,
            "unanswered" => self.unanswered += 1,
            "queue_offer" => {
                self.queue_offers += 1;
                return;
            }
            _ => self.unknown += 1,
        }
        self.total += 1;
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CallHour {
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub hour: UnixTime,
    #[serde(flatten)]
    pub counts: CallCounts,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CallReport {
    pub hours: Vec<CallHour>,
    pub total: CallCounts,
}

/// One queue's callers over some time: what the queue view shows live, but for a past period.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct QueueFigures {
    pub entered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub service_level_pct: Option<f64>,
    pub avg_wait_s: Option<f64>,
    pub max_wait_s: Option<f64>,
    #[serde(skip)]
    within: u64,
    #[serde(skip)]
    wait_sum: f64,
}

impl QueueFigures {
    fn add(&mut self, row: &JournalRow, service_level_s: f64) {
        self.entered += 1;
        match row.outcome.as_str() {
            "answered" => {
                self.answered += 1;
                self.wait_sum += row.wait_s;
                if row.wait_s <= service_level_s {
                    self.within += 1;
                }
            }
            "abandoned" => self.abandoned += 1,
            _ => {}
        }
        self.max_wait_s = Some(self.max_wait_s.unwrap_or(0.0).max(row.wait_s));
        let finished = self.answered + self.abandoned;
        self.service_level_pct =
            (finished > 0).then(|| round1(100.0 * self.within as f64 / finished as f64));
        self.avg_wait_s = (self.answered > 0).then(|| round1(self.wait_sum / self.answered as f64));
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueHour {
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub hour: UnixTime,
    #[serde(flatten)]
    pub figures: QueueFigures,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueReport {
    pub queue: String,
    pub hours: Vec<QueueHour>,
    pub total: QueueFigures,
}

/// One journal row, as far as reports need it.
#[derive(Clone, Debug)]
pub struct JournalRow {
    pub queue: String,
    pub joined_at: UnixTime,
    pub wait_s: f64,
    pub outcome: String,
}

/// The start of the local hour (in `tz`) that `t` falls in.
pub fn hour_start(t: UnixTime, tz: Tz) -> UnixTime {
    let secs = t.floor() as i64;
    let utc = chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default();
    let offset = tz
        .offset_from_utc_datetime(&utc.naive_utc())
        .fix()
        .local_minus_utc() as i64;
    ((secs + offset).div_euclid(3600) * 3600 - offset) as f64
}

/// Every local hour that overlaps `[from, to)`, in order.
pub fn hours(from: UnixTime, to: UnixTime, tz: Tz) -> Vec<UnixTime> {
    let mut out = Vec::new();
    let mut h = hour_start(from, tz);
    while h < to {
        out.push(h);
        // The next hour starts an hour later whatever the offset does (DST changes happen
        // on hour boundaries in every zone chrono-tz knows that matters here).
        h = hour_start(h + 3600.0, tz).max(h + 1.0);
    }
    out
}

pub fn bucket_calls(
    rows: &[(UnixTime, String)],
    from: UnixTime,
    to: UnixTime,
    tz: Tz,
) -> CallReport {
    let mut buckets: BTreeMap<i64, CallCounts> = hours(from, to, tz)
        .into_iter()
        .map(|h| (h as i64, CallCounts::default()))
        .collect();
    let mut total = CallCounts::default();
    for (at, outcome) in rows {
        buckets
            .entry(hour_start(*at, tz) as i64)
            .or_default()
            .add(outcome);
        total.add(outcome);
    }
    CallReport {
        hours: buckets
            .into_iter()
            .map(|(hour, counts)| CallHour {
                hour: hour as f64,
                counts,
            })
            .collect(),
        total,
    }
}

pub fn bucket_journal(
    rows: &[JournalRow],
    from: UnixTime,
    to: UnixTime,
    tz: Tz,
    service_level_s: f64,
) -> Vec<QueueReport> {
    let empty: BTreeMap<i64, QueueFigures> = hours(from, to, tz)
        .into_iter()
        .map(|h| (h as i64, QueueFigures::default()))
        .collect();
    let mut queues: BTreeMap<&str, (BTreeMap<i64, QueueFigures>, QueueFigures)> = BTreeMap::new();
    for row in rows {
        let (buckets, total) = queues
            .entry(&row.queue)
            .or_insert_with(|| (empty.clone(), QueueFigures::default()));
        buckets
            .entry(hour_start(row.joined_at, tz) as i64)
            .or_default()
            .add(row, service_level_s);
        total.add(row, service_level_s);
    }
    queues
        .into_iter()
        .map(|(queue, (buckets, total))| QueueReport {
            queue: queue.to_string(),
            hours: buckets
                .into_iter()
                .map(|(hour, figures)| QueueHour {
                    hour: hour as f64,
                    figures,
                })
                .collect(),
            total,
        })
        .collect()
}

/// Calls that started in `[from, to)`, per local hour; `number` limits them to one line.
pub fn calls_per_hour(
    conn: &Conn,
    token: &TokenId,
    from: UnixTime,
    to: UnixTime,
    tz: Tz,
    numbers: Option<&[String]>,
) -> Result<CallReport, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT started_at, outcome FROM calls WHERE token_id = ?1 AND started_at >= ?2 AND started_at < ?3
         AND (number IN (SELECT value FROM json_each(?4)) OR ?4 IS NULL)",
    )?;
    let numbers = numbers.map(|n| serde_json::to_string(n).unwrap_or_else(|_| "[]".into()));
    let rows: Vec<(f64, String)> = stmt
        .query_map(
            crate::store::db::params![token.as_str(), from, to, numbers],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
        .collect::<Result<_, _>>()?;
    Ok(bucket_calls(&rows, from, to, tz))
}

/// Callers who joined a queue in `[from, to)`, per queue and local hour.
pub fn queues_per_hour(
    conn: &Conn,
    token: &TokenId,
    from: UnixTime,
    to: UnixTime,
    tz: Tz,
    service_level_s: f64,
) -> Result<Vec<QueueReport>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT queue, joined_at, wait_s, outcome FROM queue_journal WHERE token_id = ?1 AND joined_at >= ?2 AND joined_at < ?3",
    )?;
    let rows: Vec<JournalRow> = stmt
        .query_map(crate::store::db::params![token.as_str(), from, to], |r| {
            Ok(JournalRow {
                queue: r.get(0)?,
                joined_at: r.get(1)?,
                wait_s: r.get(2)?,
                outcome: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(bucket_journal(&rows, from, to, tz, service_level_s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::parse_rfc3339;

    fn at(s: &str) -> f64 {
        parse_rfc3339(s).unwrap()
    }

    #[test]
    fn hours_follow_the_local_clock() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        // 10:20 in Paris (UTC+1 in November) is in the hour that began at 09:00 UTC.
        assert_eq!(
            hour_start(at("2024-11-26T09:20:00Z"), paris),
            at("2024-11-26T09:00:00Z")
        );
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        assert_eq!(
            hour_start(at("2024-11-26T09:20:00Z"), kolkata),
            at("2024-11-26T08:30:00Z")
        );
        // A local day has 24 hours, except on the days the clocks change.
        let day = |from: &str, to: &str| hours(at(from), at(to), paris).len();
        assert_eq!(day("2024-11-25T23:00:00Z", "2024-11-26T23:00:00Z"), 24);
        assert_eq!(day("2024-03-30T23:00:00Z", "2024-03-31T22:00:00Z"), 23);
        assert_eq!(day("2024-10-26T22:00:00Z", "2024-10-27T23:00:00Z"), 25);
    }

    #[test]
    fn calls_are_counted_per_hour_with_empty_hours_kept() {
        let utc: Tz = "UTC".parse().unwrap();
        let rows = vec![
            (at("2024-11-26T09:05:00Z"), "answered".to_string()),
            (at("2024-11-26T09:55:00Z"), "missed".to_string()),
            (at("2024-11-26T11:00:00Z"), "answered".to_string()),
        ];
        let r = bucket_calls(
            &rows,
            at("2024-11-26T09:00:00Z"),
            at("2024-11-26T12:00:00Z"),
            utc,
        );
        let counts: Vec<(u64, u64)> = r
            .hours
            .iter()
            .map(|h| (h.counts.answered, h.counts.missed))
            .collect();
        assert_eq!(counts, vec![(1, 1), (0, 0), (1, 0)]);
        assert_eq!((r.total.answered, r.total.missed, r.total.total), (2, 1, 3));
    }

    /// The queue trace, read back from a real store, gives the figures of fixtures/README.md.
    #[test]
    fn the_queue_trace_gives_the_expected_figures() {
        use crate::engine::Board;
        use crate::normalise::decode_v1_poll;
        use crate::token::Token;
        const TOKEN: &str = "3F2504E0-4F89-11D3-9A0C-0305E82C3301";
        let dir = tempfile::tempdir().unwrap();
        let (mut writer, readers) = super::super::open(&dir.path().join("t.db")).unwrap();
        let token = Token::parse(TOKEN).unwrap();
        writer.add_token(&token, "config", 0.0).unwrap();
        let id = token.id();
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/queue.v1.jsonl"
        ))
        .unwrap();
        let mut board = Board::default();
        let batch = writer.begin().unwrap();
        for line in text.lines().filter(|l| !l.contains("__status__")) {
            for e in decode_v1_poll(line.as_bytes(), TOKEN, 0.0).unwrap().events {
                let e = e.unwrap();
                if batch.insert_event(&id, &e, e.at).unwrap().is_some() {
                    for change in board.apply(&e, e.at) {
                        batch.record(&id, &change).unwrap();
                    }
                }
            }
        }
        batch.commit().unwrap();
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let (from, to) = (at("2024-11-25T23:00:00Z"), at("2024-11-26T23:00:00Z"));
        let queues = readers
            .with(|c| queues_per_hour(c, &id, from, to, paris, 20.0))
            .unwrap();
        let support = queues.iter().find(|q| q.queue == "0033972100100").unwrap();
        let t = &support.total;
        assert_eq!((t.entered, t.answered, t.abandoned), (4, 2, 2));
        assert_eq!(t.service_level_pct, Some(25.0));
        assert_eq!(t.avg_wait_s, Some(23.5));
        assert_eq!(t.max_wait_s, Some(90.0));
        assert_eq!(support.hours.len(), 24);
        assert_eq!(
            support.hours.iter().map(|h| h.figures.entered).sum::<u64>(),
            4
        );
        let calls = readers
            .with(|c| calls_per_hour(c, &id, from, to, paris, None))
            .unwrap();
        assert_eq!(calls.hours.len(), 24);
        assert_eq!(
            calls.total.total,
            calls.hours.iter().map(|h| h.counts.total).sum::<u64>()
        );
        let other = readers
            .with(|c| calls_per_hour(c, &id, from, to, paris, Some(&["0000".to_string()])))
            .unwrap();
        assert_eq!(other.total.total, 0, "the number filter applies");
    }
}
