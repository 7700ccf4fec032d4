//! The screen-pop URL template: OVH's demo replaces `*CALLING*`, `*CALLED*`, `*DIALED*` and
//! `*EVENT*` in the operator's URL; we add `*CALLID*`, `*NUMBER*` (the OVH line or queue),
//! `*DESCRIPTION*` and `*AGENT*` (queue events). As in OVH's demo, a number an event does not
//! carry is filled from the line or queue it is about (`Ressource`): a queue event has no
//! `Called` — it is the queue — and `*DIALED*` falls back to the number called, so that no
//! variable is left empty when its meaning is known. Every value is percent-encoded, so that a
//! caller id or a description can never add a query parameter, a path segment or a fragment
//! to the operator's address. Each value is cut to `VALUE_BYTES` first, so that the filled
//! URL, stored in the outbox and requested or opened, stays bounded whatever an event
//! carries. Pure: no I/O, no clock.

use crate::normalise::Event;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986's unreserved characters is encoded (`*` too, so that a value can
/// never form another variable).
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The longest value put into a URL, in bytes: numbers, call ids and queue names are far
/// shorter; anything longer is cut (on a character boundary, without a mark).
pub const VALUE_BYTES: usize = 256;

/// The variables a template may use, and where they come from.
pub const VARIABLES: &[&str] = &[
    "CALLING",
    "CALLED",
    "DIALED",
    "EVENT",
    "CALLID",
    "NUMBER",
    "DESCRIPTION",
    "AGENT",
];

/// The values of one event, before encoding. Missing values become empty strings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Vars<'a> {
    pub calling: Option<&'a str>,
    pub called: Option<&'a str>,
    pub dialed: Option<&'a str>,
    pub event: &'a str,
    pub call_id: Option<&'a str>,
    pub number: &'a str,
    pub description: Option<&'a str>,
    pub agent: Option<&'a str>,
}

