//! The service's configuration, layered: built-in defaults, then an optional TOML file
//! (`--config`, unknown keys refused), then environment variables and flags (clap reads both;
//! a flag wins over its variable). Every error is one line that names what is wrong, and
//! never repeats a token.

use crate::engine::Expiry;
use crate::feed::{Api, Backoff, MAX_ANSWER_BYTES, POLL_TIMEOUT};
use crate::store::retention::Policy;
use crate::token::Token;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Config {
    /// The demo (its simulated feed) rather than OVH's: its database is marked as a demo's.
    pub demo: bool,
    pub listen: String,
    pub db: PathBuf,
    /// The page caches' budget (`--db-cache-mb`).
    pub db_cache: crate::store::CacheBudget,
    pub upstream: String,
    pub api: Api,
    pub tokens: Vec<Token>,
    pub no_new_tokens: bool,
    pub expiry: Expiry,
    pub backoff: Backoff,
    pub poll_timeout: Duration,
    /// The largest answer read from OVH (`--max-answer-bytes`).
    pub max_answer_bytes: usize,
    pub tick: Duration,
    pub secure_cookies: bool,
    /// Series per token at `/metrics` (`--metrics-per-token`).
    pub metrics_per_token: bool,
    pub login_burst: u32,
    pub login_per_minute: u32,
    /// Tokens typed at the login page are followed until the service follows this many.
    pub max_tokens: usize,
    /// Ranges screen pops and webhooks may reach although they are not public (`--webhook-allow`).
    pub webhook_allow: Vec<ipnet::IpNet>,
    /// The time-out of one screen-pop or webhook request.
    pub webhook_timeout: Duration,
    /// How long finished deliveries, the delivery log and raw events are kept.
    pub retention: Policy,
    /// A token OVH refuses this long is paused (`--pause-after-days`).
    pub pause_after: Duration,
    /// Proxies whose `X-Forwarded-For` / `Forwarded` name the client (`--trusted-proxy`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How long a login's check of a new token waits for OVH before a held poll counts as
    /// accepted (see `feed::check`).
    pub login_check_hold: Duration,
    /// Checks of new tokens with OVH running at once, in all and per client address.
    pub login_checks: usize,
    pub login_checks_per_address: usize,
    /// Connections, header time-out and live-stream caps (`[server]`, `--max-connections`…).
    pub server: crate::net::Limits,
    /// OVH's REST API (issue 11): its base address (`--ovh-api`), the keys of the
    /// installation's organisation when configured rather than connected from the dashboard,
    /// and the requests a minute each consumer key may make.
    pub ovh_api: String,
    pub ovh_keys: Option<crate::ovh_api::Keys>,
    pub ovh_api_rate: u32,
    /// Where integrators' events are published (`--nats`, `--mqtt`), if anywhere.
    pub nats: Option<crate::publish::nats::NatsConfig>,
    pub mqtt: Option<crate::publish::mqtt::MqttConfig>,
    /// Several instances on PostgreSQL: how long a token's lease lasts unrenewed (`--lease-s`).
    pub lease: Duration,
}

pub const DEFAULT_UPSTREAM: &str = "https://events.voip.ovh.net";

impl Default for Config {
    fn default() -> Self {
        Config {
            demo: false,
            listen: "127.0.0.1:8080".into(),
            db: PathBuf::from("ovh-cti.db"),
            db_cache: crate::store::CacheBudget::default(),
            upstream: DEFAULT_UPSTREAM.into(),
            api: Api::V1,
            tokens: Vec::new(),
            no_new_tokens: false,
            expiry: Expiry::default(),
            backoff: Backoff::default(),
            poll_timeout: POLL_TIMEOUT,
            max_answer_bytes: MAX_ANSWER_BYTES,
            tick: crate::ingest::TICK,
            secure_cookies: false,
            metrics_per_token: false,
            login_burst: 10,
            login_per_minute: 10,
            max_tokens: 100,
            webhook_allow: Vec::new(),
            webhook_timeout: crate::hooks::worker::TIMEOUT,
            retention: Policy::default(),
            pause_after: crate::feed::PAUSE_AFTER,
            ovh_api: crate::ovh_api::client::DEFAULT_BASE.into(),
            ovh_keys: None,
            ovh_api_rate: crate::ovh_api::budget::PER_MINUTE,
            nats: None,
            mqtt: None,
            trusted_proxies: Vec::new(),
            login_check_hold: crate::feed::check::HOLD,
            login_checks: 32,
            login_checks_per_address: 2,
            server: crate::net::Limits::default(),
            lease: crate::cluster::LEASE,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The TOML file's shape. Every key is optional; unknown keys are refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub db: Option<PathBuf>,
    pub lease_s: Option<f64>,
    pub db_cache_mb: Option<u64>,
    pub upstream: Option<String>,
    pub api: Option<Api>,
    #[serde(default, deserialize_with = "token_list")]
    pub tokens: Option<Vec<String>>,
    pub no_new_tokens: Option<bool>,
    pub secure_cookies: Option<bool>,
    pub metrics_per_token: Option<bool>,
    pub expiry: Option<ExpiryFile>,
    pub feed: Option<FeedFile>,
    pub login: Option<LoginFile>,
    pub webhooks: Option<WebhooksFile>,
    pub retention: Option<RetentionFile>,
    /// CIDR ranges, as with `--trusted-proxy`.
    pub trusted_proxies: Option<Vec<String>>,
    pub server: Option<ServerFile>,
    pub ovh_api: Option<OvhApiFile>,
    pub nats: Option<NatsFile>,
    pub mqtt: Option<MqttFile>,
}

/// `[ovh_api]`: OVH's REST API; see `docs/ovh-api.md`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OvhApiFile {
    pub url: Option<String>,
    pub application_key: Option<String>,
    pub application_secret: Option<String>,
    pub consumer_key: Option<String>,
    pub rate_per_minute: Option<u32>,
}

/// `[server]`: what connections may hold; see `docs/security.md`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerFile {
    pub max_connections: Option<u64>,
    pub header_timeout_s: Option<f64>,
    pub max_streams_per_session: Option<u64>,
    pub max_streams_per_address: Option<u64>,
}

