//! Supervision through OVH's REST API (issue 11): for each organisation that connected an
//! OVH account, a supervisor that waits for its consumer key to be validated, discovers the
//! account (`directory`), keeps the agent board (`board`) — OVH's live status of each agent,
//! read at a modest rate within the consumer key's budget — and pushes it to the
//! organisation's dashboards when it changes (`event: agents`), and carries out people's
//! actions (`actions`): agent status and queues, click-to-call, live-call control, event
//! tokens.
//!
//! Keys come from the dashboard's connect flow (stored per organisation) or from the
//! service's configuration (`OVH_CTI_APP_KEY`… for the installation's organisation).

pub mod actions;
pub mod board;
pub mod cross_check;
pub mod directory;

use crate::clock::UnixTime;
use crate::ovh_api::models::{AccessRule, AgentLiveStatus, Credential, QueueLiveStatistics};
use crate::ovh_api::{Budget, Client, Keys, OvhError};
use crate::service::Service;
use crate::store::ovh_access::{self, Access};
use crate::token::TokenId;
use board::{Board, Live};
use cross_check::{Counts, QueueCheck, Verdict};
use directory::Directory;
use parking_lot::{Mutex, RwLock};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// How often a pending consumer key is tried, until its owner validates it.
pub const VALIDATION_CHECK: Duration = Duration::from_secs(5);
/// How often the agents' live status is read.
pub const LIVE_EVERY: Duration = Duration::from_secs(20);
/// How often the queues' own counters are read.
pub const STATS_EVERY: Duration = Duration::from_secs(60);
/// How often the account is discovered again.
pub const DISCOVER_EVERY: Duration = Duration::from_secs(600);

/// The access rules a consumer key is requested with: reading the telephony routes, and
/// changing them — agents' status (`PUT`), click-to-call, live-call actions, queue membership
/// and event tokens (`POST`), leaving a queue and rotating a token (`DELETE`). OVH documents
/// no wildcard in the middle of a path, so the rules cover `/telephony/*` per method rather
/// than each route (`docs/ovh-api.md`).
pub fn access_rules() -> Vec<AccessRule> {
    vec![
        AccessRule::new("GET", "/telephony"),
        AccessRule::new("GET", "/telephony/*"),
        AccessRule::new("PUT", "/telephony/*"),
        AccessRule::new("POST", "/telephony/*"),
        AccessRule::new("DELETE", "/telephony/*"),
        AccessRule::new("GET", "/auth/currentCredential"),
    ]
}

/// Where an organisation's keys come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The service's configuration: changed there, not from the dashboard.
    Config,
    /// Connected by an admin in the dashboard.
    Dashboard,
}

/// What a supervisor knows, as the API shows it.
#[derive(Clone, Debug, Default)]
pub struct Known {
    pub validated: bool,
    pub validation_url: Option<String>,
    pub last_error: Option<String>,
    pub credential: Option<Credential>,
    pub directory: Option<Directory>,
    pub discovered_at: Option<UnixTime>,
    pub live: Live,
    pub board: Board,
    /// The cross-check of OVH's queue counters against ours, by token (each sees its queues).
    pub checks: HashMap<TokenId, Vec<QueueCheck>>,
}

/// One organisation's supervisor.
pub struct OrgSupervisor {
    pub org: i64,
    pub source: Source,
    pub client: Client,
    pub known: RwLock<Known>,
    /// Wakes the loop: discover again now.
    rediscover: Arc<Notify>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for OrgSupervisor {
    fn drop(&mut self) {
        if let Some(t) = self.task.lock().take() {
            t.abort();
        }
    }
}

/// Every organisation's supervisor.
pub struct Supervision {
    base: String,
    per_minute: u32,
    configured: Option<Keys>,
    service: Arc<Service>,
    orgs: Mutex<HashMap<i64, Arc<OrgSupervisor>>>,
}

impl Supervision {
    /// Starts a supervisor for each organisation with stored access, and for the
    /// installation's with configured keys.
    pub async fn start(
        service: Arc<Service>,
        base: &str,
        per_minute: u32,
        configured: Option<Keys>,
    ) -> Result<Arc<Supervision>, crate::ingest::IngestError> {
        let sup = Arc::new(Supervision {
            base: base.to_string(),
            per_minute,
            configured: configured.clone(),
            service: service.clone(),
            orgs: Mutex::new(HashMap::new()),
        });
        let now = service.clock.now();
        let stored = service
            .ingest
            .write(move |w| {
                let installation = crate::store::users::installation_org(w.connection(), now)?;
                Ok((installation, ovh_access::all(w.connection())?))
            })
            .await?;
        let (installation, stored) = stored;
        if let Some(keys) = configured {
            sup.launch(installation, keys, Source::Config, true, None);
        }
        for a in stored {
            if sup.configured.is_some() && a.org_id == installation {
                continue;
            }
            let keys = Keys {
                application_key: a.application_key.clone(),
                application_secret: a.application_secret.clone(),
                consumer_key: a.consumer_key.clone(),
            };
            sup.launch(
                a.org_id,
                keys,
                Source::Dashboard,
                a.validated,
                a.validation_url,
            );
        }
        Ok(sup)
    }