impl<'a> Vars<'a> {
    pub fn of(e: &'a Event) -> Vars<'a> {
        let called = e.called.as_deref().unwrap_or(&e.number);
        Vars {
            calling: Some(e.calling.as_deref().unwrap_or(&e.number)),
            called: Some(called),
            dialed: Some(e.dialed.as_deref().unwrap_or(called)),
            event: &e.name,
            call_id: e.call_id.as_deref(),
            number: &e.number,
            description: e.details.description.as_deref(),
            agent: e.queue.agent.as_deref(),
        }
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        let v = match name {
            "CALLING" => self.calling,
            "CALLED" => self.called,
            "DIALED" => self.dialed,
            "EVENT" => Some(self.event),
            "CALLID" => self.call_id,
            "NUMBER" => Some(self.number),
            "DESCRIPTION" => self.description,
            "AGENT" => self.agent,
            _ => return None,
        };
        Some(v.unwrap_or(""))
    }
}

/// Fills `template` in one pass, left to right: a known `*NAME*` becomes its encoded value;
/// any other text, unknown `*WORDS*` included, is kept as written.
pub fn fill(template: &str, vars: &Vars) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find('*') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let known = after
            .find('*')
            .and_then(|end| vars.get(&after[..end]).map(|v| (end, v)));
        match known {
            Some((end, value)) => {
                out.extend(utf8_percent_encode(cut(value), VALUE));
                rest = &after[end + 1..];
            }
            None => {
                out.push('*');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `value` cut to at most `VALUE_BYTES`, on a character boundary.
fn cut(value: &str) -> &str {
    let mut end = value.len().min(VALUE_BYTES);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars<'static> {
        Vars {
            calling: Some("0033612345678"),
            called: Some("0033972101010"),
            dialed: Some("0033972101010"),
            event: "start_ringing",
            call_id: Some("36f675cc."),
            number: "0033972101010",
            description: Some("Accueil & Co / <b>été</b>"),
            agent: None,
        }
    }

    #[test]
    fn every_variable_is_replaced() {
        let url = fill(
            "https://crm.example/p?from=*CALLING*&to=*CALLED*&d=*DIALED*&e=*EVENT*&id=*CALLID*&n=*NUMBER*&desc=*DESCRIPTION*&a=*AGENT*",
            &vars(),
        );
        assert_eq!(
            url,
            "https://crm.example/p?from=0033612345678&to=0033972101010&d=0033972101010&e=start_ringing&id=36f675cc.&n=0033972101010&desc=Accueil%20%26%20Co%20%2F%20%3Cb%3E%C3%A9t%C3%A9%3C%2Fb%3E&a="
        );
    }

    #[test]
    fn values_cannot_escape_their_place() {
        let mut v = vars();
        v.calling = Some("1&admin=1#*CALLED*?x=/../");
        let url = fill("https://crm.example/*CALLING*/x?n=*CALLING*", &v);
        assert_eq!(
            url,
            "https://crm.example/1%26admin%3D1%23%2ACALLED%2A%3Fx%3D%2F..%2F/x?n=1%26admin%3D1%23%2ACALLED%2A%3Fx%3D%2F..%2F"
        );
    }

    #[test]
    fn a_huge_value_is_cut_so_that_the_filled_url_stays_bounded() {
        let huge = "é".repeat(100_000);
        let mut v = vars();
        v.description = Some(&huge);
        let url = fill("https://crm.example/?d=*DESCRIPTION*", &v);
        // 128 two-byte characters, each encoded as two %XX.
        assert_eq!(url.len(), "https://crm.example/?d=".len() + 128 * 6);
    }

    #[test]
    fn unknown_words_and_lone_stars_stay() {
        assert_eq!(
            fill("https://a.example/*x*/*FOO*?q=**&r=*EVENT*", &vars()),
            "https://a.example/*x*/*FOO*?q=**&r=start_ringing"
        );
        assert_eq!(fill("https://a.example/*", &vars()), "https://a.example/*");
        assert_eq!(fill("", &vars()), "");
    }

    #[test]
    fn queue_events_give_the_agent_and_the_queue() {
        let line = r#"{"Event":"agent-offering","Ressource":"0033972100100","Service":"queues","Data":{"Calling":"0033655555555","QueueAgent":"agent_0033972101010_1"},"Details":{"Description":"Support"}}"#;
        let e = Event::from_json(serde_json::from_str(line).unwrap(), "", 0.0).unwrap();
        assert_eq!(
            fill(
                "http://c.example/?q=*NUMBER*&c=*CALLING*&a=*AGENT*&d=*DESCRIPTION*&x=*CALLED*",
                &Vars::of(&e)
            ),
            "http://c.example/?q=0033972100100&c=0033655555555&a=0033972101010&d=Support&x=0033972100100"
        );
    }

    /// `*CALLED*` was empty for every queue event: OVH's demo fills it from `Ressource`.
    #[test]
    fn numbers_an_event_lacks_are_filled_from_the_line_or_queue_it_is_about() {
        let line = r#"{"Event":"member-queue-start","Ressource":"0033972100100","Service":"queues","Data":{}}"#;
        let e = Event::from_json(serde_json::from_str(line).unwrap(), "", 0.0).unwrap();
        assert_eq!(
            fill(
                "?c=*CALLING*&d=*CALLED*&n=*DIALED*&i=*CALLID*",
                &Vars::of(&e)
            ),
            "?c=0033972100100&d=0033972100100&n=0033972100100&i="
        );
        let line = r#"{"Event":"start_ringing","Ressource":"0033972101010","Data":{"Calling":"0033655555555","Called":"0033972101010","Dialed":"0033972101099"}}"#;
        let e = Event::from_json(serde_json::from_str(line).unwrap(), "", 0.0).unwrap();
        assert_eq!(
            fill("?c=*CALLING*&d=*CALLED*&n=*DIALED*", &Vars::of(&e)),
            "?c=0033655555555&d=0033972101010&n=0033972101099",
            "what an event carries is kept"
        );
    }
}
