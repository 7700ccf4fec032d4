//! Decoding whole poll answers: the v1 envelope `{"Session", "Message", "Events"}` and the v2
//! JSON array. A body that is not JSON (an HTML error page, a body cut mid-way) is an error
//! for the feed to retry; one bad event inside a good answer is reported on its own and does
//! not take its neighbours down.

use super::{fields, Event};
use crate::clock::UnixTime;
use serde_json::Value;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("the answer is not JSON: {0}")]
    NotJson(String),
    #[error("the answer is JSON but not the expected shape: {0}")]
    Shape(&'static str),
    #[error("an event is not a JSON object")]
    NotAnObject,
}

/// One v1 poll answer: the session to pass back, OVH's message, and the events, each decoded
/// or rejected on its own.
#[derive(Debug)]
pub struct V1Poll {
    pub session: Option<String>,
    pub message: Option<String>,
    pub events: Vec<Result<Event, DecodeError>>,
}

fn parse(body: &[u8]) -> Result<Value, DecodeError> {
    serde_json::from_slice(body).map_err(|e| DecodeError::NotJson(e.to_string()))
}

pub fn decode_v1_poll(
    body: &[u8],
    token: &str,
    received_at: UnixTime,
) -> Result<V1Poll, DecodeError> {
    let Value::Object(mut obj) = parse(body)? else {
        return Err(DecodeError::Shape(
            "expected an object with Session and Events",
        ));
    };
    // Taken out of the answer, not copied: a backlog's answer holds thousands of events.
    // The exact key first, as `fields::get_ci` reads it.
    let key = if obj.contains_key("Events") {
        Some("Events".to_string())
    } else {
        obj.keys()
            .find(|k| k.eq_ignore_ascii_case("Events"))
            .cloned()
    };
    let events = match key.and_then(|k| obj.remove(&k)) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(DecodeError::Shape("Events is not a list")),
    };
    Ok(V1Poll {
        session: fields::text(fields::get_ci(&obj, "Session")),
        message: fields::text(fields::get_ci(&obj, "Message")),
        events: events
            .into_iter()
            .map(|e| Event::from_json(e, token, received_at))
            .collect(),
    })
}

/// A v2 poll answers a bare array of events with lower-case top-level keys.
pub fn decode_v2_poll(
    body: &[u8],
    token: &str,
    received_at: UnixTime,
) -> Result<Vec<Result<Event, DecodeError>>, DecodeError> {
    match parse(body)? {
        Value::Array(items) => Ok(items
            .into_iter()
            .map(|e| Event::from_json(e, token, received_at))
            .collect()),
        Value::Null => Ok(Vec::new()),
        _ => Err(DecodeError::Shape("expected a list of events")),
    }
}
