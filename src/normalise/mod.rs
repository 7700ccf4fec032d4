//! Normalisation: OVH's loosely typed event JSON (API v1 or v2) into typed `Event`s.
//!
//! OVH writes numbers sometimes as strings and sometimes as numbers, leaves keys out, spells its
//! top-level keys in two cases depending on the API version, and invents new event types. This
//! module is liberal in all of that: any JSON object becomes an `Event`, unknown types become
//! `EventKind::Other`, and the raw object is kept (minus the token) so nothing is lost.

mod fields;
pub mod phone;
mod poll;

pub use poll::{decode_v1_poll, decode_v2_poll, DecodeError, V1Poll};

use crate::clock::UnixTime;
use fields::{num, text, time};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// What an event says happened. Both spellings OVH uses for the member count are accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Registered,
    StartRinging,
    EndRinging,
    StartCalling,
    EndCalling,
    MemberQueueStart,
    AgentOffering,
    BridgeAgentStart,
    BridgeAgentFail,
    BridgeAgentEnd,
    MemberQueueEnd,
    MembersCount,
    Other,
}

impl EventKind {
    pub fn parse(name: &str) -> EventKind {
        match name {
            "registered" => EventKind::Registered,
            "start_ringing" => EventKind::StartRinging,
            "end_ringing" => EventKind::EndRinging,
            "start_calling" => EventKind::StartCalling,
            "end_calling" => EventKind::EndCalling,
            "member-queue-start" => EventKind::MemberQueueStart,
            "agent-offering" => EventKind::AgentOffering,
            "bridge-agent-start" => EventKind::BridgeAgentStart,
            "bridge-agent-fail" => EventKind::BridgeAgentFail,
            "bridge-agent-end" => EventKind::BridgeAgentEnd,
            "member-queue-end" => EventKind::MemberQueueEnd,
            "members-count" | "member-count" => EventKind::MembersCount,
            _ => EventKind::Other,
        }
    }

    pub fn is_queue_event(self) -> bool {
        matches!(
            self,
            EventKind::MemberQueueStart
                | EventKind::AgentOffering
                | EventKind::BridgeAgentStart
                | EventKind::BridgeAgentFail
                | EventKind::BridgeAgentEnd
                | EventKind::MemberQueueEnd
                | EventKind::MembersCount
        )
    }
}

/// `Details`: what OVH says about the number the event concerns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Details {
    pub description: Option<String>,
    /// `sipCirpack`, `mgcpCirpack`, `easyHunting`, `cloudHunting`…
    pub kind: Option<String>,
    pub simultaneous_lines: Option<u32>,
}

/// The call-centre (`Queue…`) keys of a queue event.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueueData {
    pub member: Option<String>,
    /// The agent's own number, taken out of `agent_<number>_<n>`.
    pub agent: Option<String>,
    pub joined_at: Option<UnixTime>,
    pub answered_at: Option<UnixTime>,
    pub bridge_ended_at: Option<UnixTime>,
    pub left_at: Option<UnixTime>,
    pub cause: Option<String>,
    pub cancel_reason: Option<String>,
    pub hangup_cause: Option<String>,
    pub count: Option<u32>,
}

/// One event from the feed, typed. `raw` is the whole object as received, without the token.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub name: String,
    pub kind: EventKind,
    /// `Ressource`: the OVH number (line or queue) the event is about.
    pub number: String,
    pub service: String,
    /// When OVH emitted it (`Timestamp`), or the best time found in `Data`.
    pub at: UnixTime,
    /// The feed's own delay, `Timestamp − TsGet`.
    pub latency_ms: Option<f64>,
    pub call_id: Option<String>,
    pub calling: Option<String>,
    pub called: Option<String>,
    pub dialed: Option<String>,
    pub details: Details,
    pub queue: QueueData,
    /// The whole object as received, without the token, as JSON text: serialised once where
    /// the event is decoded (a follower's task, in parallel), so that the one writer thread
    /// only copies it into the store.
    pub raw: String,
    /// A digest of the event's content, the same whichever API version or token delivered
    /// it: the key under which a repeated delivery is recognised and counted once.
    pub fingerprint: String,
}

