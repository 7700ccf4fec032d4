//! Screen pops and webhooks: what the service sends out when an event comes in.
//!
//! `on_event` runs inside the ingest transaction that stores a new event. For a token whose
//! screen pop is `silent` and matches the event, it adds a `pop` delivery (a `GET` of the filled
//! URL) to the outbox; for each of the token's enabled webhook endpoints that chose the event,
//! a `webhook` delivery (a signed `POST` of the event as JSON). For `modal` and `popup` screen
//! pops it hands back the message the dashboards get on the stream (`event: pop`): those pops
//! happen in the browser. The `worker` then delivers the outbox, through the SSRF `guard`,
//! with retries, and keeps the delivery log.

pub mod guard;
pub mod outbox;
pub mod own_pops;
pub mod sign;
pub mod template;
pub mod worker;

pub use worker::Hooks;

use crate::clock::{rfc3339, UnixTime};
use crate::engine::{Direction, QueueLink};
use crate::normalise::{Event, EventKind};
use crate::settings::{PopMode, ScreenPop, Settings};
use crate::store::db::Conn;
use crate::store::{EventRow, StoreError};
use crate::token::TokenId;
use outbox::{Kind, NewDelivery};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Event names an endpoint may choose (`*` is every event, unknown types included).
pub const WEBHOOK_EVENTS: &[&str] = &[
    "*",
    "registered",
    "start_ringing",
    "end_ringing",
    "start_calling",
    "end_calling",
    "member-queue-start",
    "agent-offering",
    "bridge-agent-start",
    "bridge-agent-fail",
    "bridge-agent-end",
    "member-queue-end",
    "members-count",
];

/// What a stored event set off: how many deliveries were queued, and the browser pop to
/// publish, if any.
#[derive(Debug, Default)]
pub struct Reaction {
    pub enqueued: usize,
    pub pop: Option<PopMessage>,
}

/// The `event: pop` stream message: the dashboard opens `url` in a dialog (`modal`) or a new
/// window (`popup`). Documented in `docs/screen-pop.md`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PopMessage {
    pub url: String,
    pub mode: PopMode,
    pub event: String,
    pub number: String,
    pub calling: Option<String>,
    pub called: Option<String>,
    pub dialed: Option<String>,
    pub call_id: Option<String>,
    pub description: Option<String>,
    pub agent: Option<String>,
    pub at: String,
    /// The user whose own screen pop this is (only their dashboards get it); `None`: the
    /// organisation's, for everyone who follows it.
    pub user: Option<i64>,
}

impl PopMessage {
    /// The pop `pop` makes of `e` (which it matches), for `user` (`None`: the organisation's).
    fn of(pop: &ScreenPop, e: &Event, via: Option<&QueueLink>, user: Option<i64>) -> PopMessage {
        let (url, calling) = filled_url(pop, e, via);
        PopMessage {
            url,
            mode: pop.mode,
            event: e.name.clone(),
            number: e.number.clone(),
            calling: calling.map(str::to_string).or_else(|| e.calling.clone()),
            called: e.called.clone(),
            dialed: e.dialed.clone(),
            call_id: e.call_id.clone(),
            description: e.details.description.clone(),
            agent: e.queue.agent.clone(),
            at: rfc3339(e.at),
            user,
        }
    }
}

/// The pop's URL filled from `e`, and the caller it was filled with when a queue's ring on an
/// agent's line pops for the caller, not the queue's number.
fn filled_url<'a>(
    pop: &ScreenPop,
    e: &'a Event,
    via: Option<&'a QueueLink>,
) -> (String, Option<&'a str>) {
    let calling = via.and_then(|v| v.caller.as_deref());
    let mut vars = template::Vars::of(e);
    if let Some(c) = calling {
        vars.calling = Some(c);
    }
    (template::fill(&pop.url, &vars), calling)
}

/// Whether a chosen event name covers `e` (either of OVH's spellings of the member count).
fn names(chosen: &str, e: &Event) -> bool {
    chosen == "*"
        || chosen == e.name
        || (e.kind != EventKind::Other && EventKind::parse(chosen) == e.kind)
}

