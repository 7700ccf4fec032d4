//! Several instances on one PostgreSQL database: each token followed by one of them, the
//! others showing it from the store.
//!
//! `Leases` is what this instance holds; `spawn_keeper` keeps it: every quarter of the lease
//! time it says the instance is alive, renews its leases, notices those it lost (it paused, or
//! lost the database, past its lease: another took them) and takes free ones up to its share
//! — the active tokens divided by the instances alive, rounded up — or gives back what it holds
//! beyond it. A token whose instance died is free once its lease runs out: another takes it
//! within the lease time plus one look, and follows on from the stored OVH session.
//!
//! The tokens another instance follows are *mirrors* here (`ingest`): `spawn_mirror` brings
//! them up to the store as soon as a message on NATS says one moved (`fanout`), and in any
//! case every `MIRROR_EVERY`, so that a dashboard on any instance sees every event of its
//! organisation.

pub mod fanout;

use crate::ingest::IngestError;
use crate::store::db::{Conn, PostgresUrl};
use crate::store::{leases, Readers, StoreError};
use crate::token::TokenId;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

/// How long a lease lasts without being renewed, by default: an instance that dies has its
/// tokens taken over within this plus one look (a quarter of it).
pub const LEASE: Duration = Duration::from_secs(6);

/// Moves heard from NATS waiting for the mirror loop, at most.
const PENDING_MOVES: usize = 10_000;

/// How often mirrors are compared with the store when no message said one moved.
pub const MIRROR_EVERY: Duration = Duration::from_secs(1);

/// This instance's name among the others, and the leases it holds (token → epoch).
pub struct Leases {
    instance: String,
    ttl: Duration,
    held: Mutex<HashMap<TokenId, i64>>,
    /// Woken when a message says a mirror moved.
    pub moved: Notify,
    /// Woken when a token becomes known here: its lease is looked for at once.
    pub wake: Notify,
    pending_moves: Mutex<Vec<(TokenId, i64)>>,
    /// Held by a look while it reads the leases and brings `held` in line, and while it or
    /// `take_now` takes one and notes it: a lease taken at the login page is never mistaken
    /// by a look under way for one lost or one never taken. Never held while calling the
    /// service (see `keep`).
    look: tokio::sync::Mutex<()>,
    /// The leases' own connection, opened at first use and again after PostgreSQL dropped
    /// it: never waiting behind the dashboards' reads for one of the readers', which a
    /// moment of slow reads would make last past the lease time.
    db: Mutex<Option<Conn>>,
    url: PostgresUrl,
}

impl Leases {
    pub fn new(ttl: Duration, url: PostgresUrl) -> Leases {
        Leases {
            db: Mutex::new(None),
            url,
            // Its own name, not the process's: a service started again in the same process
            // (the tests do) must not find the leases of the one before as its own.
            instance: instance_name(),
            ttl,
            held: Mutex::default(),
            moved: Notify::new(),
            wake: Notify::new(),
            pending_moves: Mutex::default(),
            look: tokio::sync::Mutex::new(()),
        }
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Whether this instance holds `token`'s lease (and so polls it).
    pub fn holds(&self, token: &TokenId) -> bool {
        self.held.lock().contains_key(token)
    }

    pub fn held_count(&self) -> usize {
        self.held.lock().len()
    }

    /// A message said `token`'s last stored event is now `seq` (see `fanout`).
    pub fn note_move(&self, token: TokenId, seq: i64) {
        if self.holds(&token) {
            return;
        }
        let mut pending = self.pending_moves.lock();
        // Bounded: while the mirror loop is behind, moves past this are dropped — the next
        // look at the store (every `MIRROR_EVERY`) brings every mirror up anyway.
        if pending.len() < PENDING_MOVES {
            pending.push((token, seq));
        }
        drop(pending);
        self.moved.notify_one();
    }

    fn ttl_s(&self) -> f64 {
        self.ttl.as_secs_f64()
    }

    /// Runs `f` on the leases' own connection, off the async threads.
    async fn run<R: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Conn) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut slot = me.db.lock();
            if slot.is_none() {
                *slot = Some(Conn::postgres(&me.url)?);
            }
            let result = f(slot.as_ref().expect("opened above"));
            if matches!(&result, Err(e) if e.is_unavailable()) {
                *slot = None;
            }
            result
        })
        .await
        .map_err(|e| StoreError::Interrupted(e.to_string()))?
    }

    /// Takes `token`'s lease now if it is free (a token typed at the login page: the check's
    /// session is handed to this instance's follower, so this instance should follow it).
    pub async fn take_now(self: &Arc<Self>, token: &TokenId) -> Result<Option<i64>, StoreError> {
        let _alone = self.look.lock().await;
        let (instance, id, ttl) = (self.instance.clone(), token.clone(), self.ttl_s());
        let epoch = self
            .run(move |c| leases::acquire(c, &instance, &id, ttl))
            .await?;
        if let Some(epoch) = epoch {
            self.held.lock().insert(token.clone(), epoch);
        }
        Ok(epoch)
    }

    /// Gives every lease back at a clean stop (once everything is committed and the ingest
    /// thread has stopped: nothing is written after), so that the others take the tokens at
    /// once rather than after the lease time; and the process's delivery claims, so that what
    /// it had due is attempted by the others at once too.
    pub async fn leave(self: &Arc<Self>) -> Result<(), StoreError> {
        let instance = self.instance.clone();
        self.run(move |c| {
            leases::leave(c, &instance)?;
            crate::hooks::outbox::release_claims(c, crate::cluster::instance())
        })
        .await?;
        self.held.lock().clear();
        Ok(())
    }
}

