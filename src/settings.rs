//! Per-token settings, as `GET/PUT /api/settings` show them: the screen pop, display options,
//! the service-level threshold and target, the time zone and the dashboard's language. A change is merged onto the current
//! settings, then checked as a whole; an invalid one is refused naming the field, and the
//! settings in force stay as they were.

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
        if !patch.is_object() {
            return Err(invalid("settings", "expected a JSON object"));
        }
        let mut current = serde_json::to_value(self).expect("settings serialise");
        merge(&mut current, patch);
        let settings: Settings = serde_path_to_error::deserialize(current).map_err(|e| {
            // The path names the offending key itself, unknown keys included.
            let field = e.path().to_string();
            invalid(&field, e.into_inner().to_string())
        })?;
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        let pop = &self.screen_pop;
        if !pop.url.is_empty() || pop.enabled {
            check_url(&pop.url).map_err(|m| invalid("screen_pop.url", m))?;
        }
        for e in &pop.events {
            if !POP_EVENTS.contains(&e.as_str()) {
                return Err(invalid(
                    "screen_pop.events",
                    format!(
                        "unknown event {e:?}; expected some of {}",
                        POP_EVENTS.join(", ")
                    ),
                ));
            }
        }
        for d in &pop.directions {
            if d != "incoming" && d != "outgoing" {
                return Err(invalid(
                    "screen_pop.directions",
                    format!("unknown direction {d:?}; expected incoming and/or outgoing"),
                ));
            }
        }
        if let Some(numbers) = &pop.numbers {
            if numbers.iter().any(|n| n.trim().is_empty() || n.len() > 32) {
                return Err(invalid(
                    "screen_pop.numbers",
                    "expected null (every number) or a list of OVH numbers such as 0033972101010",
                ));
            }
        }
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
        if self.timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(invalid(
                "timezone",
                format!(
                    "unknown time zone {:?}; expected a name such as Europe/Paris",
                    self.timezone
                ),
            ));
        }
        Ok(())
    }
}

/// A screen-pop URL must be absolute http(s) with a host.
pub(crate) fn check_url(url: &str) -> Result<(), String> {
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
    Ok(())
}

/// JSON merge: objects merge key by key, anything else replaces.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
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
}