/// `[retention]`: days, fractions allowed; see `docs/operations.md`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionFile {
    pub outbox_days: Option<f64>,
    pub deliveries_days: Option<f64>,
    /// Unset: every event is kept.
    pub events_days: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksFile {
    /// CIDR ranges, as with `--webhook-allow`.
    pub allow: Option<Vec<String>>,
    pub timeout_s: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpiryFile {
    pub ringing_s: Option<f64>,
    pub waiting_s: Option<f64>,
    pub talking_s: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedFile {
    pub backoff_base_ms: Option<u64>,
    pub backoff_cap_ms: Option<u64>,
    pub backoff_outage_cap_ms: Option<u64>,
    pub poll_timeout_s: Option<u64>,
    pub max_answer_bytes: Option<u64>,
    pub pause_after_days: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginFile {
    pub burst: Option<u32>,
    pub per_minute: Option<u32>,
    pub max_tokens: Option<usize>,
    pub check_hold_ms: Option<u64>,
    pub pending_checks: Option<usize>,
    pub pending_checks_per_address: Option<usize>,
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError(format!(
                "cannot read the config file {}: {e}",
                path.display()
            ))
        })?;
        toml::from_str(&text).map_err(|e| {
            let at = e
                .span()
                .map(|s| format!(" (at byte {})", s.start))
                .unwrap_or_default();
            ConfigError(format!(
                "config file {}: {}{at}",
                path.display(),
                redact_values(e.message().trim())
            ))
        })
    }
}

/// `tokens = [...]`, with errors of our own: serde's would quote the value, and a token
/// written as `tokens = "…"` (a string, not a list) would be printed in the error.
fn token_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    use serde::de::Error;
    let items = match toml::Value::deserialize(d)? {
        toml::Value::Array(items) => items,
        other => {
            return Err(D::Error::custom(format!(
                "tokens must be a list, such as tokens = [\"…\"], not a {}",
                other.type_str()
            )))
        }
    };
    let strings = items.into_iter().enumerate().map(|(i, item)| match item {
        toml::Value::String(s) => Ok(s),
        other => Err(D::Error::custom(format!(
            "tokens: entry #{} must be a string, not a {}",
            i + 1,
            other.type_str()
        ))),
    });
    strings.collect::<Result<_, _>>().map(Some)
}

/// A TOML error message with the values it quotes left out (`string "…"`, ``variant `…` ``):
/// a token typed under the wrong key must not be printed either.
fn redact_values(message: &str) -> String {
    let mut out = message.to_string();
    for (opening, closing) in [("string \"", '"'), ("variant `", '`')] {
        let mut from = 0;
        while let Some(start) = out[from..].find(opening).map(|i| from + i + opening.len()) {
            let Some(len) = out[start..].find(closing) else {
                break;
            };
            out.replace_range(start..start + len, "…");
            from = start + "…".len() + 1;
        }
    }
    out
}