    fn client(&self, keys: Keys) -> Client {
        Client::new(&self.base, keys, Arc::new(Budget::new(self.per_minute)))
    }

    fn launch(
        self: &Arc<Self>,
        org: i64,
        keys: Keys,
        source: Source,
        validated: bool,
        validation_url: Option<String>,
    ) -> Arc<OrgSupervisor> {
        let sup = Arc::new(OrgSupervisor {
            org,
            source,
            client: self.client(keys),
            known: RwLock::new(Known {
                validated,
                validation_url,
                ..Known::default()
            }),
            rediscover: Arc::new(Notify::new()),
            task: Mutex::new(None),
        });
        let task = tokio::spawn(run(self.clone(), Arc::downgrade(&sup)));
        *sup.task.lock() = Some(task);
        self.orgs.lock().insert(org, sup.clone());
        sup
    }

    /// The supervisor of an organisation, if it connected an account.
    pub fn get(&self, org: i64) -> Option<Arc<OrgSupervisor>> {
        self.orgs.lock().get(&org).cloned()
    }

    /// Asks OVH for a consumer key with `access_rules` and stores it, pending, for `org`;
    /// the address where its owner validates it. Replaces what the organisation had.
    pub async fn connect(
        self: &Arc<Self>,
        org: i64,
        application_key: String,
        application_secret: String,
        redirection: Option<String>,
    ) -> Result<String, OvhError> {
        let asking = self.client(Keys {
            application_key: application_key.clone(),
            application_secret: application_secret.clone(),
            consumer_key: String::new(),
        });
        let answer = asking
            .request_credential(&access_rules(), redirection.as_deref())
            .await?;
        let access = Access {
            org_id: org,
            application_key: application_key.clone(),
            application_secret: application_secret.clone(),
            consumer_key: crate::limits::clip(&answer.consumer_key, 128).into_owned(),
            validated: false,
            validation_url: Some(
                crate::limits::clip(&answer.validation_url, crate::limits::URL_BYTES).into_owned(),
            ),
            created_at: self.service.clock.now(),
            validated_at: None,
        };
        let url = access.validation_url.clone().unwrap_or_default();
        let stored = access.clone();
        self.service
            .ingest
            .write(move |w| ovh_access::put(w.connection(), &stored))
            .await
            .map_err(|e| OvhError::Unexpected(format!("the keys could not be stored: {e}")))?;
        let keys = Keys {
            application_key,
            application_secret,
            consumer_key: access.consumer_key,
        };
        self.launch(org, keys, Source::Dashboard, false, access.validation_url);
        Ok(url)
    }

    /// Forgets an organisation's access (its keys are deleted from the store).
    pub async fn disconnect(&self, org: i64) -> Result<bool, crate::ingest::IngestError> {
        let removed = self.orgs.lock().remove(&org).is_some();
        let deleted = self
            .service
            .ingest
            .write(move |w| ovh_access::delete(w.connection(), org))
            .await?;
        Ok(removed || deleted)
    }

    /// Whether an organisation's keys come from the configuration.
    pub fn configured(&self, org: i64) -> bool {
        self.get(org).is_some_and(|s| s.source == Source::Config)
    }

    /// Publishes an organisation's board after a person's action changed it.
    pub async fn published(&self, sup: &OrgSupervisor) {
        self.publish(sup).await
    }

    /// The organisation's tokens (none when the store cannot say: the next round asks again).
    async fn org_tokens(&self, org: i64) -> Vec<TokenId> {
        self.service
            .readers
            .read(move |c| crate::store::users::org_tokens(c, org))
            .await
            .unwrap_or_default()
    }

    /// Publishes an organisation's board to the dashboards of its tokens.
    async fn publish(&self, sup: &OrgSupervisor) {
        for token in self.org_tokens(sup.org).await {
            let mut sse = String::new();
            crate::hub::frame(&mut sse, "agents", &sup.view(&token));
            self.service
                .hub
                .publish(crate::hub::Update::log(token, sse));
        }
    }
}

impl OrgSupervisor {
    /// The board and the state of the connection, as the API and the stream show them to
    /// `token`'s dashboards, with the cross-check of its queues.
    pub fn view(&self, token: &TokenId) -> serde_json::Value {
        let k = self.known.read();
        json!({
            "state": self.state_name(&k),
            "board": k.board,
            "discovered_at": k.discovered_at.map(crate::clock::rfc3339),
            "last_error": k.last_error,
            "cross_check": k.checks.get(token).map(cross_check::summary),
        })
    }

