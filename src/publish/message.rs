//! What is published: one message per event and per new state of a line, a queue, a finished
//! call or a queue caller who left, as JSON of version 1 (`docs/publish.md`). A message names
//! its organisation and its number, never a token.

use crate::engine::{CallRecord, JournalEntry, LineView, QueueView};
use crate::store::queries::EventRow;
use crate::token::TokenId;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

/// The version of the payloads' shape: raised on any change that is not an added field.
pub const VERSION: u32 = 1;

/// The longest number kept in a subject (OVH's are 13 digits).
const MAX_NUMBER: usize = 64;

/// What one committed batch of a token changed, as the ingest thread hands it over.
#[derive(Debug)]
pub struct Batch {
    pub token: TokenId,
    /// Each event, whether its number is one of the token's queues, and its fingerprint.
    pub events: Vec<(EventRow, bool, String)>,
    pub lines: Vec<LineView>,
    pub queues: Vec<QueueView>,
    pub calls: Vec<CallRecord>,
    pub journal: Vec<JournalEntry>,
}

/// One message: where it goes (its organisation, line or queue, number, kind), its JSON
/// payload, and the id JetStream deduplicates it by.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub org: i64,
    pub scope: Scope,
    /// The number as one subject token (`subject_token`).
    pub number: String,
    pub kind: &'static str,
    pub payload: Vec<u8>,
    pub id: String,
}

/// Whether a message is about a line or a queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Line,
    Queue,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::Line => "line",
            Scope::Queue => "queue",
        }
    }
}

impl Message {
    /// NATS: `<prefix>.<org>.<line|queue>.<number>`.
    pub fn subject(&self, prefix: &str) -> String {
        format!(
            "{prefix}.{}.{}.{}",
            self.org,
            self.scope.as_str(),
            self.number
        )
    }

    /// MQTT: `<prefix>/<org>/<line|queue>/<number>/<state|event|call|journal>`.
    pub fn topic(&self, prefix: &str) -> String {
        let leaf = if self.is_state() { "state" } else { self.kind };
        format!(
            "{prefix}/{}/{}/{}/{leaf}",
            self.org,
            self.scope.as_str(),
            self.number
        )
    }

    /// A line's or a queue's state: retained on MQTT, so that a new subscriber gets it.
    pub fn is_state(&self) -> bool {
        matches!(self.kind, "line" | "queue")
    }
}

impl Batch {
    /// The batch's messages for `org`, in order: events first, then the states they left.
    pub fn messages(&self, org: i64) -> Vec<Message> {
        let mut out = Vec::new();
        for (event, queue, fingerprint) in &self.events {
            let scope = if *queue { Scope::Queue } else { Scope::Line };
            let mut m = message(org, scope, &event.number, "event", "event", event);
            // Named by what OVH sent, not by how it reads: two events alike in every field
            // shown are still two; the same event through two tokens of the organisation is
            // one.
            m.id = message_id(org, fingerprint.as_bytes());
            out.push(m);
        }
        for line in &self.lines {
            out.push(message(
                org,
                Scope::Line,
                &line.number,
                "line",
                "line",
                line,
            ));
        }
        for queue in &self.queues {
            out.push(message(
                org,
                Scope::Queue,
                &queue.number,
                "queue",
                "queue",
                queue,
            ));
        }
        for call in &self.calls {
            out.push(message(
                org,
                Scope::Line,
                &call.number,
                "call",
                "call",
                call,
            ));
        }
        for entry in &self.journal {
            out.push(message(
                org,
                Scope::Queue,
                &entry.queue,
                "journal",
                "entry",
                entry,
            ));
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
            && self.lines.is_empty()
            && self.queues.is_empty()
            && self.calls.is_empty()
            && self.journal.is_empty()
    }
}

fn message(
    org: i64,
    scope: Scope,
    number: &str,
    kind: &'static str,
    field: &str,
    data: &impl Serialize,
) -> Message {
    let token = subject_token(number);
    let number: String = number.chars().take(MAX_NUMBER).collect();
    let mut body = json!({"v": VERSION, "kind": kind, "org": org, "number": number});
    body[field] = serde_json::to_value(data).unwrap_or_default();
    let payload = serde_json::to_vec(&body).unwrap_or_default();
    // The same message sent again (a lost acknowledgement) is the same id: stored once.
    let id = message_id(org, &[payload.as_slice(), &[0], token.as_bytes()].concat());
    Message {
        org,
        scope,
        number: token,
        kind,
        payload,
        id,
    }
}

/// The id JetStream deduplicates by (within its window, two minutes by default).
fn message_id(org: i64, content: &[u8]) -> String {
    let mut digest = Sha256::new();
    digest.update(org.to_be_bytes());
    digest.update(content);
    crate::token::hex(&digest.finalize()[..16])
}

/// A number as one subject token: NATS gives `.`, `*`, `>` and white space a meaning, MQTT
/// `/`, `+` and `#`; anything but letters, digits, `-` and `_` becomes `_`, and it is capped.
pub fn subject_token(number: &str) -> String {
    let cleaned: String = number
        .chars()
        .take(MAX_NUMBER)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "_".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_and_topics_name_the_organisation_and_number_and_states_are_retained() {
        let state = message(7, Scope::Line, "0033 972", "line", "line", &json!({}));
        assert_eq!(state.subject("ovhcti"), "ovhcti.7.line.0033_972");
        assert_eq!(state.topic("home"), "home/7/line/0033_972/state");
        assert!(state.is_state());
        let left = message(
            7,
            Scope::Queue,
            "0033972100100",
            "journal",
            "entry",
            &json!({}),
        );
        assert_eq!(left.topic("home"), "home/7/queue/0033972100100/journal");
        assert!(!left.is_state());
        let body: serde_json::Value = serde_json::from_slice(&state.payload).unwrap();
        assert_eq!(
            body["number"], "0033 972",
            "the payload keeps the number as OVH wrote it"
        );
    }

    #[test]
    fn numbers_cannot_escape_their_subject_token() {
        assert_eq!(subject_token("0033972101010"), "0033972101010");
        assert_eq!(subject_token("a.b*c>d e/f+g#h"), "a_b_c_d_e_f_g_h");
        assert_eq!(subject_token(""), "_");
        assert_eq!(subject_token(&"9".repeat(500)).len(), MAX_NUMBER);
    }
}