/// What the command line (flags or their environment variables) says; `None` where it is
/// silent.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub demo: bool,
    pub listen: Option<String>,
    pub db: Option<PathBuf>,
    pub db_cache_mb: Option<u64>,
    pub upstream: Option<String>,
    pub api: Option<Api>,
    pub max_answer_bytes: Option<u64>,
    pub tokens: Vec<String>,
    pub no_new_tokens: bool,
    pub secure_cookies: bool,
    pub metrics_per_token: bool,
    pub ringing_timeout_s: Option<f64>,
    pub waiting_timeout_s: Option<f64>,
    pub talking_timeout_s: Option<f64>,
    pub webhook_allow: Vec<String>,
    pub retain_outbox_days: Option<f64>,
    pub retain_deliveries_days: Option<f64>,
    pub retain_events_days: Option<f64>,
    pub trusted_proxies: Vec<String>,
    pub pause_after_days: Option<f64>,
    pub max_connections: Option<u64>,
    pub header_timeout_s: Option<f64>,
    pub max_streams_per_session: Option<u64>,
    pub max_streams_per_address: Option<u64>,
    pub ovh_api: Option<String>,
    pub ovh_app_key: Option<String>,
    pub ovh_app_secret: Option<String>,
    pub ovh_consumer_key: Option<String>,
    pub ovh_api_rate: Option<u32>,
    pub nats: Option<String>,
    pub nats_prefix: Option<String>,
    pub nats_stream: Option<String>,
    pub mqtt: Option<String>,
    pub mqtt_prefix: Option<String>,
    pub lease_s: Option<f64>,
}

/// `[mqtt]`: publishing for home automation and small integrations; see `docs/publish.md`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttFile {
    pub url: Option<String>,
    pub prefix: Option<String>,
}

/// `[nats]`: publishing for integrators; see `docs/publish.md`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsFile {
    pub url: Option<String>,
    pub prefix: Option<String>,
    pub stream: Option<String>,
}

/// NATS: a `nats://` or `tls://` address, and names NATS takes as one subject token / a
/// stream name (letters, digits, `-`, `_`; 1 to 32).
fn nats(file: Option<NatsFile>, cli: &mut Overrides, c: &mut Config) -> Result<(), ConfigError> {
    let file = file.unwrap_or_default();
    let Some(url) = cli.nats.take().or(file.url) else {
        return Ok(());
    };
    let scheme_ok = ["nats://", "tls://"].iter().any(|s| url.starts_with(s));
    if !scheme_ok || url.len() > 1024 {
        // The address may hold credentials: never repeated.
        return Err(ConfigError(
            "nats.url (--nats) must be a nats:// or tls:// address, e.g. nats://127.0.0.1:4222"
                .into(),
        ));
    }
    c.nats = Some(crate::publish::nats::NatsConfig {
        url,
        prefix: broker_name(
            cli.nats_prefix.take().or(file.prefix),
            "ovhcti",
            "nats.prefix (--nats-prefix)",
        )?,
        stream: broker_name(
            cli.nats_stream.take().or(file.stream),
            "OVHCTI",
            "nats.stream (--nats-stream)",
        )?,
    });
    Ok(())
}

/// A name the brokers take as one subject token or topic level, a stream name: 1 to 32
/// letters, digits, `-` or `_` (`default` when not given).
fn broker_name(value: Option<String>, default: &str, what: &str) -> Result<String, ConfigError> {
    let value = value.unwrap_or_else(|| default.to_string());
    let ok = (1..=32).contains(&value.len())
        && value
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_');
    if ok {
        Ok(value)
    } else {
        Err(ConfigError(format!(
            "{what} must be 1 to 32 letters, digits, '-' or '_'"
        )))
    }
}

/// MQTT: an `mqtt://` address (TLS is not built in), and the topics' first level.
fn mqtt(file: Option<MqttFile>, cli: &mut Overrides, c: &mut Config) -> Result<(), ConfigError> {
    let file = file.unwrap_or_default();
    let Some(url) = cli.mqtt.take().or(file.url) else {
        return Ok(());
    };
    if !url.starts_with("mqtt://") || url.len() > 1024 {
        // The address may hold credentials: never repeated.
        return Err(ConfigError(
            "mqtt.url (--mqtt) must be an mqtt:// address, e.g. mqtt://127.0.0.1:1883".into(),
        ));
    }
    c.mqtt = Some(crate::publish::mqtt::MqttConfig {
        url,
        prefix: broker_name(
            cli.mqtt_prefix.take().or(file.prefix),
            "ovhcti",
            "mqtt.prefix (--mqtt-prefix)",
        )?,
    });
    Ok(())
}