/// What the leases need of the running service (`Service` is it): its store, its ingest
/// thread, its stop signal, the tokens it would follow, and starting or stopping one token's
/// follower. A trait, so that the service depends on the leases and not the other way round.
pub trait Followers: Send + Sync + 'static {
    fn readers(&self) -> &Arc<Readers>;
    fn ingest(&self) -> &crate::ingest::IngestHandle;
    fn stop_signal(&self) -> watch::Receiver<bool>;
    /// The tokens this instance would follow were it alone: known and not paused.
    fn active_tokens(&self) -> Vec<TokenId>;
    /// This instance took `id`'s lease at `epoch`: follow it. False when not known here.
    fn take_over(
        &self,
        id: &TokenId,
        epoch: i64,
    ) -> impl std::future::Future<Output = Result<bool, IngestError>> + Send;
    /// This instance gives `id` up: stop its follower, show it from the store.
    fn hand_over(
        &self,
        id: &TokenId,
    ) -> impl std::future::Future<Output = Result<(), IngestError>> + Send;
}

/// This process's name among the instances (leases, delivery claims).
pub fn instance() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(instance_name)
}

/// A name unique among the instances: the host, the process and a random part (a process
/// restarted under the same number is a new instance).
fn instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "ovh-cti".into());
    let host: String = host.chars().take(64).collect();
    format!(
        "{host}-{}-{:06x}",
        std::process::id(),
        rand::random::<u32>() & 0xff_ffff
    )
}

/// What one look at the leases found.
struct Look {
    alive: usize,
    held: Vec<leases::Held>,
    free: Vec<TokenId>,
}

/// Keeps the leases until the service stops (see the module's comment).
pub fn spawn_keeper<S: Followers>(service: Arc<S>, leases: Arc<Leases>) -> JoinHandle<()> {
    let mut stop = service.stop_signal();
    tokio::spawn(async move {
        let every = leases.ttl / 4;
        // The first look only says this instance is alive: instances started together then
        // count each other at their next look, and divide the tokens at once rather than one
        // taking them all and giving most back.
        let mut first = true;
        loop {
            match keep(&service, &leases, first).await {
                Ok(()) | Err(IngestError::Closed) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "could not renew or take leases; trying again")
                }
            }
            first = false;
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = leases.wake.notified() => {}
                _ = crate::shutdown::stopped(&mut stop) => return,
            }
        }
    })
}

