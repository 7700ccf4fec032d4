//! The running service, as every part of it sees it: the boards, the store's readers, the
//! ingest handle, the hub, feed health, the screen-pop and webhook worker, the followed tokens
//! and the shutdown signal. `app` builds it; `web`, `hooks` and `retention` use it.
//!
//! It also keeps the followed tokens' lives: following one (at start, or once OVH accepted
//! it at the login page), pausing, resuming and removing one — from the dashboard, or from
//! `ovh-cti tokens` through the database, which `reconcile` reads every few seconds. One
//! lock orders these changes, so that a reading of the table is never acted on after a newer
//! change. A token is *known* while it is followed or paused: its board is kept and its users
//! may sign in; only a followed one is polled.

use crate::clock::{SharedClock, UnixTime};
use crate::feed::{self, Checker, Ended, FeedContext, Handover, HealthBoard, Verdict};
use crate::hooks::Hooks;
use crate::hub::Hub;
use crate::ingest::{Boards, IngestError, IngestHandle};
use crate::store::tokens::{self, State};
use crate::store::{Readers, StoredToken};
use crate::telemetry;
use crate::token::{Token, TokenId};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

/// How often the token table's change counter is read for changes made by `ovh-cti tokens`
/// (the whole table is read only when it moved): a removed token stops within a second.
pub const RECONCILE_EVERY: Duration = Duration::from_millis(500);

/// The source of a token an operator added (`ovh-cti tokens add`, the admin API).
pub const OPERATOR: &str = "operator";

/// A stored source as the `'static` name `follow` takes.
fn source_name(stored: &str) -> &'static str {
    match stored {
        "config" => "config",
        OPERATOR => OPERATOR,
        _ => "login",
    }
}

/// What live streams must end at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Closed {
    /// A login session ended (logout); the SHA-256 of its id, as stored.
    Session(String),
    /// A token was removed: every stream of it ends.
    Token(TokenId),
}

/// Why a token typed at the login page could not be followed.
#[derive(Debug, thiserror::Error)]
pub enum AdoptError {
    #[error("this service already follows as many tokens as it is allowed to")]
    TooMany,
    #[error("the service is shutting down")]
    Stopping,
    #[error(transparent)]
    Ingest(#[from] IngestError),
}

struct Known {
    token: Token,
    source: String,
    /// Raised to stop this token's follower (pause, removal, shutdown).
    stop: watch::Sender<bool>,
    /// None while paused; a finished one paused itself.
    follower: Option<JoinHandle<Ended>>,
    /// Active, but followed by another instance (see `cluster`): shown from the store.
    standby: bool,
}

impl Known {
    fn following(&self) -> bool {
        self.standby || self.follower.as_ref().is_some_and(|f| !f.is_finished())
    }
}

/// Everything the running service shares: boards, store readers, the ingest handle, the hub,
/// feed health, and the followed tokens.
pub struct Service {
    pub boards: Arc<Boards>,
    pub readers: Arc<Readers>,
    pub ingest: IngestHandle,
    pub hub: Hub,
    pub health: Arc<HealthBoard>,
    pub clock: SharedClock,
    /// Screen-pop and webhook deliveries (the outbox worker).
    pub hooks: Arc<Hooks>,
    pub allow_new_tokens: bool,
    feed: FeedContext,
    checker: Checker,
    known: Mutex<HashMap<TokenId, Known>>,
    lifecycle: tokio::sync::Mutex<()>,
    shutdown: watch::Sender<bool>,
    closed: broadcast::Sender<Closed>,
    /// Moves whenever login sessions are deleted other than one by one (a token removed), so
    /// that cached sessions are checked against the store again.
    sessions_epoch: AtomicU64,
    /// Tokens known at start whose follower is not started yet (see `startup`).
    pending: watch::Sender<usize>,
    /// The tokens of the configuration in force (reloaded on SIGHUP): a `config` token of the
    /// table is followed only while it is one of them.
    configured: Mutex<std::collections::HashSet<TokenId>>,
    /// The token table's change counter when `reconcile` last read the table.
    reconciled: Mutex<Option<i64>>,
    /// With several instances on one PostgreSQL database: the leases this one holds. A token
    /// is polled only while its lease is held here.
    cluster: std::sync::OnceLock<Arc<crate::cluster::Leases>>,
}

impl Service {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        boards: Arc<Boards>,
        readers: Arc<Readers>,
        ingest: IngestHandle,
        hub: Hub,
        health: Arc<HealthBoard>,
        clock: SharedClock,
        hooks: Arc<Hooks>,
        allow_new_tokens: bool,
        feed: FeedContext,
        checker: Checker,
    ) -> Service {
        Service {
            boards,
            readers,
            ingest,
            hub,
            health,
            clock,
            hooks,
            allow_new_tokens,
            feed,
            checker,
            known: Mutex::new(HashMap::new()),
            lifecycle: tokio::sync::Mutex::new(()),
            shutdown: watch::channel(false).0,
            closed: broadcast::channel(256).0,
            sessions_epoch: AtomicU64::new(0),
            pending: watch::channel(0).0,
            configured: Mutex::default(),
            reconciled: Mutex::new(None),
            cluster: std::sync::OnceLock::new(),
        }
    }

