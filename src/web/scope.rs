//! What an agent may see (issue 10): their own lines and the queues they answer for, nothing
//! else — filtered here, on the server, in every answer and every live-stream message an
//! agent gets, so that their browser never receives another line's calls. The other roles
//! see every number of their organisation's token (`Caller::scope` is `None`).

use serde_json::Value;
use std::collections::HashSet;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope(HashSet<String>);

impl Scope {
    pub fn new(numbers: impl IntoIterator<Item = String>) -> Scope {
        Scope(numbers.into_iter().collect())
    }

    pub fn sees(&self, number: &str) -> bool {
        self.0.contains(number)
    }

    /// The numbers, sorted (for a store filter).
    pub fn numbers(&self) -> Vec<String> {
        let mut n: Vec<String> = self.0.iter().cloned().collect();
        n.sort();
        n
    }

    /// Keeps the items of a JSON array whose `key` is a number this scope sees.
    pub fn retain(&self, items: &mut Value, key: &str) {
        if let Some(a) = items.as_array_mut() {
            a.retain(|item| item[key].as_str().is_some_and(|n| self.sees(n)));
        }
    }

    /// The agent board (`GET /api/agents`, `event: agents`) with only this scope's agents,
    /// queues, lines and cross-checked queues.
    pub fn agents(&self, view: &mut Value) {
        self.retain(&mut view["board"]["agents"], "number");
        self.retain(&mut view["board"]["queues"], "service");
        self.retain(&mut view["board"]["lines"], "number");
        // (Indexing a null would make it an object: only a cross-check that is there.)
        if let Some(check) = view.get_mut("cross_check").filter(|c| c.is_object()) {
            self.retain(&mut check["queues"], "queue");
        }
    }

    /// A live-stream text with what this scope does not see left out: events, finished calls
    /// and pops of other numbers, journal entries of other queues, and other lines, queues and
    /// calls in state messages.
    pub fn stream(&self, sse: &str) -> String {
        filter(sse, |kind, data| match kind {
            "event" | "call" | "pop" => data["number"].as_str().is_some_and(|n| self.sees(n)),
            "journal" => data["queue"].as_str().is_some_and(|n| self.sees(n)),
            "agents" => {
                self.agents(data);
                true
            }
            "state" | "resync" => {
                for list in ["lines", "queues", "calls"] {
                    self.retain(&mut data[list], "number");
                }
                true
            }
            _ => true,
        })
    }
}

/// A live-stream text with only the screen pops meant for `user` (`None`: a token or a wall
/// screen): those marked for them when they chose their own screen pop (`own`), else the
/// organisation's, unmarked ones (`hooks::own_pops`).
pub fn pops_for(sse: String, user: Option<i64>, own: bool) -> String {
    if !sse.contains("event: pop\n") {
        return sse;
    }
    filter(&sse, |kind, data| {
        kind != "pop"
            || match data["user"].as_i64() {
                // Exactly one of the two, even for an event made just before a change.
                Some(for_user) => own && Some(for_user) == user,
                None => !own,
            }
    })
}

/// A live-stream text (`event: …\ndata: …\n\n` messages and `:` comments) with the messages
/// `keep` refuses left out (it may also trim a message's data).
fn filter(sse: &str, mut keep: impl FnMut(&str, &mut Value) -> bool) -> String {
    let mut out = String::with_capacity(sse.len());
    for message in sse.split_inclusive("\n\n") {
        let Some((kind, data)) = message
            .strip_prefix("event: ")
            .and_then(|m| m.split_once("\ndata: "))
        else {
            out.push_str(message);
            continue;
        };
        let Ok(mut data) = serde_json::from_str::<Value>(data.trim_end()) else {
            continue;
        };
        if keep(kind, &mut data) {
            crate::hub::frame(&mut out, kind, &data);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_stream_keeps_only_the_agent_s_numbers() {
        let scope = Scope::new(["0033972101010".to_string(), "0033972100100".to_string()]);
        let mut sse = String::from(": keep-alive\n\n");
        let f = |out: &mut String, kind: &str, v: Value| crate::hub::frame(out, kind, &v);
        f(
            &mut sse,
            "event",
            json!({"number": "0033972101010", "event": "start_ringing"}),
        );
        f(
            &mut sse,
            "event",
            json!({"number": "0033972101011", "event": "start_ringing"}),
        );
        f(&mut sse, "call", json!({"number": "0033972101011"}));
        f(
            &mut sse,
            "journal",
            json!({"queue": "0033972100100", "caller": "0033600000000"}),
        );
        f(&mut sse, "journal", json!({"queue": "0033972100200"}));
        f(
            &mut sse,
            "pop",
            json!({"number": "0033972101011", "url": "https://crm/"}),
        );
        f(
            &mut sse,
            "state",
            json!({"lines": [{"number": "0033972101010"}, {"number": "0033972101011"}],
            "queues": [{"number": "0033972100200"}], "calls": [{"number": "0033972101011"}]}),
        );
        f(&mut sse, "health", json!({"state": "connected"}));
        let kept = scope.stream(&sse);
        assert!(kept.starts_with(": keep-alive\n\n"));
        assert!(!kept.contains("0033972101011"), "{kept}");
        assert!(!kept.contains("0033972100200"), "{kept}");
        assert!(kept.contains("\"event\":\"start_ringing\""));
        assert!(kept.contains("0033600000000"));
        assert!(kept.contains("event: health"));
        assert_eq!(kept.matches("event: state").count(), 1);
    }

    #[test]
    fn a_user_with_their_own_screen_pop_gets_theirs_and_not_the_organisation_s() {
        let mut sse = String::new();
        for user in [json!(null), json!(7), json!(8)] {
            crate::hub::frame(&mut sse, "pop", &json!({"number": "1", "user": user}));
        }
        crate::hub::frame(&mut sse, "event", &json!({"number": "1"}));
        let users = |kept: String| -> Vec<Value> {
            kept.lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .map(|d| serde_json::from_str::<Value>(d).unwrap())
                .filter(|v| v.get("user").is_some())
                .map(|v| v["user"].clone())
                .collect()
        };
        assert_eq!(users(pops_for(sse.clone(), Some(7), true)), vec![json!(7)]);
        assert_eq!(
            users(pops_for(sse.clone(), Some(7), false)),
            vec![json!(null)]
        );
        assert_eq!(users(pops_for(sse.clone(), None, false)), vec![json!(null)]);
        assert!(pops_for(sse.clone(), Some(7), true).contains("event: event"));
    }
}
