//! Reading OVH's loosely typed values: strings that hold numbers, numbers where strings were
//! expected, times in seconds or nanoseconds, and the token to scrub out of raw copies.

use serde_json::{Map, Value};

/// A non-empty text value; numbers are written out as OVH would have quoted them.
pub fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => {
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_string())
        }
        Value::Number(n) => Some(match n.as_i64() {
            Some(i) => i.to_string(),
            None => n.to_string(),
        }),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A number given as a JSON number or as a string holding one.
pub fn num(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|n| n.is_finite())
}

/// A time, in seconds since 1970: a value of 0 or less (seen as "not set") is no time at all.
pub fn time(v: Option<&Value>) -> Option<f64> {
    num(v).filter(|t| *t > 0.0).map(to_seconds)
}

/// OVH gives times in seconds (`Ts`, `Queue…Time`) or nanoseconds (`Timestamp`, `TsGet`);
/// tell them apart by magnitude rather than by key, in case a client or version mixes them.
pub fn to_seconds(t: f64) -> f64 {
    let a = t.abs();
    if a >= 1e17 {
        t / 1e9
    } else if a >= 1e14 {
        t / 1e6
    } else if a >= 1e11 {
        t / 1e3
    } else {
        t
    }
}

/// Top-level keys are capitalised in v1 and lower case in v2.
pub fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// `agent_0033972101010_1` → `0033972101010`; anything else is kept as it is.
pub fn agent_number(agent: &str) -> String {
    let Some(rest) = agent.strip_prefix("agent_") else {
        return agent.to_string();
    };
    match rest.rfind('_') {
        Some(i) if i > 0 => rest[..i].to_string(),
        _ => rest.to_string(),
    }
}

/// Removes every `Token` key and every string holding the token, at any depth. The token is
/// found in any case and with or without its dashes (`3F25…-…` and `3f25…`), and the work is
/// linear in the size of the value: a hostile answer with megabytes of text cannot stall the
/// feed (it once took 25 s of CPU for a 4 MB string).
pub fn redact(v: &mut Value, token: &str) {
    if token.is_empty() {
        return;
    }
    let dashed = token.to_ascii_lowercase();
    let bare: String = dashed.chars().filter(|c| *c != '-').collect();
    redact_forms(v, &[dashed.as_str(), bare.as_str()]);
}

fn redact_forms(v: &mut Value, forms: &[&str]) {
    match v {
        Value::Object(map) => {
            map.retain(|k, _| !k.eq_ignore_ascii_case("token"));
            for child in map.values_mut() {
                redact_forms(child, forms);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| redact_forms(i, forms)),
        Value::String(s) => {
            for form in forms {
                if let Some(scrubbed) = scrub(s, form) {
                    *s = scrubbed;
                }
            }
        }
        _ => {}
    }
}

/// `text` with every occurrence of `needle` (lower case), in any case, replaced by
/// `[token]`; `None` when there is none. One lower-case copy and one left-to-right search:
/// ASCII lower-casing keeps byte offsets, so positions found in the copy are valid in the
/// original.
fn scrub(text: &str, needle: &str) -> Option<String> {
    if needle.is_empty() || text.len() < needle.len() {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let mut found = lower.match_indices(needle).peekable();
    found.peek()?;
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for (at, _) in found {
        out.push_str(&text[from..at]);
        out.push_str("[token]");
        from = at + needle.len();
    }
    out.push_str(&text[from..]);
    Some(out)
}