/// Whether `e` triggers the screen pop (whatever its mode). `via` is the queue a line call
/// came through: a queue's call pops once — on `member-queue-start` when that is chosen, and
/// then never again on each agent's ring with the queue's number as the caller; on the agent's
/// own ring only when the user chose rings alone.
pub fn pop_matches(pop: &ScreenPop, e: &Event, via: Option<&QueueLink>) -> bool {
    if !pop.enabled || pop.url.is_empty() || !pop.events.iter().any(|n| n != "*" && names(n, e)) {
        return false;
    }
    if via.is_some()
        && pop
            .events
            .iter()
            .any(|n| EventKind::parse(n) == EventKind::MemberQueueStart)
    {
        return false;
    }
    // Saved by an older version, before the cap: not copied into the outbox or the stream on
    // every call; the settings page refuses it at the next save, saying why.
    if pop.url.len() > crate::limits::URL_BYTES {
        return false;
    }
    if let Some(numbers) = &pop.numbers {
        if !numbers.iter().any(|n| n.trim() == e.number) {
            return false;
        }
    }
    if e.is_queue() {
        return true;
    }
    // The engine's rule; a call whose direction cannot be told is taken as incoming (a line
    // that placed a call is named as its caller).
    let direction = match crate::engine::direction(&e.number, e) {
        Direction::Outgoing => "outgoing",
        Direction::Incoming | Direction::Unknown => "incoming",
    };
    pop.directions.iter().any(|d| d == direction)
}

fn short_hash(s: &str) -> String {
    crate::token::hex(&Sha256::digest(s.as_bytes())[..8])
}

/// The JSON body a webhook receives for an event: Standard Webhooks' envelope around the
/// event as `GET /api/events` shows it (never the token).
pub fn webhook_body(e: &Event, received_at: UnixTime) -> String {
    let mut data = serde_json::to_value(EventRow::of(e, received_at)).unwrap_or(Value::Null);
    if let (Some(agent), Value::Object(map)) = (&e.queue.agent, &mut data) {
        map.insert("agent".into(), Value::String(agent.clone()));
    }
    json!({"type": e.name, "timestamp": rfc3339(e.at), "data": data}).to_string()
}

/// The dashboards' screen pop (modal or popup) the organisation's settings make of `e`, if
/// any: what an instance that only shows the token (a mirror, see `ingest`) sends its
/// dashboards, the leading instance having queued everything else.
pub fn browser_pop(
    settings: Option<&Settings>,
    e: &Event,
    via: Option<&QueueLink>,
) -> Option<PopMessage> {
    let pop = settings
        .map(|s| &s.screen_pop)
        .filter(|p| pop_matches(p, e, via))?;
    matches!(pop.mode, PopMode::Modal | PopMode::Popup).then(|| PopMessage::of(pop, e, via, None))
}

/// Queues what a newly stored event sets off. Runs in the event's own transaction;
/// `endpoints` are the token's enabled webhooks (`outbox::endpoints`, read once per poll).
#[allow(clippy::too_many_arguments)]
pub fn on_event(
    conn: &Conn,
    token: &TokenId,
    settings: Option<&Settings>,
    endpoints: &[outbox::Endpoint],
    e: &Event,
    via: Option<&QueueLink>,
    now: UnixTime,
) -> Result<Reaction, StoreError> {
    let mut reaction = Reaction::default();
    let fingerprint = &e.fingerprint;
    if let Some(pop) = settings
        .map(|s| &s.screen_pop)
        .filter(|p| pop_matches(p, e, via))
    {
        match pop.mode {
            PopMode::Silent => {
                let (url, _) = filled_url(pop, e, via);
                let dedupe = format!("pop:{}:{fingerprint}", short_hash(&url));
                let queued = outbox::enqueue(
                    conn,
                    &NewDelivery {
                        token,
                        kind: Kind::Pop,
                        endpoint: None,
                        url: &url,
                        body: None,
                        event: &e.name,
                        dedupe: &dedupe,
                    },
                    now,
                )?;
                reaction.enqueued += usize::from(queued);
            }
            PopMode::Modal | PopMode::Popup => {
                reaction.pop = Some(PopMessage::of(pop, e, via, None))
            }
        }
    }
    let mut body = None;
    for endpoint in endpoints {
        if !endpoint.events.iter().any(|n| names(n, e)) {
            continue;
        }
        let body = body.get_or_insert_with(|| webhook_body(e, now));
        let dedupe = format!("webhook:{}:{fingerprint}", endpoint.id);
        let queued = outbox::enqueue(
            conn,
            &NewDelivery {
                token,
                kind: Kind::Webhook,
                endpoint: Some(endpoint.id),
                url: &endpoint.url,
                body: Some(body),
                event: &e.name,
                dedupe: &dedupe,
            },
            now,
        )?;
        reaction.enqueued += usize::from(queued);
    }
    Ok(reaction)
}