    /// Shares the tokens with the other instances on the same database (before any is
    /// followed): from now on a token is polled only while this instance holds its lease.
    pub fn share(&self, leases: Arc<crate::cluster::Leases>) {
        let _ = self.cluster.set(leases);
    }

    /// The tokens this instance would follow were it alone: known and not paused.
    pub fn active_tokens(&self) -> Vec<TokenId> {
        self.known
            .lock()
            .iter()
            .filter(|(_, k)| k.following())
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// This instance took `id`'s lease at `epoch`: its board is rebuilt from the store and its
    /// follower starts from the stored session — where the instance that followed it stopped.
    /// False when the token is not known here, or paused.
    pub async fn take_over(&self, id: &TokenId, epoch: i64) -> Result<bool, IngestError> {
        let _one_at_a_time = self.lifecycle.lock().await;
        let Some(token) = self
            .known
            .lock()
            .get(id)
            .filter(|k| k.standby)
            .map(|k| k.token.clone())
        else {
            return Ok(false);
        };
        self.ingest.lead(id.clone(), epoch).await?;
        let target = id.clone();
        let stored = self.ingest.write(move |w| w.token(&target)).await?;
        self.known.lock().remove(id);
        self.start_known(token, stored, None);
        Ok(true)
    }

    /// With several instances: takes `id`'s lease at once if it is free, so that this
    /// instance follows the token — with the session its check with OVH began — rather than
    /// waiting for its next look at the leases (when another instance may take it).
    async fn lead_now(&self, id: &TokenId) -> Result<(), IngestError> {
        let Some(leases) = self.cluster.get() else {
            return Ok(());
        };
        if leases.holds(id) {
            return Ok(());
        }
        if let Some(epoch) = leases.take_now(id).await? {
            self.ingest.lead(id.clone(), epoch).await?;
        }
        Ok(())
    }

    /// This instance gives `id` up (its lease moved, or it holds more than its share): the
    /// follower stops — committing what it has in hand — and the board becomes a mirror.
    pub async fn hand_over(&self, id: &TokenId) -> Result<(), IngestError> {
        let _one_at_a_time = self.lifecycle.lock().await;
        // A paused token has no follower and no lease worth keeping.
        let paused = self
            .known
            .lock()
            .get(id)
            .map_or(true, |k| k.follower.is_none() && !k.standby);
        if paused {
            // Nothing to stop; but the ingest thread must not go on leading it.
            return self.ingest.mirror(id.clone()).await;
        }
        self.stop_follower(id).await;
        if let Some(k) = self.known.lock().get_mut(id) {
            k.standby = true;
            // A stopped follower's stop signal is raised: a new one gets its own.
            k.stop = watch::channel(*self.shutdown.borrow()).0;
        }
        self.ingest.mirror(id.clone()).await
    }

    /// The tokens of the configuration in force.
    pub fn set_configured(&self, tokens: impl IntoIterator<Item = TokenId>) {
        *self.configured.lock() = tokens.into_iter().collect();
    }

    pub fn is_configured(&self, id: &TokenId) -> bool {
        self.configured.lock().contains(id)
    }

    /// `n` more tokens are to be followed at start: not ready until they are.
    pub fn expect(&self, n: usize) {
        self.pending.send_modify(|p| *p += n);
    }

    /// `n` of the tokens expected at start have their follower (or are paused, as stored).
    pub fn started(&self, n: usize) {
        self.pending.send_modify(|p| *p = p.saturating_sub(n));
    }

    /// How many tokens known at start are not followed yet: `/readyz` is 503 until none.
    pub fn pending(&self) -> usize {
        *self.pending.borrow()
    }

    /// Resolves once every token known at start is followed.
    pub async fn ready(&self) {
        let mut pending = self.pending.subscribe();
        let _ = pending.wait_for(|p| *p == 0).await;
    }

    /// Whether the service was told to stop.
    pub fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Raises the shutdown signal: followers, streams and workers wind down.
    pub fn stop(&self) {
        self.shutdown.send_replace(true);
        for k in self.known.lock().values() {
            k.stop.send_replace(true);
        }
    }

    /// Each token's last successful poll, noted by the followers.
    pub fn successes(&self) -> Arc<feed::successes::Successes> {
        self.feed.successes.clone()
    }

    /// The followers' tasks, to wait for once stopped.
    pub fn take_followers(&self) -> Vec<JoinHandle<Ended>> {
        self.known
            .lock()
            .values_mut()
            .filter_map(|k| k.follower.take())
            .collect()
    }

    /// Whether the service knows the token (followed or paused): its users may sign in.
    pub fn follows(&self, id: &TokenId) -> bool {
        self.known.lock().contains_key(id)
    }

    /// Whether the token is known but not polled (paused).
    pub fn is_paused(&self, id: &TokenId) -> bool {
        self.known.lock().get(id).is_some_and(|k| !k.following())
    }

    /// Where a known token comes from: `config` or `login`.
    pub fn source(&self, id: &TokenId) -> Option<String> {
        self.known.lock().get(id).map(|k| k.source.clone())
    }

    pub fn followed_count(&self) -> usize {
        self.known.lock().len()
    }

    pub fn hint(&self, id: &TokenId) -> Option<String> {
        self.known.lock().get(id).map(|k| k.token.hint())
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Tells live streams what must end at once.
    pub fn closed(&self) -> broadcast::Receiver<Closed> {
        self.closed.subscribe()
    }

    /// A login session was ended: its streams end too.
    pub fn close_session(&self, id_hash: String) {
        let _ = self.closed.send(Closed::Session(id_hash));
    }

    pub fn sessions_epoch(&self) -> u64 {
        self.sessions_epoch.load(Ordering::SeqCst)
    }

    /// Asks OVH whether it knows `token` (see `feed::check`).
    pub async fn check(&self, token: &Token) -> Verdict {
        self.checker.check(token).await
    }

    /// Starts following `token` at start-up (once: a token already known is left alone), or
    /// keeps it paused if the store says so.
    pub async fn follow(&self, token: Token, source: &'static str) -> Result<(), IngestError> {
        let _one_at_a_time = self.lifecycle.lock().await;
        if self.follows(&token.id()) {
            return Ok(());
        }
        let stored = self.ingest.add_token(token.clone(), source).await?;
        self.start_known(token, stored, None);
        Ok(())
    }

    /// `follow` for a batch of tokens (see `startup`): their rows written in one transaction,
    /// then their followers started. A token already known, or twice in the batch, is left alone.
    pub async fn follow_batch(&self, batch: Vec<(Token, &'static str)>) -> Result<(), IngestError> {
        let _one_at_a_time = self.lifecycle.lock().await;
        self.follow_batch_locked(batch).await
    }

    async fn follow_batch_locked(
        &self,
        batch: Vec<(Token, &'static str)>,
    ) -> Result<(), IngestError> {
        let mut seen = std::collections::HashSet::new();
        let batch: Vec<_> = batch
            .into_iter()
            .filter(|(t, _)| !self.follows(&t.id()) && seen.insert(t.id()))
            .collect();
        if batch.is_empty() {
            return Ok(());
        }
        let tokens: Vec<Token> = batch.iter().map(|(t, _)| t.clone()).collect();
        let stored = self.ingest.add_tokens(batch).await?;
        for (token, stored) in tokens.into_iter().zip(stored) {
            self.start_known(token, stored, None);
        }
        Ok(())
    }

    /// Follows a token an operator added (the admin API): its own organisation, as a token
    /// typed at the login page, but not checked with OVH first (its health shows a refusal).
    /// False when it was known already.
    pub async fn add_by_operator(&self, token: Token) -> Result<bool, IngestError> {
        let _one_at_a_time = self.lifecycle.lock().await;
        if self.follows(&token.id()) {
            return Ok(false);
        }
        self.follow_batch_locked(vec![(token, OPERATOR)]).await?;
        Ok(true)
    }

    /// Applies a reloaded configuration's tokens (SIGHUP): new ones are followed, in the
    /// installation's organisation; those no longer in it are removed, their history kept.
    /// How many were added and removed.
    pub async fn configure(&self, tokens: Vec<Token>) -> Result<(usize, usize), IngestError> {
        let _one_at_a_time = self.lifecycle.lock().await;
        let wanted: std::collections::HashSet<TokenId> = tokens.iter().map(Token::id).collect();
        let dropped: Vec<TokenId> = self
            .configured
            .lock()
            .iter()
            .filter(|id| !wanted.contains(*id))
            .cloned()
            .collect();
        let mut removed = 0;
        for id in &dropped {
            if self.follows(id) {
                self.remove_locked(id, false, "no longer configured")
                    .await?;
                removed += 1;
            }
        }
        let added: Vec<Token> = tokens
            .into_iter()
            .filter(|t| !self.follows(&t.id()))
            .collect();
        let count = added.len();
        let ids: Vec<TokenId> = added.iter().map(Token::id).collect();
        let now = self.clock.now();
        self.ingest
            .write(move |w| crate::store::users::attach_to_installation(w, &ids, now))
            .await?;
        self.follow_batch_locked(added.into_iter().map(|t| (t, "config")).collect())
            .await?;
        self.set_configured(wanted);
        Ok((count, removed))
    }

    /// Follows a token OVH just accepted at the login page, carrying on from what its check
    /// began; a paused one is resumed. Refused past `max` known tokens.
    pub async fn adopt(
        &self,
        token: Token,
        handover: Handover,
        max: usize,
    ) -> Result<(), AdoptError> {
        let _one_at_a_time = self.lifecycle.lock().await;
        let id = token.id();
        if *self.shutdown.borrow() {
            return Err(AdoptError::Stopping);
        }
        if self.is_paused(&id) {
            self.resume_locked(&id, Some(handover)).await?;
            return Ok(());
        }
        if self.follows(&id) {
            return Ok(());
        }
        if self.followed_count() >= max {
            return Err(AdoptError::TooMany);
        }
        let stored = self.ingest.add_token(token.clone(), "login").await?;
        self.lead_now(&id).await?;
        self.start_known(token, stored, Some(handover));
        Ok(())
    }

    /// Registers a known token, and starts its follower unless the store says it is paused
    /// (a handover, from OVH accepting it, resumes it).
    fn start_known(&self, token: Token, stored: Option<StoredToken>, handover: Option<Handover>) {
        let id = token.id();
        let mut start = feed::Start {
            handover,
            ..feed::Start::default()
        };
        let (mut source, mut paused) = ("login".to_string(), None);
        if let Some(stored) = stored {
            start.session = stored.session;
            start.refused_since = stored.refused_since;
            source = stored.source;
            paused = stored.paused;
        }
        let stop = watch::channel(*self.shutdown.borrow()).0;
        // Another instance holds the lease: shown from the store until this one takes it.
        let standby =
            paused.is_none() && self.cluster.get().is_some_and(|leases| !leases.holds(&id));
        if standby {
            if let Some(leases) = self.cluster.get() {
                leases.wake.notify_one();
            }
        }
        let follower = match paused {
            _ if standby => None,
            Some((at, reason)) if start.handover.is_none() => {
                self.health
                    .start(&id, token.hint(), self.feed.transport.api().as_str(), at);
                self.health.refused(&id, start.refused_since);
                self.health.paused(&id, at, reason);
                None
            }
            _ => Some(tokio::spawn(feed::follow(
                self.feed.clone(),
                token.clone(),
                start,
                stop.subscribe(),
            ))),
        };
        self.known.lock().insert(
            id,
            Known {
                token,
                source,
                stop,
                follower,
                standby,
            },
        );
    }

    /// Stops a token's follower and waits for it (it commits what it has in hand).
    async fn stop_follower(&self, id: &TokenId) {
        let follower = {
            let mut known = self.known.lock();
            let Some(k) = known.get_mut(id) else { return };
            k.stop.send_replace(true);
            k.follower.take()
        };
        if let Some(f) = follower {
            let _ = f.await;
        }
    }

    /// Pauses a followed token: no more polling until it is resumed. False when unknown.
    pub async fn pause(&self, id: &TokenId, reason: &str) -> Result<bool, IngestError> {
        let _one_at_a_time = self.lifecycle.lock().await;
        if !self.follows(id) {
            return Ok(false);
        }
        let now = self.clock.now();
        let (target, why) = (id.clone(), reason.to_string());
        self.ingest
            .write(move |w| tokens::pause(w.connection(), &target, now, &why))
            .await?;
        self.paused_locked(id, now, reason).await;
        Ok(true)
    }

    async fn paused_locked(&self, id: &TokenId, at: UnixTime, reason: &str) {
        self.stop_follower(id).await;
        // Paused, not shown from another instance: its lease is given back at the next look.
        if let Some(k) = self.known.lock().get_mut(id) {
            k.standby = false;
        }
        self.health.paused(id, at, reason.to_string());
        telemetry::TokenChanged {
            token: id,
            change: "paused",
            reason,
        }
        .emit();
    }

    /// Follows a paused token again (its refusal streak forgotten). False when unknown.
    pub async fn resume(&self, id: &TokenId) -> Result<bool, IngestError> {
        let _one_at_a_time = self.lifecycle.lock().await;
        self.resume_locked(id, None).await
    }

    async fn resume_locked(
        &self,
        id: &TokenId,
        handover: Option<Handover>,
    ) -> Result<bool, IngestError> {
        let Some(token) = self.known.lock().get(id).map(|k| k.token.clone()) else {
            return Ok(false);
        };
        self.stop_follower(id).await;
        let target = id.clone();
        self.ingest
            .write(move |w| tokens::resume(w.connection(), &target))
            .await?;
        let stored = self.ingest.add_token(token.clone(), "login").await?;
        if handover.is_some() {
            self.lead_now(id).await?;
        }
        self.known.lock().remove(id);
        self.start_known(token, stored, handover);
        telemetry::TokenChanged {
            token: id,
            change: "resumed",
            reason: "",
        }
        .emit();
        Ok(true)
    }

    /// An event token rotated at OVH: `to` (followed already) takes over what was stored
    /// under `from` — history, settings, webhooks, wall links, people's sessions (they stay
    /// signed in, now on `to`) — then `from` is removed. Today's live figures start again on
    /// `to`'s board.
    pub async fn carry_over(&self, from: &TokenId, to: &TokenId) -> Result<(), IngestError> {
        let _one_at_a_time = self.lifecycle.lock().await;
        if !self.follows(from) {
            return Ok(());
        }
        // Stopped first, so that nothing it receives is filed under it after the move.
        self.stop_follower(from).await;
        self.ingest.carry_over(from.clone(), to.clone()).await?;
        // Sessions checked before now are looked up again: they belong to `to` now.
        self.sessions_epoch.fetch_add(1, Ordering::SeqCst);
        self.remove_locked(from, false, "rotated").await
    }

    /// Removes a token: its follower stops, its board, sessions and live streams go, and its
    /// secret is wiped; its stored history stays unless `purge`. False when unknown.
    pub async fn remove(&self, id: &TokenId, purge: bool) -> Result<bool, IngestError> {
        let _one_at_a_time = self.lifecycle.lock().await;
        if !self.follows(id) {
            return Ok(false);
        }
        self.remove_locked(id, purge, "asked").await?;
        Ok(true)
    }

    async fn remove_locked(&self, id: &TokenId, purge: bool, why: &str) -> Result<(), IngestError> {
        self.stop_follower(id).await;
        // Unknown from here: no request of this token is served any more.
        self.known.lock().remove(id);
        self.sessions_epoch.fetch_add(1, Ordering::SeqCst);
        let _ = self.closed.send(Closed::Token(id.clone()));
        self.health.forget(id);
        self.ingest.forget_token(id.clone(), purge).await?;
        telemetry::TokenChanged {
            token: id,
            change: "removed",
            reason: why,
        }
        .emit();
        Ok(())
    }

    /// Finishes the removals `ovh-cti tokens remove` started while the service was not running.
    pub async fn finish_removals(&self) -> Result<(), IngestError> {
        let removed = self
            .readers
            .read(tokens::removed)
            .await
            .map_err(IngestError::Store)?;
        for id in removed {
            self.ingest.forget_token(id, false).await?;
        }
        Ok(())
    }

    /// Catches up with the token table, which `ovh-cti tokens` or another part of the service
    /// may have changed: a token removed or paused there is removed or paused here, one resumed
    /// there is followed again, one added there (by an operator; or a configured one, a login
    /// one when new tokens are allowed) is followed. Cheap when nothing changed: one counter.
    pub async fn reconcile(&self) -> Result<(), IngestError> {
        // The tokens known at start are still being followed, batch by batch: the table
        // moves with each batch, and acting on it now would start thousands at once.
        if self.pending() > 0 {
            return Ok(());
        }
        let _one_at_a_time = self.lifecycle.lock().await;
        let version = self
            .readers
            .read(tokens::version)
            .await
            .map_err(IngestError::Store)?;
        if *self.reconciled.lock() == Some(version) {
            return Ok(());
        }
        let rows = self
            .readers
            .read(tokens::list)
            .await
            .map_err(IngestError::Store)?;
        let rows: HashMap<TokenId, tokens::TokenRow> =
            rows.into_iter().map(|r| (r.id.clone(), r)).collect();
        let known: Vec<(TokenId, bool)> = self
            .known
            .lock()
            .iter()
            .map(|(id, k)| (id.clone(), k.following()))
            .collect();
        for (id, following) in known {
            match rows.get(&id) {
                None => self.remove_locked(&id, false, "by an operator").await?,
                Some(row) if row.state == State::Removed => {
                    self.remove_locked(&id, row.purge, "by an operator").await?
                }
                Some(row) if row.state == State::Paused && following => {
                    let reason = row.state_reason.clone().unwrap_or_default();
                    self.paused_locked(&id, row.state_at.unwrap_or_default(), &reason)
                        .await
                }
                Some(row) if row.state == State::Active && !following => {
                    self.resume_locked(&id, None).await?;
                }
                _ => {}
            }
        }
        let mut added = Vec::new();
        for row in rows.values() {
            // Removals of tokens this service does not follow (e.g. with --no-new-tokens).
            if row.state == State::Removed && !self.follows(&row.id) {
                self.ingest.forget_token(row.id.clone(), row.purge).await?;
            } else if row.state != State::Removed && !self.follows(&row.id) && self.wants(row) {
                let id = row.id.clone();
                let token = self
                    .readers
                    .read(move |c| tokens::followable(c, &id))
                    .await
                    .map_err(IngestError::Store)?;
                added.extend(token.map(|t| (t, source_name(&row.source))));
            }
        }
        if !added.is_empty() {
            self.follow_batch_locked(added).await?;
        }
        *self.reconciled.lock() = Some(version);
        Ok(())
    }

    /// Whether a stored token this service does not know yet is to be followed.
    fn wants(&self, row: &tokens::TokenRow) -> bool {
        match row.source.as_str() {
            OPERATOR => true,
            "config" => self.is_configured(&row.id),
            _ => self.allow_new_tokens,
        }
    }

    /// Reconciles every `RECONCILE_EVERY` until the service stops.
    pub fn spawn_reconciler(self: &Arc<Self>) -> JoinHandle<()> {
        let service = self.clone();
        let mut stop = self.shutdown_signal();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(RECONCILE_EVERY) => {}
                    _ = crate::shutdown::stopped(&mut stop) => return,
                }
                match service.reconcile().await {
                    Ok(()) | Err(IngestError::Closed) => {}
                    Err(e) => tracing::warn!(error = %e, "could not read the token table"),
                }
            }
        })
    }
}

/// The leases' view of the service (see `cluster::Followers`).
impl crate::cluster::Followers for Service {
    fn readers(&self) -> &Arc<Readers> {
        &self.readers
    }

    fn ingest(&self) -> &IngestHandle {
        &self.ingest
    }

    fn stop_signal(&self) -> watch::Receiver<bool> {
        self.shutdown_signal()
    }

    fn active_tokens(&self) -> Vec<TokenId> {
        Service::active_tokens(self)
    }

    fn take_over(
        &self,
        id: &TokenId,
        epoch: i64,
    ) -> impl std::future::Future<Output = Result<bool, IngestError>> + Send {
        Service::take_over(self, id, epoch)
    }

    fn hand_over(
        &self,
        id: &TokenId,
    ) -> impl std::future::Future<Output = Result<(), IngestError>> + Send {
        Service::hand_over(self, id)
    }
}