    /// The state of the connection (`pending`, `discovering`, `connected`, `failing`).
    pub fn state(&self) -> &'static str {
        self.state_name(&self.known.read())
    }

    fn state_name(&self, k: &Known) -> &'static str {
        match (k.validated, &k.last_error, &k.directory) {
            (false, _, _) => "pending",
            (true, Some(_), _) => "failing",
            (true, None, None) => "discovering",
            (true, None, Some(_)) => "connected",
        }
    }

    /// Discover again as soon as possible.
    pub fn rediscover(&self) {
        self.rediscover.notify_one();
    }

    fn failed(&self, e: &OvhError) {
        self.known.write().last_error = Some(e.to_string());
    }
}

/// A supervisor's life: wait for validation, discover, then read live statuses at a modest
/// rate, publishing the board whenever it changes; discover again every few minutes or when
/// asked. Ends with the supervisor (or the service).
async fn run(sup_all: Arc<Supervision>, me: std::sync::Weak<OrgSupervisor>) {
    let mut stop = sup_all.service.shutdown_signal();
    let mut last_stats: Option<tokio::time::Instant> = None;
    loop {
        let Some(sup) = me.upgrade() else { return };
        let wait = step(&sup_all, &sup, &mut last_stats).await;
        let rediscover = sup.rediscover.clone();
        // Not held while waiting: a supervisor replaced or disconnected meanwhile is dropped
        // at once (its task aborted), and never reads or publishes with its old keys again.
        drop(sup);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            // Everything is read again now: the directory, live statuses and counters.
            _ = rediscover.notified() => {
                if let Some(sup) = me.upgrade() {
                    sup.known.write().discovered_at = None;
                }
                last_stats = None;
            }
            _ = crate::shutdown::stopped(&mut stop) => return,
        }
    }
}

/// One turn of a supervisor's loop; how long to wait before the next.
async fn step(
    all: &Supervision,
    sup: &Arc<OrgSupervisor>,
    last_stats: &mut Option<tokio::time::Instant>,
) -> Duration {
    let now = all.service.clock.now();
    if !sup.known.read().validated {
        match sup
            .client
            .get::<Credential>("/auth/currentCredential")
            .await
        {
            Ok(c) if c.status == "validated" => {
                let (org, ck) = (sup.org, sup.client.keys().consumer_key.clone());
                let stored = all
                    .service
                    .ingest
                    .write(move |w| ovh_access::validated(w.connection(), org, &ck, now))
                    .await;
                if let Err(e) = stored {
                    sup.known.write().last_error = Some(e.to_string());
                    return VALIDATION_CHECK;
                }
                let mut k = sup.known.write();
                k.validated = true;
                k.validation_url = None;
                k.credential = Some(c);
                k.last_error = None;
            }
            Ok(_) => return VALIDATION_CHECK,
            // Not validated yet reads as a refused credential (or signature): wait.
            Err(e)
                if matches!(
                    e.kind(),
                    Some(
                        crate::ovh_api::error::Kind::Credential
                            | crate::ovh_api::error::Kind::Signature
                    )
                ) =>
            {
                return VALIDATION_CHECK
            }
            Err(e) => {
                sup.failed(&e);
                all.publish(sup).await;
                return VALIDATION_CHECK;
            }
        }
        all.publish(sup).await;
    }
    let stale = sup
        .known
        .read()
        .discovered_at
        .map_or(true, |at| now - at >= DISCOVER_EVERY.as_secs_f64());
    if stale {
        match Directory::discover(&sup.client).await {
            Ok(dir) => {
                let mut k = sup.known.write();
                k.board = Board::build(&dir, &k.live);
                k.directory = Some(dir);
                k.discovered_at = Some(now);
                k.last_error = None;
            }
            Err(e) => {
                sup.failed(&e);
                all.publish(sup).await;
                return LIVE_EVERY;
            }
        }
        all.publish(sup).await;
    }
    let read_stats = last_stats.map_or(true, |t| t.elapsed() >= STATS_EVERY);
    let changed = read_live(sup, read_stats).await;
    if read_stats {
        *last_stats = Some(tokio::time::Instant::now());
        // Before publishing: whoever the new board wakes finds the verdicts of its counters.
        cross_check(all, sup).await;
    }
    if changed {
        all.publish(sup).await;
    }
    LIVE_EVERY
}