/// OVH's REST API settings: an absolute http(s) base address, the three keys together or
/// none, a rate from 1 to 600 requests a minute.
fn ovh_api(
    file: Option<OvhApiFile>,
    cli: &mut Overrides,
    c: &mut Config,
) -> Result<(), ConfigError> {
    let file = file.unwrap_or_default();
    if let Some(url) = cli.ovh_api.take().or(file.url) {
        let ok = reqwest::Url::parse(&url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
        if ok.is_none() || url.len() > crate::limits::URL_BYTES {
            return Err(ConfigError(
                "ovh_api.url (--ovh-api) must be an http(s) address such as https://eu.api.ovh.com/1.0".into(),
            ));
        }
        c.ovh_api = url.trim_end_matches('/').to_string();
    }
    let keys = [
        cli.ovh_app_key.take().or(file.application_key),
        cli.ovh_app_secret.take().or(file.application_secret),
        cli.ovh_consumer_key.take().or(file.consumer_key),
    ];
    let given = keys.iter().filter(|k| k.is_some()).count();
    if given != 0 && given != 3 {
        return Err(ConfigError(
            "give all three OVH API keys (OVH_CTI_APP_KEY, OVH_CTI_APP_SECRET, OVH_CTI_CONSUMER_KEY) or none".into(),
        ));
    }
    if let [Some(ak), Some(secret), Some(ck)] = keys {
        for (name, k) in [
            ("application key", &ak),
            ("application secret", &secret),
            ("consumer key", &ck),
        ] {
            if k.is_empty() || k.len() > 128 || !k.chars().all(|ch| ch.is_ascii_graphic()) {
                return Err(ConfigError(format!(
                    "the OVH {name} must be 1 to 128 visible ASCII characters"
                )));
            }
        }
        c.ovh_keys = Some(crate::ovh_api::Keys {
            application_key: ak,
            application_secret: secret,
            consumer_key: ck,
        });
    }
    if let Some(rate) = cli.ovh_api_rate.or(file.rate_per_minute) {
        if !(1..=600).contains(&rate) {
            return Err(ConfigError(
                "ovh_api.rate_per_minute (--ovh-api-rate) must be between 1 and 600".into(),
            ));
        }
        c.ovh_api_rate = rate;
    }
    Ok(())
}

pub fn parse_tokens(raw: &[String]) -> Result<Vec<Token>, ConfigError> {
    let mut tokens: Vec<Token> = Vec::new();
    // A set, not `tokens.contains`: 10,000 configured tokens were 50 million comparisons,
    // most of the time to the first `/healthz`.
    let mut seen = std::collections::HashSet::new();
    for (i, t) in raw.iter().enumerate() {
        let token = Token::parse(t)
            .map_err(|e| ConfigError(format!("token #{} is invalid: {e}", i + 1)))?;
        if seen.insert(token.expose().to_string()) {
            tokens.push(token);
        }
    }
    Ok(tokens)
}

/// A number of seconds that is positive and at most a year: enough for any time-out, and
/// always representable as a `Duration`.
/// Parses an operator's proxy range (`--trusted-proxy`): a CIDR (`10.0.0.0/8`) or a single
/// address. Here rather than in `web`, which reads it, so that the configuration does not
/// depend on the web layer that depends on it.
pub fn parse_trusted_proxy(s: &str) -> Result<ipnet::IpNet, String> {
    crate::hooks::guard::parse_allow(s)
        .map_err(|_| format!("--trusted-proxy: {s:?} is not a CIDR range such as 10.0.0.0/8"))
}

/// A lease shorter than this would be lost to a busy moment of the database; one longer
/// than five minutes leaves a dead instance's tokens unfollowed as long.
const MIN_LEASE_S: f64 = 1.0;
const MAX_LEASE_S: f64 = 300.0;

fn positive(name: &str, v: f64) -> Result<f64, ConfigError> {
    if v.is_finite() && v > 0.0 && v <= 366.0 * 86400.0 {
        Ok(v)
    } else {
        Err(ConfigError(format!(
            "{name} must be a positive number of seconds, at most a year"
        )))
    }
}

/// A count of things allowed at once: at least 1, at most `max`.
fn count(setting: &str, flag: &str, n: u64, max: u64) -> Result<usize, ConfigError> {
    if (1..=max).contains(&n) {
        Ok(n as usize)
    } else {
        Err(ConfigError(format!(
            "{setting} (--{flag}) must be between 1 and {max}, got {n}"
        )))
    }
}

/// The cap on one answer from OVH: at least 64 KiB (a real poll must fit), at most 1 GiB.
fn answer_cap(n: u64) -> Result<usize, ConfigError> {
    if (64 << 10..=1 << 30).contains(&n) {
        Ok(n as usize)
    } else {
        Err(ConfigError(format!(
            "feed.max_answer_bytes (--max-answer-bytes) must be between 65536 and 1073741824 bytes, got {n}"
        )))
    }
}

/// The longest retention that can be set: a century, i.e. "keep". 0 is refused rather than
/// read as "keep" or as "delete at once", either of which would surprise someone.
pub const MAX_RETENTION_DAYS: f64 = 36500.0;

/// A number of days (to keep rows, to wait): above 0 and at most `MAX_RETENTION_DAYS`.
fn days(setting: &str, flag: &str, v: f64) -> Result<f64, ConfigError> {
    if v.is_finite() && v > 0.0 && v <= MAX_RETENTION_DAYS {
        Ok(v)
    } else {
        Err(ConfigError(format!(
            "{setting} (--{flag}) must be a number of days above 0 and at most {MAX_RETENTION_DAYS}, got {v}"
        )))
    }
}

impl Config {
    /// Defaults, then the file, then the command line.
    pub fn layered(file: FileConfig, mut cli: Overrides) -> Result<Config, ConfigError> {
        let mut c = Config {
            demo: cli.demo,
            ..Config::default()
        };
        ovh_api(file.ovh_api, &mut cli, &mut c)?;
        nats(file.nats, &mut cli, &mut c)?;
        mqtt(file.mqtt, &mut cli, &mut c)?;
        let mut raw_tokens = file.tokens.unwrap_or_default();
        raw_tokens.extend(cli.tokens);
        c.tokens = parse_tokens(&raw_tokens)?;
        c.listen = cli.listen.or(file.listen).unwrap_or(c.listen);
        c.db = cli.db.or(file.db).unwrap_or(c.db);
        if let Some(s) = cli.lease_s.or(file.lease_s) {
            if !(s.is_finite() && (MIN_LEASE_S..=MAX_LEASE_S).contains(&s)) {
                return Err(ConfigError(format!(
                    "lease_s (--lease-s) must be a number of seconds from {MIN_LEASE_S} to {MAX_LEASE_S}, got {s}"
                )));
            }
            c.lease = Duration::from_secs_f64(s);
        }
        if let Some(mib) = cli.db_cache_mb.or(file.db_cache_mb) {
            c.db_cache = crate::store::CacheBudget::mib(mib).ok_or_else(|| {
                ConfigError(format!(
                    "db_cache_mb (--db-cache-mb) must be between {} and {} MiB, got {mib}",
                    crate::store::CacheBudget::MIN_MIB,
                    crate::store::CacheBudget::MAX_MIB
                ))
            })?;
        }
        c.upstream = cli.upstream.or(file.upstream).unwrap_or(c.upstream);
        c.api = cli.api.or(file.api).unwrap_or(c.api);
        c.no_new_tokens = cli.no_new_tokens || file.no_new_tokens.unwrap_or(false);
        c.secure_cookies = cli.secure_cookies || file.secure_cookies.unwrap_or(false);
        c.metrics_per_token = cli.metrics_per_token || file.metrics_per_token.unwrap_or(false);
        let expiry = file.expiry.unwrap_or_default();
        if let Some(v) = cli.ringing_timeout_s.or(expiry.ringing_s) {
            c.expiry.ringing_s = positive("the ringing time-out", v)?;
        }
        if let Some(v) = cli.waiting_timeout_s.or(expiry.waiting_s) {
            c.expiry.waiting_s = positive("the queue waiting time-out", v)?;
        }
        if let Some(v) = cli.talking_timeout_s.or(expiry.talking_s) {
            c.expiry.talking_s = positive("the conversation time-out", v)?;
        }
        let feed = file.feed.unwrap_or_default();
        if let Some(ms) = feed.backoff_base_ms {
            c.backoff.base = Duration::from_millis(ms.max(1));
        }
        if let Some(ms) = feed.backoff_cap_ms {
            c.backoff.cap = Duration::from_millis(ms.max(1));
        }
        if let Some(ms) = feed.backoff_outage_cap_ms {
            c.backoff.outage_cap = Duration::from_millis(ms.max(1));
        }
        if let Some(s) = feed.poll_timeout_s {
            c.poll_timeout = Duration::from_secs(positive("feed.poll_timeout_s", s as f64)? as u64);
        }
        if let Some(n) = cli.max_answer_bytes.or(feed.max_answer_bytes) {
            c.max_answer_bytes = answer_cap(n)?;
        }
        let webhooks = file.webhooks.unwrap_or_default();
        let mut allow = webhooks.allow.unwrap_or_default();
        allow.extend(cli.webhook_allow);
        c.webhook_allow = allow
            .iter()
            .filter(|a| !a.trim().is_empty())
            .map(|a| crate::hooks::guard::parse_allow(a).map_err(ConfigError))
            .collect::<Result<_, _>>()?;
        if let Some(s) = webhooks.timeout_s {
            c.webhook_timeout = Duration::from_secs_f64(positive("webhooks.timeout_s", s)?);
        }
        let retention = file.retention.unwrap_or_default();
        if let Some(v) = cli.retain_outbox_days.or(retention.outbox_days) {
            c.retention.outbox_days = days("retention.outbox_days", "retain-outbox-days", v)?;
        }
        if let Some(v) = cli.retain_deliveries_days.or(retention.deliveries_days) {
            c.retention.deliveries_days =
                days("retention.deliveries_days", "retain-deliveries-days", v)?;
        }
        if let Some(v) = cli.retain_events_days.or(retention.events_days) {
            c.retention.events_days = Some(days("retention.events_days", "retain-events-days", v)?);
        }
        let login = file.login.unwrap_or_default();
        c.login_burst = login.burst.unwrap_or(c.login_burst).max(1);
        c.login_per_minute = login.per_minute.unwrap_or(c.login_per_minute).max(1);
        c.max_tokens = login.max_tokens.unwrap_or(c.max_tokens);
        if let Some(ms) = login.check_hold_ms {
            c.login_check_hold = Duration::from_millis(ms.clamp(100, 60_000));
        }
        c.login_checks = login.pending_checks.unwrap_or(c.login_checks).max(1);
        c.login_checks_per_address = login
            .pending_checks_per_address
            .unwrap_or(c.login_checks_per_address)
            .max(1);
        if let Some(v) = cli.pause_after_days.or(feed.pause_after_days) {
            c.pause_after = Duration::from_secs_f64(
                days("feed.pause_after_days", "pause-after-days", v)? * 86400.0,
            );
        }
        let mut proxies = file.trusted_proxies.unwrap_or_default();
        proxies.extend(cli.trusted_proxies);
        c.trusted_proxies = proxies
            .iter()
            .filter(|a| !a.trim().is_empty())
            .map(|a| parse_trusted_proxy(a).map_err(ConfigError))
            .collect::<Result<_, _>>()?;
        let server = file.server.unwrap_or_default();
        if let Some(n) = cli.max_connections.or(server.max_connections) {
            c.server.max_connections = Some(count(
                "server.max_connections",
                "max-connections",
                n,
                1_000_000,
            )?);
        }
        if let Some(s) = cli.header_timeout_s.or(server.header_timeout_s) {
            c.server.header_timeout =
                Duration::from_secs_f64(positive("server.header_timeout_s (--header-timeout)", s)?);
        }
        if let Some(n) = cli
            .max_streams_per_session
            .or(server.max_streams_per_session)
        {
            c.server.streams_per_session = count(
                "server.max_streams_per_session",
                "max-streams-per-session",
                n,
                10_000,
            )?;
        }
        if let Some(n) = cli
            .max_streams_per_address
            .or(server.max_streams_per_address)
        {
            c.server.streams_per_address = count(
                "server.max_streams_per_address",
                "max-streams-per-address",
                n,
                1_000_000,
            )?;
        }
        if !(c.upstream.starts_with("http://") || c.upstream.starts_with("https://")) {
            return Err(ConfigError(format!(
                "the upstream must be an http:// or https:// address, got {:?}",
                c.upstream
            )));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: &str = "3F2504E0-4F89-11D3-9A0C-0305E82C3301";

    #[test]
    fn flags_win_over_the_file_which_wins_over_defaults() {
        let file: FileConfig =
            toml::from_str("listen = \"0.0.0.0:9000\"\ndb = \"a.db\"\n[expiry]\nringing_s = 30\n")
                .unwrap();
        let cli = Overrides {
            db: Some("b.db".into()),
            tokens: vec![T1.into(), T1.to_lowercase()],
            ..Overrides::default()
        };
        let c = Config::layered(file, cli).unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert_eq!(c.db, PathBuf::from("b.db"));
        assert_eq!(c.expiry.ringing_s, 30.0);
        assert_eq!(c.tokens.len(), 1, "the same token twice is followed once");
        assert_eq!(c.upstream, DEFAULT_UPSTREAM);
    }

    #[test]
    fn the_page_cache_budget_is_layered_and_checked() {
        let file: FileConfig = toml::from_str("db_cache_mb = 32\n").unwrap();
        let c = Config::layered(file, Overrides::default()).unwrap();
        assert_eq!(c.db_cache.total_mib(), 32);
        let cli = Overrides {
            db_cache_mb: Some(2),
            ..Overrides::default()
        };
        let e = Config::layered(toml::from_str("db_cache_mb = 32\n").unwrap(), cli)
            .unwrap_err()
            .0;
        assert_eq!(
            e,
            "db_cache_mb (--db-cache-mb) must be between 4 and 65536 MiB, got 2"
        );
        let c = Config::layered(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(c.db_cache, crate::store::CacheBudget::default());
    }

    #[test]
    fn broker_settings_are_checked_and_the_address_is_never_repeated() {
        let file: FileConfig =
            toml::from_str("[nats]\nurl = \"nats://127.0.0.1:4222\"\nstream = \"CTI\"\n").unwrap();
        let c = Config::layered(file, Overrides::default()).unwrap();
        let nats = c.nats.unwrap();
        assert_eq!(
            (nats.prefix.as_str(), nats.stream.as_str()),
            ("ovhcti", "CTI")
        );
        assert!(
            !format!("{nats:?}").contains("4222"),
            "no address in the debug form"
        );
        let cli = Overrides {
            nats: Some("http://user:secret@host".into()),
            ..Overrides::default()
        };
        let e = Config::layered(FileConfig::default(), cli).unwrap_err().0;
        assert!(
            e.starts_with("nats.url (--nats) must be") && !e.contains("secret"),
            "{e}"
        );
        let cli = Overrides {
            nats: Some("nats://h:4222".into()),
            nats_prefix: Some("a.b".into()),
            ..Overrides::default()
        };
        let e = Config::layered(FileConfig::default(), cli).unwrap_err().0;
        assert!(e.starts_with("nats.prefix (--nats-prefix) must be"), "{e}");
        assert!(Config::layered(FileConfig::default(), Overrides::default())
            .unwrap()
            .nats
            .is_none());
        let cli = Overrides {
            mqtt: Some("mqtts://user:secret@broker".into()),
            ..Overrides::default()
        };
        let e = Config::layered(FileConfig::default(), cli).unwrap_err().0;
        assert!(
            e.starts_with("mqtt.url (--mqtt) must be") && !e.contains("secret"),
            "{e}"
        );
        let file: FileConfig = toml::from_str("[mqtt]\nurl = \"mqtt://u:p@127.0.0.1\"\n").unwrap();
        let mqtt = Config::layered(file, Overrides::default())
            .unwrap()
            .mqtt
            .unwrap();
        assert_eq!(mqtt.prefix, "ovhcti");
        assert!(
            !format!("{mqtt:?}").contains("u:p"),
            "no address in the debug form"
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_one_line_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "lsiten = \"x\"\n").unwrap();
        let err = FileConfig::load(&path).unwrap_err().0;
        assert!(
            err.contains("unknown field `lsiten`") && !err.contains('\n'),
            "{err}"
        );

        let bad_token = Config::layered(
            FileConfig::default(),
            Overrides {
                tokens: vec!["nope-3F2504E0".into()],
                ..Overrides::default()
            },
        );
        let err = bad_token.unwrap_err().0;
        assert!(
            err.starts_with("token #1 is invalid") && !err.contains("3F2504E0"),
            "{err}"
        );

        let bad_upstream = Config::layered(
            FileConfig::default(),
            Overrides {
                upstream: Some("events.voip.ovh.net".into()),
                ..Overrides::default()
            },
        );
        assert!(bad_upstream.unwrap_err().0.contains("http://"));
        let bad_timeout = Config::layered(
            FileConfig::default(),
            Overrides {
                ringing_timeout_s: Some(-1.0),
                ..Overrides::default()
            },
        );
        assert!(bad_timeout.is_err());
        let bad_range = Config::layered(
            FileConfig::default(),
            Overrides {
                webhook_allow: vec!["192.168.1.0/24".into(), "192.168.1.0/40".into()],
                ..Overrides::default()
            },
        );
        let err = bad_range.unwrap_err().0;
        assert!(
            err.starts_with("--webhook-allow") && !err.contains('\n'),
            "{err}"
        );
        let tiny_cap = Config::layered(
            FileConfig::default(),
            Overrides {
                max_answer_bytes: Some(100),
                ..Overrides::default()
            },
        );
        let err = tiny_cap.unwrap_err().0;
        assert!(
            err.starts_with("feed.max_answer_bytes (--max-answer-bytes)") && err.contains("100"),
            "{err}"
        );
        let no_connections = Config::layered(
            FileConfig::default(),
            Overrides {
                max_connections: Some(0),
                ..Overrides::default()
            },
        );
        let err = no_connections.unwrap_err().0;
        assert!(
            err.starts_with("server.max_connections (--max-connections) must be between 1"),
            "{err}"
        );
        let file: FileConfig = toml::from_str(
            "[server]\nmax_connections = 500\nheader_timeout_s = 2.5\nmax_streams_per_address = 7\n",
        )
        .unwrap();
        let c = Config::layered(file, Overrides::default()).unwrap();
        assert_eq!(c.server.max_connections, Some(500));
        assert_eq!(c.server.header_timeout, Duration::from_millis(2500));
        assert_eq!(c.server.streams_per_address, 7);
        let file: FileConfig = toml::from_str("[feed]\nmax_answer_bytes = 1048576\n").unwrap();
        let c = Config::layered(file, Overrides::default()).unwrap();
        assert_eq!(c.max_answer_bytes, 1 << 20);
    }

    /// Issue 8: `tokens = "…"` (a string, not a list) printed the token in the error.
    #[test]
    fn a_token_in_the_wrong_shape_or_place_is_not_printed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        for (text, says) in [
            (format!("tokens = \"{T1}\"\n"), "tokens must be a list"),
            (
                format!("tokens = [\"{T1}\", 5]\n"),
                "entry #2 must be a string",
            ),
            (format!("api = \"{T1}\"\n"), "unknown variant"),
            (format!("[login]\nburst = \"{T1}\"\n"), "invalid type"),
        ] {
            std::fs::write(&path, &text).unwrap();
            let err = FileConfig::load(&path).unwrap_err().0;
            assert!(err.contains(says), "{err}");
            for shown in [T1, &T1[..8], &T1[24..]] {
                assert!(!err.contains(shown), "{err}");
            }
            assert!(!err.contains('\n'), "{err}");
        }
        std::fs::write(&path, format!("tokens = [\"{T1}\"]\n")).unwrap();
        assert_eq!(
            FileConfig::load(&path).unwrap().tokens,
            Some(vec![T1.into()])
        );
    }

    #[test]
    fn retention_defaults_file_and_flags() {
        let c = Config::layered(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(c.retention, Policy::default());
        assert_eq!(
            (c.retention.outbox_days, c.retention.deliveries_days),
            (30.0, 30.0)
        );
        assert_eq!(c.retention.events_days, None, "events are kept by default");

        let file: FileConfig =
            toml::from_str("[retention]\noutbox_days = 7\nevents_days = 90\n").unwrap();
        let c = Config::layered(
            file,
            Overrides {
                retain_events_days: Some(0.5),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(
            c.retention,
            Policy {
                outbox_days: 7.0,
                deliveries_days: 30.0,
                events_days: Some(0.5),
            }
        );
    }

    #[test]
    fn a_retention_of_0_or_less_is_a_one_line_error_naming_the_setting() {
        for (overrides, names) in [
            (
                Overrides {
                    retain_outbox_days: Some(0.0),
                    ..Overrides::default()
                },
                "retention.outbox_days (--retain-outbox-days)",
            ),
            (
                Overrides {
                    retain_deliveries_days: Some(-3.0),
                    ..Overrides::default()
                },
                "retention.deliveries_days (--retain-deliveries-days)",
            ),
            (
                Overrides {
                    retain_events_days: Some(f64::NAN),
                    ..Overrides::default()
                },
                "retention.events_days (--retain-events-days)",
            ),
        ] {
            let err = Config::layered(FileConfig::default(), overrides)
                .unwrap_err()
                .0;
            assert!(err.starts_with(names) && !err.contains('\n'), "{err}");
        }
        let file: FileConfig = toml::from_str("[retention]\nevents_days = 0\n").unwrap();
        let err = Config::layered(file, Overrides::default()).unwrap_err().0;
        assert_eq!(
            err,
            "retention.events_days (--retain-events-days) must be a number of days above 0 and at most 36500, got 0"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[retention]\nevent_days = 9\n").unwrap();
        let err = FileConfig::load(&path).unwrap_err().0;
        assert!(err.contains("unknown field `event_days`"), "{err}");
    }

    #[test]
    fn allowed_ranges_come_from_the_file_and_the_flags() {
        let file: FileConfig =
            toml::from_str("[webhooks]\nallow = [\"10.0.0.0/8\"]\ntimeout_s = 2.5\n").unwrap();
        let c = Config::layered(
            file,
            Overrides {
                webhook_allow: vec!["127.0.0.1".into()],
                ..Overrides::default()
            },
        )
        .unwrap();
        let ranges: Vec<String> = c.webhook_allow.iter().map(|n| n.to_string()).collect();
        assert_eq!(ranges, ["10.0.0.0/8", "127.0.0.1/32"]);
        assert_eq!(c.webhook_timeout, Duration::from_millis(2500));
    }

    #[test]
    fn trusted_proxies_and_the_pause_delay_come_from_the_file_and_the_flags() {
        let file: FileConfig =
            toml::from_str("trusted_proxies = [\"10.0.0.0/8\"]\n[feed]\npause_after_days = 3\n")
                .unwrap();
        let c = Config::layered(
            file,
            Overrides {
                trusted_proxies: vec!["::1".into()],
                ..Overrides::default()
            },
        )
        .unwrap();
        let ranges: Vec<String> = c.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(ranges, ["10.0.0.0/8", "::1/128"]);
        assert_eq!(c.pause_after, Duration::from_secs(3 * 86400));
        let c = Config::layered(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(c.pause_after, crate::feed::PAUSE_AFTER);

        let err = Config::layered(
            FileConfig::default(),
            Overrides {
                trusted_proxies: vec!["10.0.0.0/33".into()],
                ..Overrides::default()
            },
        )
        .unwrap_err()
        .0;
        assert!(
            err.starts_with("--trusted-proxy") && !err.contains('\n'),
            "{err}"
        );
        let err = Config::layered(
            FileConfig::default(),
            Overrides {
                pause_after_days: Some(0.0),
                ..Overrides::default()
            },
        )
        .unwrap_err()
        .0;
        assert!(
            err.starts_with("feed.pause_after_days (--pause-after-days)"),
            "{err}"
        );
    }

    #[test]
    fn the_lease_comes_from_the_file_or_the_flag_and_a_bad_one_is_explained() {
        let file: FileConfig = toml::from_str("lease_s = 10\n").unwrap();
        let c = Config::layered(file, Overrides::default()).unwrap();
        assert_eq!(c.lease, Duration::from_secs(10));
        let c = Config::layered(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(c.lease, crate::cluster::LEASE);
        for bad in [0.5, 301.0, f64::NAN] {
            let err = Config::layered(
                FileConfig::default(),
                Overrides {
                    lease_s: Some(bad),
                    ..Overrides::default()
                },
            )
            .unwrap_err()
            .0;
            assert!(err.starts_with("lease_s (--lease-s)"), "{err}");
        }
    }
}