impl Event {
    /// A call queue, by its service, its type, or the event itself.
    pub fn is_queue(&self) -> bool {
        self.service == "queues"
            || matches!(
                self.details.kind.as_deref(),
                Some("easyHunting" | "cloudHunting")
            )
            || self.kind.is_queue_event()
    }

    /// Builds an event from one JSON object of either API version. `token` (the secret that
    /// delivered it) is removed from the raw copy wherever it appears. `received_at` stands in
    /// when the event carries no time at all.
    pub fn from_json(
        mut raw: Value,
        token: &str,
        received_at: UnixTime,
    ) -> Result<Event, DecodeError> {
        if !raw.is_object() {
            return Err(DecodeError::NotAnObject);
        }
        fields::redact(&mut raw, token);
        let obj = raw.as_object().expect("checked above");
        let top = |key: &str| fields::get_ci(obj, key);
        let empty = Value::Null;
        let data = top("Data").unwrap_or(&empty);
        let details = top("Details").unwrap_or(&empty);
        let d = |key: &str| data.get(key);

        let name = text(top("Event"))
            .or_else(|| text(d("Event")))
            .unwrap_or_default();
        let kind = EventKind::parse(&name);
        let number = text(top("Ressource"))
            .or_else(|| text(top("Resource")))
            .or_else(|| text(d("Billing")))
            .unwrap_or_default();
        let service = text(top("Service"))
            .or_else(|| text(d("Protocol")))
            .unwrap_or_default();

        let emitted = time(top("Timestamp"));
        let got = time(d("TsGet"));
        let at = emitted
            .or(got)
            .or_else(|| time(d("Ts")))
            .unwrap_or(received_at);
        // The feed's own delay is defined against TsGet only.
        let latency_ms = match (emitted, got) {
            (Some(e), Some(g)) => Some(((e - g) * 1000.0 * 1000.0).round() / 1000.0),
            _ => None,
        };

        let queue = QueueData {
            member: text(d("QueueMemberUUID")),
            agent: text(d("QueueAgent")).map(|a| fields::agent_number(&a)),
            joined_at: time(d("QueueMemberJoinedTime")),
            answered_at: time(d("QueueAgentAnsweredTime")),
            bridge_ended_at: time(d("QueueBridgeTerminatedTime")),
            left_at: time(d("QueueMemberLeavingTime")),
            cause: text(d("QueueCause")),
            cancel_reason: text(d("QueueCancelReason")),
            hangup_cause: text(d("QueueHangupCause")),
            count: num(d("Count")).filter(|c| *c >= 0.0).map(|c| c as u32),
        };
        let calling = text(d("Calling")).or_else(|| text(d("QueueMemberCIDNumber")));
        let fingerprint = fingerprint(obj);
        Ok(Event {
            name,
            kind,
            number,
            service,
            at,
            latency_ms,
            call_id: text(d("CallId")),
            calling,
            called: text(d("Called")),
            dialed: text(d("Dialed")).or_else(|| text(d("QueueMemberDNIS"))),
            details: Details {
                description: text(details.get("Description")),
                kind: text(details.get("Type")),
                simultaneous_lines: num(details.get("SimultaneousLine"))
                    .filter(|n| *n >= 0.0)
                    .map(|n| n as u32),
            },
            queue,
            fingerprint,
            raw: raw.to_string(),
        })
    }
}

#[cfg(test)]
mod tests;

/// Hashes the object with its top-level keys in lower case (v1 capitalises them, v2 does not).
/// The text is gathered first and hashed once: feeding the hash token by token costs more
/// than the serialisation itself.
fn fingerprint(obj: &Map<String, Value>) -> String {
    let mut keys: Vec<(String, &Value)> = obj
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    let mut text = Vec::with_capacity(1024);
    for (key, value) in keys {
        text.extend_from_slice(key.as_bytes());
        text.push(b'=');
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut text, value);
        text.push(b';');
    }
    crate::token::hex(&Sha256::digest(&text)[..16])
}

/// Scrubs `token` out of any JSON value (keys named `token`, and the token inside text).
pub fn redact_value(v: &mut Value, token: &str) {
    fields::redact(v, token)
}