/// Checks OVH's queue counters just read against ours over the same period, for each token
/// of the organisation, and keeps the verdicts for `/api/health`; a queue turning `differ`
/// is logged.
async fn cross_check(all: &Supervision, sup: &OrgSupervisor) {
    let read: Vec<(String, Counts, Option<UnixTime>)> = sup
        .known
        .read()
        .board
        .queues
        .iter()
        .filter_map(|q| {
            let o = q.ovh.as_ref()?;
            let reset = o
                .last_reset
                .as_deref()
                .and_then(crate::clock::parse_rfc3339);
            Some((q.service.clone(), cross_check::ovh_counts(o), reset))
        })
        .collect();
    if read.is_empty() {
        return;
    }
    let org = sup.org;
    let mut checks = HashMap::new();
    for token in all.org_tokens(org).await {
        let Some(board) = all.service.boards.get(&token) else {
            continue;
        };
        // The queues this token sees, and our callers in each now who joined since the reset.
        let mut seen: Vec<(String, Counts, Option<UnixTime>, Counts)> = Vec::new();
        {
            let b = board.lock();
            let ours = b.queues();
            for (queue, ovh, reset) in &read {
                let Some(q) = ours.iter().find(|q| &q.number == queue) else {
                    continue;
                };
                let mut now = Counts::default();
                for c in q
                    .callers
                    .iter()
                    .filter(|c| reset.is_some_and(|r| c.joined_at >= r))
                {
                    now.total += 1;
                    now.answered += u64::from(c.answered_at.is_some());
                }
                seen.push((queue.clone(), *ovh, *reset, now));
            }
        }
        if seen.is_empty() {
            continue;
        }
        let t = token.clone();
        let queues: Vec<(String, Option<UnixTime>)> =
            seen.iter().map(|(q, _, r, _)| (q.clone(), *r)).collect();
        let stored = all
            .service
            .readers
            .read(move |c| {
                let from = crate::store::queries::first_event_at(c, &t)?;
                let mut counts = Vec::new();
                for (queue, reset) in &queues {
                    counts.push(match reset {
                        Some(r) => crate::store::queries::journal_counts_since(c, &t, queue, *r)?,
                        None => (0, 0),
                    });
                }
                Ok((from, counts))
            })
            .await;
        let Ok((from, counts)) = stored else {
            // The store could not say this time: the last verdicts stand until it can.
            if let Some(last) = sup.known.read().checks.get(&token).cloned() {
                checks.insert(token, last);
            }
            continue;
        };
        let list: Vec<QueueCheck> = seen
            .into_iter()
            .zip(counts)
            .map(|((queue, ovh, reset, now), (total, answered))| {
                let ours = Counts {
                    total: total + now.total,
                    answered: answered + now.answered,
                };
                QueueCheck {
                    verdict: cross_check::verdict(ovh, ours, reset, from),
                    queue,
                    since: reset,
                    ovh,
                    ours,
                }
            })
            .collect();
        checks.insert(token, list);
    }
    let mut k = sup.known.write();
    for (token, list) in &checks {
        for c in list.iter().filter(|c| c.verdict == Verdict::Differ) {
            let was = k
                .checks
                .get(token)
                .and_then(|l| l.iter().find(|p| p.queue == c.queue))
                .map(|p| p.verdict);
            if was != Some(Verdict::Differ) {
                crate::telemetry::OvhCountsDiffer {
                    org,
                    queue: &c.queue,
                    ovh: (c.ovh.total, c.ovh.answered),
                    ours: (c.ours.total, c.ours.answered),
                }
                .emit();
            }
        }
    }
    k.checks = checks;
}

/// Reads every agent's live status (and the queues' counters when `stats`); whether the board
/// changed.
async fn read_live(sup: &OrgSupervisor, stats: bool) -> bool {
    let Some(dir) = sup.known.read().directory.clone() else {
        return false;
    };
    let mut live = sup.known.read().live.clone();
    let mut error = None;
    for s in &dir.services {
        let hunting = format!("{}/hunting", s.path());
        for a in &s.agents {
            let id = a.agent.agent_id;
            match sup
                .client
                .get::<AgentLiveStatus>(&format!("{hunting}/agent/{id}/liveStatus"))
                .await
            {
                Ok(status) => {
                    live.agents.insert((s.number.clone(), id), status);
                }
                // People's actions used the budget: this reading waits for the next round.
                Err(OvhError::Busy(_)) => {}
                Err(e) => error = Some(e),
            }
        }
        if stats {
            for q in &s.queues {
                let path = format!("{hunting}/queue/{}/liveStatistics", q.queue_id);
                match sup.client.get::<QueueLiveStatistics>(&path).await {
                    Ok(st) => {
                        live.queues.insert((s.number.clone(), q.queue_id), st);
                    }
                    Err(OvhError::Busy(_)) => {}
                    Err(e) => error = Some(e),
                }
            }
        }
    }
    let mut k = sup.known.write();
    let board = Board::build(&dir, &live);
    let changed = board != k.board || k.last_error.is_some() != error.is_some();
    k.last_error = error.map(|e| e.to_string());
    k.live = live;
    k.board = board;
    changed
}
