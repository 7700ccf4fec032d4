//! Per-token settings, as `GET/PUT /api/settings` show them: the screen pop, display options,
//! the service-level threshold and target, the time zone and the dashboard's language. A
//! change is merged onto the current settings, then checked as a whole; an invalid one is
//! refused naming the field, and the settings in force stay as they were. Every string and
//! list has a cap (`crate::limits`): settings are stored, and the screen-pop URL is copied
//! into the outbox on every matching event.

use crate::limits;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Event types a screen pop may be triggered by.
pub const POP_EVENTS: &[&str] = &[
    "start_ringing",
    "end_ringing",
    "start_calling",
    "end_calling",
    "member-queue-start",
    "agent-offering",
    "bridge-agent-start",
    "member-queue-end",
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub screen_pop: ScreenPop,
    pub display: Display,
    pub service_level_s: u32,
    /// The share of callers (%) that should be answered within `service_level_s`: the
    /// dashboard colours a queue's service level against it.
    pub service_level_target_pct: u32,
    pub timezone: String,
    /// The dashboard's language: `auto` follows the browser.
    pub language: String,
}

/// Languages the dashboard speaks (`auto`: the browser's choice).
pub const LANGUAGES: &[&str] = &["auto", "fr", "en"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PopMode {
    Modal,
    Popup,
    Silent,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScreenPop {
    pub enabled: bool,
    pub mode: PopMode,
    pub url: String,
    pub events: Vec<String>,
    pub directions: Vec<String>,
    /// Which OVH numbers (lines or queues) pop: `null` for all of them, or a list.
    pub numbers: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Display {
    pub only_active: bool,
    pub reset_at_midnight: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            screen_pop: ScreenPop::default(),
            display: Display::default(),
            service_level_s: 20,
            service_level_target_pct: 80,
            timezone: "Europe/Paris".into(),
            language: "auto".into(),
        }
    }
}

impl Default for ScreenPop {
    fn default() -> Self {
        ScreenPop {
            enabled: false,
            mode: PopMode::Modal,
            url: String::new(),
            events: vec!["start_ringing".into(), "member-queue-start".into()],
            directions: vec!["incoming".into()],
            numbers: None,
        }
    }
}

impl ScreenPop {
    /// Checks a screen pop as a whole; a refusal names its field under `field` (the
    /// organisation's `screen_pop`, or a user's own).
    pub fn validate(&self, field: &str) -> Result<(), SettingsError> {
        if !self.url.is_empty() || self.enabled {
            check_url(&self.url).map_err(|m| invalid(&format!("{field}.url"), m))?;
        }
        check_names(&format!("{field}.events"), &self.events, POP_EVENTS)?;
        if self.directions.len() > 2 {
            return Err(invalid(
                &format!("{field}.directions"),
                "expected incoming and/or outgoing, each at most once",
            ));
        }
        for d in &self.directions {
            if d != "incoming" && d != "outgoing" {
                return Err(invalid(
                    &format!("{field}.directions"),
                    format!(
                        "unknown direction {}; expected incoming and/or outgoing",
                        limits::quoted(d)
                    ),
                ));
            }
        }
        if let Some(numbers) = &self.numbers {
            check_numbers(&format!("{field}.numbers"), numbers)?;
        }
        Ok(())
    }

    /// Applies `patch` (any part of a screen-pop object) onto `self`, returning the new screen
    /// pop if the result is valid; refusals name their field under `field`.
    pub fn merged(&self, patch: &Value, field: &str) -> Result<ScreenPop, SettingsError> {
        let pop = patched(self, patch, field)?;
        pop.validate(field)?;
        Ok(pop)
    }
}

/// A refused setting: which field, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SettingsError {
    pub field: String,
    pub message: String,
}

fn invalid(field: &str, message: impl Into<String>) -> SettingsError {
    SettingsError {
        field: field.into(),
        message: message.into(),
    }
}