async fn keep<S: Followers>(
    service: &Arc<S>,
    leases: &Arc<Leases>,
    first: bool,
) -> Result<(), IngestError> {
    // A look renews first, then works (takes, gives back) for at most a quarter of the lease:
    // thousands of tokens to take at start are taken over several looks, each renewing
    // what was taken before, so that none runs out while the others are taken.
    let started = std::time::Instant::now();
    let budget = leases.ttl / 4;
    let (instance, ttl) = (leases.instance.clone(), leases.ttl_s());
    // `look` is held while the leases are read and `held` brought in line with them, and
    // while a lease is taken and noted — never while calling the service, whose `lifecycle`
    // lock a login holds while it takes a lease (`take_now`): that was a deadlock.
    let alone = leases.look.lock().await;
    let look = leases
        .run(move |c| {
            Ok(Look {
                alive: leases::heartbeat(c, &instance, ttl)?,
                held: leases::renew(c, &instance, ttl)?,
                free: leases::free(c)?,
            })
        })
        .await?;
    // Lost: held here, but not renewed — another instance took them while this one could
    // not renew (paused, or cut from the database).
    let renewed: HashMap<TokenId, i64> =
        look.held.into_iter().map(|h| (h.token, h.epoch)).collect();
    let (lost, strays) = {
        let mut held = leases.held.lock();
        let lost = held
            .keys()
            .filter(|t| !renewed.contains_key(*t))
            .cloned()
            .collect::<Vec<_>>();
        // Rows under this name that this instance never took (it cannot be, the name has a
        // random part; but were it so, nobody would follow them): given back.
        let (mine, strays): (HashMap<_, _>, HashMap<_, _>) =
            renewed.into_iter().partition(|(t, _)| held.contains_key(t));
        *held = mine;
        (lost, strays.into_keys().collect::<Vec<_>>())
    };
    drop(alone);
    for token in strays {
        let (instance, id) = (leases.instance.clone(), token);
        leases
            .run(move |c| leases::release(c, &instance, &id))
            .await?;
    }
    for token in &lost {
        service.hand_over(token).await?;
    }
    if first {
        return Ok(());
    }
    let active: HashSet<TokenId> = service.active_tokens().into_iter().collect();
    // Leases of tokens paused or removed since are given back: they count for nothing.
    let idle: Vec<TokenId> = leases
        .held
        .lock()
        .keys()
        .filter(|t| !active.contains(*t))
        .cloned()
        .collect();
    for token in idle {
        give_back(service, leases, &token).await?;
    }
    let share = active.len().div_ceil(look.alive);
    let held = leases.held_count();
    if held < share {
        let mut free: Vec<TokenId> = look
            .free
            .into_iter()
            .filter(|t| active.contains(t))
            .collect();
        // Instances looking at once start at different places in the list.
        if !free.is_empty() {
            let start = rand::random::<u32>() as usize % free.len();
            free.rotate_left(start);
        }
        for token in free.into_iter().take(share - held) {
            if started.elapsed() > budget {
                break;
            }
            let (instance, id) = (leases.instance.clone(), token.clone());
            let alone = leases.look.lock().await;
            let Some(epoch) = leases
                .run(move |c| leases::acquire(c, &instance, &id, ttl))
                .await?
            else {
                continue;
            };
            leases.held.lock().insert(token.clone(), epoch);
            drop(alone);
            match service.take_over(&token, epoch).await {
                Ok(true) => {}
                // Not known here after all (removed, paused): for another instance, or none.
                Ok(false) => give_back(service, leases, &token).await?,
                // Held but not followed would leave it unfollowed while renewed: given back.
                Err(e) => {
                    give_back(service, leases, &token).await?;
                    return Err(e);
                }
            }
        }
    } else if held > share {
        let surplus: Vec<TokenId> = leases
            .held
            .lock()
            .keys()
            .take(held - share)
            .cloned()
            .collect();
        for token in surplus {
            if started.elapsed() > budget {
                break;
            }
            crate::telemetry::LeaseGiven { token: &token }.emit();
            give_back(service, leases, &token).await?;
        }
    }
    Ok(())
}

/// Stops following `token` here (what is in hand is committed first), then frees its lease.
async fn give_back<S: Followers>(
    service: &Arc<S>,
    leases: &Arc<Leases>,
    token: &TokenId,
) -> Result<(), IngestError> {
    leases.held.lock().remove(token);
    service.hand_over(token).await?;
    let (instance, id) = (leases.instance.clone(), token.clone());
    leases
        .run(move |c| leases::release(c, &instance, &id))
        .await?;
    Ok(())
}

/// Follows the store until the service stops: the mirrors' new events at once for the tokens
/// a message named; and every `MIRROR_EVERY`, where every token stands (messages may be lost,
/// or NATS absent; and settings changes and resets asked on another instance travel this way).
pub fn spawn_mirror<S: Followers>(service: Arc<S>, leases: Arc<Leases>) -> JoinHandle<()> {
    let mut stop = service.stop_signal();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(MIRROR_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => {
                    match service.readers().read(leases::marks).await {
                        Ok(marks) => match service.ingest().follow_store(marks).await {
                            Ok(()) | Err(IngestError::Closed) => {}
                            Err(e) => tracing::warn!(error = %e, "could not follow what other instances stored"),
                        },
                        Err(e) => tracing::warn!(error = %e, "could not read where the tokens stand"),
                    }
                }
                _ = leases.moved.notified() => {
                    let moved: Vec<_> = std::mem::take(&mut *leases.pending_moves.lock())
                        .into_iter()
                        .filter(|(t, _)| !leases.holds(t))
                        .collect();
                    match service.ingest().catch_up(moved).await {
                        Ok(()) | Err(IngestError::Closed) => {}
                        Err(e) => tracing::warn!(error = %e, "could not show what other instances stored"),
                    }
                }
                _ = crate::shutdown::stopped(&mut stop) => return,
            }
        }
    })
}

#[cfg(test)]
mod tests;