/// Whether the service can send to `url` (a webhook endpoint, a silent screen pop), said
/// when it is saved so that an unsendable address is never queued, retried and logged: the
/// checks of `settings::check_url` (length, scheme, host, syntax), then the guard's refusals
/// for good (an address literal or a `localhost` name it refuses). The refusal may name the
/// address: the user typed it.
pub fn check_destination(guard: &guard::Guard, url: &str) -> Result<(), String> {
    let parsed = crate::settings::check_url(url)?;
    guard.check_saved(&parsed).map_err(|b| b.detail())
}

/// `check_destination`, then, for a host name, its addresses now: a name that resolves only to
/// addresses the guard refuses (a CRM on the LAN, `crm.internal`) is refused when saved, saying
/// how the operator allows it, rather than saved and refused on every call (issue 9). The
/// message does not say which addresses: the delivery log does not either. A name that does
/// not resolve now is accepted (it may be a moment's trouble; deliveries say so).
pub async fn check_destination_now(guard: &guard::Guard, url: &str) -> Result<(), String> {
    check_destination(guard, url)?;
    let parsed = crate::settings::check_url(url)?;
    let host = parsed.host_str().unwrap_or_default().to_string();
    if host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .is_ok()
    {
        return Ok(());
    }
    let lookup = tokio::net::lookup_host((host.clone(), 0u16));
    match tokio::time::timeout(std::time::Duration::from_secs(3), lookup).await {
        Ok(Ok(found)) => judge_resolved(guard, &host, found),
        _ => Ok(()),
    }
}

/// Refuses a name whose addresses are all refused by the guard.
fn judge_resolved(
    guard: &guard::Guard,
    host: &str,
    found: impl IntoIterator<Item = std::net::SocketAddr>,
) -> Result<(), String> {
    match guard.filter(found) {
        Err(_) => Err(format!(
            "refused: {host} resolves to no public address, so the service will not send to it; the operator can allow a range with --webhook-allow"
        )),
        Ok(_) => Ok(()),
    }
}

/// Queues a test delivery to one endpoint (the dashboard's "send test event" button).
/// Returns its `webhook-id`, or `None` when the endpoint does not exist.
///
/// A new test replaces the endpoint's previous one, its log lines included: tests are for a
/// person checking a receiver, who reads the latest result, and a loop of test requests must
/// not grow the database (issue 8) — the outbox and the log hold at most one test per endpoint.
pub fn enqueue_test(
    conn: &Conn,
    token: &TokenId,
    endpoint: i64,
    now: UnixTime,
) -> Result<Option<String>, StoreError> {
    let Some(ep) = outbox::endpoint_by_id(conn, token, endpoint)? else {
        return Ok(None);
    };
    outbox::forget_tests(conn, ep.id)?;
    let body = json!({"type": "test", "timestamp": rfc3339(now), "data": {"message": "a test event from ovh-cti", "endpoint": ep.id}}).to_string();
    let dedupe = format!("test:{}", sign::new_message_id());
    outbox::enqueue(
        conn,
        &NewDelivery {
            token,
            kind: Kind::Webhook,
            endpoint: Some(ep.id),
            url: &ep.url,
            body: Some(&body),
            event: "test",
            dedupe: &dedupe,
        },
        now,
    )?;
    let id = conn.query_row(
        "SELECT webhook_id FROM outbox WHERE dedupe = ?1",
        crate::store::db::params![dedupe],
        |r| r.get(0),
    )?;
    Ok(Some(id))
}

/// A URL fit for a log: query values and any password replaced by `***`, fragment dropped.
pub fn mask_url(url: &str) -> String {
    let Ok(mut u) = reqwest::Url::parse(url) else {
        return "(not a valid URL)".into();
    };
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    u.set_fragment(None);
    if u.query().is_some() {
        let keys: Vec<String> = u.query_pairs().map(|(k, _)| k.into_owned()).collect();
        u.query_pairs_mut()
            .clear()
            .extend_pairs(keys.iter().map(|k| (k.as_str(), "***")));
    }
    u.to_string()
}

#[cfg(test)]
mod tests;