impl Settings {
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::Europe::Paris)
    }

    /// Applies `patch` (any part of the settings object) onto `self`, returning the new
    /// settings if the result is valid.
    pub fn merged(&self, patch: &Value) -> Result<Settings, SettingsError> {
        let settings = patched(self, patch, "")?;
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        self.screen_pop.validate("screen_pop")?;
        if !(1..=3600).contains(&self.service_level_s) {
            return Err(invalid(
                "service_level_s",
                "expected a number of seconds from 1 to 3600",
            ));
        }
        if !(1..=100).contains(&self.service_level_target_pct) {
            return Err(invalid(
                "service_level_target_pct",
                "expected a percentage from 1 to 100",
            ));
        }
        if !LANGUAGES.contains(&self.language.as_str()) {
            return Err(invalid(
                "language",
                format!("expected one of {}", LANGUAGES.join(", ")),
            ));
        }
        if self.timezone.len() > limits::TIMEZONE_BYTES
            || self.timezone.parse::<chrono_tz::Tz>().is_err()
        {
            return Err(invalid(
                "timezone",
                format!(
                    "unknown time zone {}; expected a name such as Europe/Paris",
                    limits::quoted(&self.timezone)
                ),
            ));
        }
        Ok(())
    }
}

/// Checks a list of event names: each one of `known`, and not more entries than
/// `limits::EVENTS` (a list of distinct names is always shorter).
pub(crate) fn check_names(
    field: &str,
    names: &[String],
    known: &[&str],
) -> Result<(), SettingsError> {
    if names.len() > limits::EVENTS {
        return Err(invalid(
            field,
            format!("at most {} event names", limits::EVENTS),
        ));
    }
    match names.iter().find(|e| !known.contains(&e.as_str())) {
        Some(bad) => Err(invalid(
            field,
            format!(
                "unknown event {}; expected some of {}",
                limits::quoted(bad),
                known.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// Checks a list of OVH numbers: at most `limits::NUMBERS`, each non-blank and at most
/// `limits::NUMBER_BYTES` of printable characters.
fn check_numbers(field: &str, numbers: &[String]) -> Result<(), SettingsError> {
    if numbers.len() > limits::NUMBERS {
        return Err(invalid(
            field,
            format!(
                "{} numbers; at most {} are accepted",
                numbers.len(),
                limits::NUMBERS
            ),
        ));
    }
    let bad = |n: &String| {
        n.trim().is_empty() || n.len() > limits::NUMBER_BYTES || n.chars().any(char::is_control)
    };
    if let Some(n) = numbers.iter().find(|n| bad(n)) {
        return Err(invalid(
            field,
            format!(
                "{} is not an OVH number: expected null (every number) or a list of numbers \
                 such as 0033972101010, each at most {} characters",
                limits::quoted(n),
                limits::NUMBER_BYTES
            ),
        ));
    }
    Ok(())
}

/// A screen-pop or webhook URL must be one the service can send to: at most
/// `limits::URL_BYTES`, absolute `http` or `https`, with a host, and parsable. An address
/// the guard refuses is checked by the caller, which knows the operator's allowed ranges.
/// Returns the parsed address.
pub(crate) fn check_url(url: &str) -> Result<reqwest::Url, String> {
    // The length first: nothing else is worth doing on two megabytes.
    if url.len() > limits::URL_BYTES {
        return Err(limits::url_too_long(url.len()));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| "expected an http:// or https:// address".to_string())?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err("the address has no host".into());
    }
    if url.chars().any(|c| c.is_control() || c == ' ') {
        return Err("the address contains spaces or control characters".into());
    }
    match reqwest::Url::parse(url) {
        Ok(u) if u.host_str().is_some_and(|h| !h.is_empty()) => Ok(u),
        Ok(_) => Err("the address has no host".into()),
        Err(e) => Err(format!("not a valid address: {e}")),
    }
}

/// JSON merge: objects merge key by key, anything else replaces. A part of the settings that
/// is an object (`screen_pop`, `display`) only takes an object: serde would read a list as
/// the struct's fields in order, so `{"screen_pop": []}` would silently reset the screen pop.
/// `current` with `patch` merged onto it, read back as a `T`: a refusal names the offending
/// key under `field` (the path names it itself, unknown keys included).
fn patched<T: Serialize + serde::de::DeserializeOwned>(
    current: &T,
    patch: &Value,
    field: &str,
) -> Result<T, SettingsError> {
    let whole = if field.is_empty() { "settings" } else { field };
    if !patch.is_object() {
        return Err(invalid(whole, "expected a JSON object"));
    }
    let mut value = serde_json::to_value(current).expect("settings serialise");
    merge(&mut value, patch, field)?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let at = match (field.is_empty(), path.as_str()) {
            (true, _) => path.clone(),
            (false, ".") => field.to_string(),
            (false, _) => format!("{field}.{path}"),
        };
        invalid(&at, e.into_inner().to_string())
    })
}

fn merge(target: &mut Value, patch: &Value, path: &str) -> Result<(), SettingsError> {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                let at = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match t.get_mut(k) {
                    Some(existing) if existing.is_object() => merge(existing, v, &at)?,
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
            Ok(())
        }
        (Value::Object(_), _) => Err(invalid(
            if path.is_empty() { "settings" } else { path },
            "expected a JSON object",
        )),
        (t, p) => {
            *t = p.clone();
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_match_the_contract() {
        let v = serde_json::to_value(Settings::default()).unwrap();
        assert_eq!(
            v,
            json!({"screen_pop": {"enabled": false, "mode": "modal", "url": "", "events": ["start_ringing", "member-queue-start"], "directions": ["incoming"], "numbers": null},
                   "display": {"only_active": false, "reset_at_midnight": false}, "service_level_s": 20,
                   "service_level_target_pct": 80, "timezone": "Europe/Paris", "language": "auto"})
        );
    }

    #[test]
    fn a_partial_change_merges() {
        let s = Settings::default()
            .merged(&json!({"screen_pop": {"enabled": true, "mode": "silent", "url": "https://crm.example/lookup?n=*CALLING*"}, "service_level_s": 30}))
            .unwrap();
        assert!(s.screen_pop.enabled);
        assert_eq!(s.screen_pop.mode, PopMode::Silent);
        assert_eq!(s.screen_pop.directions, vec!["incoming"]);
        assert_eq!(s.service_level_s, 30);
    }

    #[test]
    fn settings_stored_before_the_language_existed_still_load() {
        let old = json!({"screen_pop": {"enabled": false, "mode": "modal", "url": "", "events": [], "directions": []},
                         "display": {"only_active": true, "reset_at_midnight": false}, "service_level_s": 30, "timezone": "Europe/Paris"});
        let s: Settings = serde_json::from_value(old).unwrap();
        assert_eq!(
            (s.language.as_str(), s.service_level_target_pct),
            ("auto", 80)
        );
        assert!(s.display.only_active);
        let s = s.merged(&json!({"language": "fr"})).unwrap();
        assert_eq!(s.language, "fr");
    }

    #[test]
    fn invalid_settings_name_their_field() {
        let cases = [
            (json!({"screen_pop": {"url": "ftp://x"}}), "screen_pop.url"),
            (json!({"screen_pop": {"enabled": true}}), "screen_pop.url"),
            (
                json!({"screen_pop": {"url": "javascript:alert(1)"}}),
                "screen_pop.url",
            ),
            (json!({"screen_pop": {"mode": "loud"}}), "screen_pop.mode"),
            (
                json!({"screen_pop": {"events": ["ring"]}}),
                "screen_pop.events",
            ),
            (
                json!({"screen_pop": {"directions": ["sideways"]}}),
                "screen_pop.directions",
            ),
            (
                json!({"screen_pop": {"numbers": [""]}}),
                "screen_pop.numbers",
            ),
            (json!({"service_level_s": 0}), "service_level_s"),
            (json!({"service_level_s": "twenty"}), "service_level_s"),
            (json!({"timezone": "Mars/Olympus"}), "timezone"),
            (json!({"language": "de"}), "language"),
            (
                json!({"service_level_target_pct": 0}),
                "service_level_target_pct",
            ),
            (
                json!({"service_level_target_pct": 101}),
                "service_level_target_pct",
            ),
            (json!({"colour": "blue"}), "colour"),
            (json!({"display": {"dark": true}}), "display.dark"),
            (json!([1]), "settings"),
        ];
        for (patch, field) in cases {
            let err = Settings::default().merged(&patch).unwrap_err();
            assert_eq!(err.field, field, "{patch}: {err}");
        }
    }

    /// Issue 8: `{"screen_pop": []}` was read as a screen pop with every field defaulted, and
    /// silently reset the token's screen pop.
    #[test]
    fn a_part_of_the_wrong_type_is_refused_not_reset() {
        let current = Settings::default()
            .merged(&json!({"screen_pop": {"enabled": true, "url": "https://crm.example/?n=*CALLING*"}}))
            .unwrap();
        for (patch, field) in [
            (json!({"screen_pop": []}), "screen_pop"),
            (json!({"screen_pop": [true, "popup"]}), "screen_pop"),
            (json!({"screen_pop": null}), "screen_pop"),
            (json!({"display": [true]}), "display"),
            (json!({"display": "dark"}), "display"),
        ] {
            let err = current.merged(&patch).unwrap_err();
            assert_eq!(err.field, field, "{patch}: {err}");
            assert_eq!(err.message, "expected a JSON object");
        }
    }

    /// Issue 8: every stored string and list has a cap, refused naming the field, and the
    /// message never quotes more than a few dozen characters of what was sent.
    #[test]
    fn oversized_settings_are_refused_naming_the_field() {
        let long_url = format!("https://crm.example/?n=*CALLING*&pad={}", "x".repeat(2048));
        let many_numbers: Vec<String> = (0..501).map(|i| format!("00339721{i:05}")).collect();
        let cases = [
            (json!({"screen_pop": {"url": long_url}}), "screen_pop.url"),
            (
                json!({"screen_pop": {"numbers": many_numbers}}),
                "screen_pop.numbers",
            ),
            (
                json!({"screen_pop": {"numbers": ["0".repeat(33)]}}),
                "screen_pop.numbers",
            ),
            (
                json!({"screen_pop": {"numbers": ["0033\n972101010"]}}),
                "screen_pop.numbers",
            ),
            (
                json!({"screen_pop": {"events": vec!["start_ringing"; 33]}}),
                "screen_pop.events",
            ),
            (
                json!({"screen_pop": {"events": ["r".repeat(100_000)]}}),
                "screen_pop.events",
            ),
            (
                json!({"screen_pop": {"directions": ["incoming", "incoming", "outgoing"]}}),
                "screen_pop.directions",
            ),
            (json!({"timezone": "Europe/".repeat(10_000)}), "timezone"),
            (
                json!({"screen_pop": {"url": "http://[not an address/"}}),
                "screen_pop.url",
            ),
        ];
        for (patch, field) in cases {
            let err = Settings::default().merged(&patch).unwrap_err();
            assert_eq!(err.field, field, "{err}");
            assert!(err.message.len() < 300, "{field}: {}", err.message);
        }
        let at_the_caps = json!({"screen_pop": {
            "url": format!("https://crm.example/?n=*CALLING*&pad={}", "x".repeat(2000)),
            "numbers": (0..500).map(|i| format!("00339721{i:05}")).collect::<Vec<_>>(),
        }});
        Settings::default().merged(&at_the_caps).unwrap();
    }
}
