//! The ingest thread: the one place where the store is written and the boards change.
//!
//! Followers hand it each poll's events; it stores them, applies the new ones (a repeated
//! delivery is recognised by its fingerprint and skipped) to the token's board, writes the
//! records the board hands back and the feed session in the same transaction, and only then
//! acknowledges — so a follower advances its session only once its events are safe. Batches
//! that queue up while a transaction runs are committed together (group commit). After each
//! commit the changes are published to the hub.
//!
//! It also ticks (expiry, midnight resets, snapshots), resets boards on request, and rebuilds
//! a board after a restart from its last snapshot plus the events stored after it.

use crate::clock::{SharedClock, UnixTime};
use crate::engine::{Board, BoardParams, Change, Expiry, QueueLink};
use crate::hooks;
use crate::hooks::own_pops::OwnPops;
use crate::hub::{frame, Hub, Update};
use crate::normalise::Event;
use crate::settings::Settings;
use crate::store::{queries, EventRow, StoreError, StoreStatus, StoredToken, Writer};
use crate::telemetry;
use crate::token::{Token, TokenId};
use parking_lot::{Mutex, RwLock};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Notify};

mod leading;
pub use leading::Announce;
use leading::{limit_idle, Leading};

/// Every token's board, shared read-only with the API.
#[derive(Default)]
pub struct Boards(RwLock<HashMap<TokenId, Arc<Mutex<Board>>>>);

impl Boards {
    pub fn get(&self, token: &TokenId) -> Option<Arc<Mutex<Board>>> {
        self.0.read().get(token).cloned()
    }
    pub fn tokens(&self) -> Vec<TokenId> {
        self.0.read().keys().cloned().collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the service is shutting down")]
    Closed,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A group commit failed; every batch in it is refused with the same reason.
    #[error("the events could not be stored: {0}")]
    Commit(String),
    /// Another instance follows the token now (its lease moved): this one stops.
    #[error("another instance follows this token now")]
    LeaseLost,
}

type Job = Box<dyn FnOnce(&mut Ingest) + Send>;

enum Command {
    Batch(Batch),
    Job(Job),
    Shutdown(oneshot::Sender<()>),
}

struct Batch {
    token: TokenId,
    events: Arc<[Event]>,
    session: Option<String>,
    done: oneshot::Sender<Result<usize, IngestError>>,
}

/// How followers, the API and the timers talk to the ingest thread.
#[derive(Clone)]
pub struct IngestHandle {
    tx: mpsc::Sender<Command>,
    outbox: Arc<Notify>,
    status: Arc<StoreStatus>,
    own_pops: Arc<RwLock<OwnPops>>,
}

/// How often expiry, midnight resets and snapshots are checked.
pub const TICK: std::time::Duration = std::time::Duration::from_secs(1);

/// How many batches one transaction may take at most.
const GROUP_COMMIT: usize = 256;
/// A board is snapshotted after this many new events, or this many seconds after a change.
const SNAPSHOT_EVERY_EVENTS: usize = 2000;
const SNAPSHOT_EVERY_S: f64 = 30.0;

impl IngestHandle {
    /// Stores and applies a poll's events; resolves once they are committed, with the number
    /// of events that were new. Shared, so that a follower keeps them to try again if the
    /// commit fails.
    pub async fn batch(
        &self,
        token: TokenId,
        events: Arc<[Event]>,
        session: Option<String>,
    ) -> Result<usize, IngestError> {
        let (done, rx) = oneshot::channel();
        self.tx
            .send(Command::Batch(Batch {
                token,
                events,
                session,
                done,
            }))
            .await
            .map_err(|_| IngestError::Closed)?;
        rx.await.map_err(|_| IngestError::Closed)?
    }

    /// Runs `f` on the ingest thread, with the writer and the boards, and returns its result.
    async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Ingest) -> R + Send + 'static,
    ) -> Result<R, IngestError> {
        let (done, rx) = oneshot::channel();
        let job: Job = Box::new(move |ingest| {
            let _ = done.send(f(ingest));
        });
        self.tx
            .send(Command::Job(job))
            .await
            .map_err(|_| IngestError::Closed)?;
        rx.await.map_err(|_| IngestError::Closed)
    }

    /// Several instances share the database: from now on this one writes only for the tokens
    /// it leads (`lead`); the others' boards follow the store (`catch_up`).
    pub async fn share_with_instances(
        &self,
        instance: String,
        lease: std::time::Duration,
        announcer: Option<Announce>,
    ) -> Result<(), IngestError> {
        self.run(move |i| i.leases = Some(Leading::new(instance, lease, announcer)))
            .await
    }

    /// This instance took `token`'s lease at `epoch`: its board is rebuilt from the store (the
    /// instance that led it until now stored everything it showed), then it takes batches.
    pub async fn lead(&self, token: TokenId, epoch: i64) -> Result<(), IngestError> {
        Ok(self.run(move |i| i.lead(token, epoch)).await??)
    }

    /// This instance no longer leads `token`: its board becomes a mirror.
    pub async fn mirror(&self, token: TokenId) -> Result<(), IngestError> {
        self.run(move |i| {
            if let Some(l) = i.leases.as_mut() {
                l.epochs.remove(&token);
            }
        })
        .await
    }

    /// Brings the mirrors among `moved` (token, its last stored event) up to the store.
    pub async fn catch_up(&self, moved: Vec<(TokenId, i64)>) -> Result<(), IngestError> {
        Ok(self.run(move |i| i.catch_up(moved)).await??)
    }

    /// Acts on where the tokens stand in the store (every second or so): settings changed by
    /// another instance, resets asked of a token this one follows or done by the one that
    /// does, and the mirrors' new events.
    pub async fn follow_store(
        &self,
        marks: Vec<crate::store::leases::Marks>,
    ) -> Result<(), IngestError> {
        Ok(self.run(move |i| i.follow_store(marks)).await??)
    }

    /// Notified after each commit that queued screen pops or webhooks: the delivery worker
    /// waits on it.
    pub fn outbox_signal(&self) -> Arc<Notify> {
        self.outbox.clone()
    }

    /// Users' own screen pops: the live stream asks who has one.
    pub fn own_pops(&self) -> Arc<RwLock<OwnPops>> {
        self.own_pops.clone()
    }

    /// Reads users' own screen pops again, after one was chosen or a user or an
    /// organisation's tokens changed.
    pub async fn reload_own_pops(&self) -> Result<(), IngestError> {
        Ok(self.run(|i| i.reload_own_pops()).await??)
    }

    /// Whether the store is writing, for the health report.
    pub fn store_status(&self) -> Arc<StoreStatus> {
        self.status.clone()
    }

    /// Runs a database write on the one writer.
    pub async fn write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Writer) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, IngestError> {
        Ok(self.run(move |i| f(&mut i.writer)).await??)
    }

    /// Starts keeping a board for `token` (rebuilding it from the store if it was known).
    /// Returns the token as stored: the session to resume the feed from, its state.
    pub async fn add_token(
        &self,
        token: Token,
        source: &'static str,
    ) -> Result<Option<StoredToken>, IngestError> {
        Ok(self.run(move |i| i.add_token(&token, source)).await??)
    }

    /// `add_token` for a batch of tokens, in one command and one insert transaction (see
    /// `startup`); their stored rows, in the same order.
    pub async fn add_tokens(
        &self,
        tokens: Vec<(Token, &'static str)>,
    ) -> Result<Vec<Option<StoredToken>>, IngestError> {
        Ok(self.run(move |i| i.add_tokens(&tokens)).await??)
    }

    /// Forgets a removed token: its board, its login sessions and snapshot, its row (and
    /// everything stored under it when `purge`, or when its removal asked for a purge).
    pub async fn forget_token(&self, token: TokenId, purge: bool) -> Result<(), IngestError> {
        Ok(self.run(move |i| i.forget_token(&token, purge)).await??)
    }

    /// Files `from`'s history, settings, webhooks, wall links and sessions under `to` (an
    /// event token rotated), and gives `to`'s board `from`'s settings.
    pub async fn carry_over(&self, from: TokenId, to: TokenId) -> Result<(), IngestError> {
        Ok(self.run(move |i| i.carry_over(&from, &to)).await??)
    }

    /// A reset asked from the dashboard. With several instances, the one following the token
    /// does it (within a second when it is another): see `ingest::leading`.
    pub async fn reset(&self, token: TokenId) -> Result<(), IngestError> {
        Ok(self.run(move |i| i.reset_requested(&token)).await??)
    }

    pub async fn save_settings(
        &self,
        token: TokenId,
        settings: Settings,
    ) -> Result<(), IngestError> {
        Ok(self
            .run(move |i| i.save_settings(&token, settings))
            .await??)
    }

    /// Expiry, midnight resets and snapshots; called about once a second.
    pub async fn tick(&self) -> Result<(), IngestError> {
        Ok(self.run(|i| i.tick()).await??)
    }

    /// Finishes what is queued, snapshots every board and stops the thread.
    pub async fn shutdown(&self) {
        let (done, rx) = oneshot::channel();
        if self.tx.send(Command::Shutdown(done)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

struct SnapshotState {
    last_seq: i64,
    unsaved: usize,
    saved_at: UnixTime,
}

pub struct Ingest {
    writer: Writer,
    boards: Arc<Boards>,
    hub: Hub,
    clock: SharedClock,
    expiry: Expiry,
    settings: HashMap<TokenId, Settings>,
    /// Users' own screen pops, by token (shared with the live streams, which read who has one).
    own_pops: Arc<RwLock<OwnPops>>,
    snapshots: HashMap<TokenId, SnapshotState>,
    /// Woken after a commit that queued screen pops or webhooks.
    outbox: Arc<Notify>,
    status: Arc<StoreStatus>,
    /// Boards that took events (or ticked) in a transaction that failed: they are ahead of the
    /// store. They stay served, read-only, and are rebuilt from the store before they take
    /// anything else — so events retried after the failure are applied exactly once.
    stale: HashSet<TokenId>,
    /// The quarter hour of UTC in which each board was last looked at for a midnight reset.
    midnight_checked: HashMap<TokenId, i64>,
    /// What is published to NATS for integrators (see `publish`).
    outlet: crate::publish::Outlet,
    /// With several instances (`cluster`): which one this is, and the tokens it leads.
    leases: Option<Leading>,
}

/// Local midnights fall on a quarter hour of UTC.
const MIDNIGHT_SLOT_S: f64 = 900.0;

/// Starts the ingest thread.
pub fn start(
    writer: Writer,
    boards: Arc<Boards>,
    hub: Hub,
    clock: SharedClock,
    expiry: Expiry,
    outlet: crate::publish::Outlet,
) -> (IngestHandle, std::thread::JoinHandle<()>) {
    let outbox = Arc::new(Notify::new());
    let status = Arc::new(StoreStatus::default());
    let (tx, rx) = mpsc::channel(1024);
    // Unreadable now, they are read again at the next change; meanwhile everyone pops by
    // the organisation's settings.
    let own = OwnPops::load(writer.connection()).unwrap_or_else(|error| {
        telemetry::StoreFailed { error: &error }.emit();
        OwnPops::default()
    });
    let own_pops = Arc::new(RwLock::new(own));
    let ingest = Ingest {
        writer,
        boards,
        hub,
        clock,
        expiry,
        settings: HashMap::new(),
        own_pops: own_pops.clone(),
        snapshots: HashMap::new(),
        outbox: outbox.clone(),
        status: status.clone(),
        stale: HashSet::new(),
        midnight_checked: HashMap::new(),
        outlet,
        leases: None,
    };
    let thread = std::thread::Builder::new()
        .name("ingest".into())
        .spawn(move || ingest.run(rx))
        .expect("spawn the ingest thread");
    (
        IngestHandle {
            tx,
            outbox,
            status,
            own_pops,
        },
        thread,
    )
}

/// What one token's part of a commit changed, gathered for the hub.
#[derive(Default)]
struct Published {
    /// The new events, each as its poll's shared list and its place in it: turned into rows
    /// for the dashboards and integrators only when someone is listening (most commits of a
    /// backlog have no one), not copied per event beforehand.
    events: Vec<(Arc<[Event]>, usize)>,
    /// When they were received (this commit's time).
    received_at: UnixTime,
    changes: Vec<Change>,
    /// Screen pops for the dashboards (modal and popup modes).
    pops: Vec<hooks::PopMessage>,
    reset: bool,
    /// Shown by this instance for a token another one leads, which publishes it for
    /// integrators: not published again from here.
    mirrored: bool,
}

impl Ingest {
    fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        while let Some(cmd) = rx.blocking_recv() {
            match cmd {
                Command::Batch(first) => {
                    let mut batches = vec![first];
                    let mut after = None;
                    while batches.len() < GROUP_COMMIT {
                        match rx.try_recv() {
                            Ok(Command::Batch(b)) => batches.push(b),
                            Ok(other) => {
                                after = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    self.ingest(batches);
                    match after {
                        Some(Command::Job(job)) => job(&mut self),
                        Some(Command::Shutdown(done)) => return self.stop(done),
                        _ => {}
                    }
                }
                Command::Job(job) => job(&mut self),
                Command::Shutdown(done) => return self.stop(done),
            }
        }
    }

    fn stop(mut self, done: oneshot::Sender<()>) {
        let now = self.clock.now();
        for token in self.boards.tokens() {
            let saved = self.snapshot(&token, now);
            let _ = self.noted(saved);
        }
        let _ = done.send(());
    }

    fn params(&self, token: &TokenId) -> BoardParams {
        let settings = self.settings.get(token).cloned().unwrap_or_default();
        BoardParams {
            service_level_s: f64::from(settings.service_level_s),
            expiry: self.expiry,
        }
    }

    fn reload_own_pops(&mut self) -> Result<(), StoreError> {
        let own = OwnPops::load(self.writer.connection());
        *self.own_pops.write() = self.noted(own)?;
        Ok(())
    }

    fn carry_over(&mut self, from: &TokenId, to: &TokenId) -> Result<(), StoreError> {
        crate::store::tokens::carry_over(self.writer.connection_mut(), from, to)?;
        if let Some(settings) = self.settings.get(from).cloned() {
            self.save_settings(to, settings)?;
        }
        Ok(())
    }

    fn forget_token(&mut self, token: &TokenId, purge: bool) -> Result<(), StoreError> {
        let now = self.clock.now();
        crate::store::tokens::mark_removed(self.writer.connection_mut(), token, purge, now)?;
        crate::store::tokens::finish_removal(self.writer.connection_mut(), token)?;
        self.boards.0.write().remove(token);
        if let Some(l) = self.leases.as_mut() {
            l.epochs.remove(token);
        }
        self.settings.remove(token);
        self.midnight_checked.remove(token);
        self.snapshots.remove(token);
        self.stale.remove(token);
        Ok(())
    }

    fn add_token(
        &mut self,
        token: &Token,
        source: &str,
    ) -> Result<Option<StoredToken>, StoreError> {
        Ok(self.add_tokens(&[(token.clone(), source)])?.pop().flatten())
    }

    fn add_tokens(
        &mut self,
        tokens: &[(Token, &str)],
    ) -> Result<Vec<Option<StoredToken>>, StoreError> {
        let now = self.clock.now();
        self.writer.add_tokens(tokens, now)?;
        let mut stored = Vec::with_capacity(tokens.len());
        for (token, _) in tokens {
            let id = token.id();
            if self.boards.get(&id).is_none() {
                self.restore(&id, now)?;
            }
            stored.push(self.writer.token(&id)?);
        }
        Ok(stored)
    }

    /// Rebuilds a board: its last snapshot, then every event stored after it, replayed with
    /// the local times they were received at (so that expiry comes out the same).
    fn restore(&mut self, id: &TokenId, now: UnixTime) -> Result<(), StoreError> {
        // Read first: a change made while the board is rebuilt is seen again at the next look.
        self.note_marks(id)?;
        let settings = match queries::settings_json(self.writer.connection(), id)? {
            Some(json) => serde_json::from_str::<Settings>(&json).unwrap_or_default(),
            None => Settings::default(),
        };
        self.settings.insert(id.clone(), settings);
        self.midnight_checked.remove(id);
        let params = self.params(id);
        let (mut seq, mut board, fresh) = match self.writer.snapshot(id)? {
            Some((seq, board)) => (seq, board, false),
            None => (0, Board::new(params), true),
        };
        board.set_params(params);
        if fresh {
            board.reset(now);
        }
        let mut changes = Vec::new();
        self.writer.replay(id, seq, |s, event, received_at| {
            seq = s;
            changes.extend(board.tick(received_at));
            changes.extend(board.apply(&event, received_at));
        })?;
        changes.extend(board.tick(now));
        // A mirror's records and snapshots are the leading instance's to write.
        if self.leads(id) {
            if let Some(batch) = self.begin_for(id)? {
                for change in &changes {
                    batch.record(id, change)?;
                }
                batch.save_snapshot(id, seq, &board, now)?;
                batch.commit()?;
            }
        }
        self.snapshots.insert(
            id.clone(),
            SnapshotState {
                last_seq: seq,
                unsaved: 0,
                saved_at: now,
            },
        );
        self.boards
            .0
            .write()
            .insert(id.clone(), Arc::new(Mutex::new(board)));
        self.stale.remove(id);
        Ok(())
    }

    /// Notes a failed write in the store's health, and says so in the log. (Only a commit that
    /// wrote rows says the store works again: an empty or in-place one proves little on a
    /// full disk.)
    fn noted<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(e) = &result {
            telemetry::StoreFailed { error: e }.emit();
            if self.status.failed(&e.to_string(), self.clock.now()) {
                self.publish_store_health();
            }
        }
        result
    }

    /// Marks boards as ahead of the store after a failed write, and tries to rebuild them at
    /// once (which fails too while the store cannot write: they are rebuilt later, before
    /// their next batch).
    fn mark_stale(&mut self, tokens: impl IntoIterator<Item = TokenId>, now: UnixTime) {
        for token in tokens {
            self.stale.insert(token.clone());
            let rebuilt = self.restore(&token, now);
            let _ = self.noted(rebuilt);
        }
    }

    fn ingest(&mut self, batches: Vec<Batch>) {
        let now = self.clock.now();
        // A board that is missing, or ahead of the store after a failed write, is rebuilt
        // first; if that fails too, its batches are refused (the follower retries, keeping
        // its session) rather than acknowledged. The stale board stays served meanwhile.
        let mut ready = Vec::with_capacity(batches.len());
        for b in batches {
            if !self.leads(&b.token) {
                let _ = b.done.send(Err(IngestError::LeaseLost));
                continue;
            }
            if self.boards.get(&b.token).is_some() && !self.stale.contains(&b.token) {
                ready.push(b);
                continue;
            }
            let rebuilt = self.restore(&b.token, now);
            match self.noted(rebuilt) {
                Ok(()) => ready.push(b),
                Err(e) => {
                    let _ = b.done.send(Err(IngestError::Commit(format!(
                        "the board could not be rebuilt: {e}"
                    ))));
                }
            }
        }
        let batches = ready;
        let mut published: HashMap<TokenId, Published> = HashMap::new();
        let mut counts = Vec::with_capacity(batches.len());
        // Batches of tokens whose lease moved to another instance since: refused.
        let mut fenced: HashSet<TokenId> = HashSet::new();
        // Tokens whose last stored event moved, for the other instances' mirrors.
        let mut moved: Vec<(TokenId, i64)> = Vec::new();
        let mut enqueued = 0;
        let own_pops = self.own_pops.clone();
        let own_pops = own_pops.read();
        let result = (|| -> Result<(), StoreError> {
            let tx = self.writer.begin()?;
            if let Some(l) = &self.leases {
                limit_idle(l, tx.connection())?;
            }
            let mut checked: HashSet<&TokenId> = HashSet::new();
            for b in &batches {
                let Some(board) = self.boards.get(&b.token) else {
                    counts.push(0);
                    continue;
                };
                // The lease is checked (and its row held) in this transaction, before anything
                // of the token is written: see `store::leases::fence`.
                if let Some(l) = &self.leases {
                    if checked.insert(&b.token) {
                        let epoch = l.epochs.get(&b.token).copied().unwrap_or(-1);
                        if !crate::store::leases::fence(
                            tx.connection(),
                            &l.instance,
                            &b.token,
                            epoch,
                        )? {
                            fenced.insert(b.token.clone());
                        }
                    }
                    if fenced.contains(&b.token) {
                        counts.push(0);
                        continue;
                    }
                }
                let out = published.entry(b.token.clone()).or_default();
                out.received_at = now;
                let snap = self.snapshots.get_mut(&b.token);
                // Store first (which says what is new), then apply under the board's lock —
                // held for the engine's work only, not for disk writes — then record.
                let mut fresh = Vec::with_capacity(b.events.len());
                let mut last_seq = None;
                for (i, e) in b.events.iter().enumerate() {
                    if let Some(seq) = tx.insert_event(&b.token, e, now)? {
                        last_seq = Some(seq);
                        fresh.push(i);
                    }
                }
                // The token's webhooks, read once for the poll rather than once per event (and
                // not at all for a poll of repeats).
                let endpoints = if fresh.is_empty() {
                    Vec::new()
                } else {
                    hooks::outbox::endpoints(tx.connection(), &b.token, true)?
                };
                // With each event's changes, the queue its line call came through, if any.
                let applied: Vec<(Vec<Change>, Option<QueueLink>)> = {
                    let mut board = board.lock();
                    fresh
                        .iter()
                        .map(|&i| &b.events[i])
                        .map(|e| {
                            let changes = board.apply(e, now);
                            let via = e
                                .call_id
                                .as_deref()
                                .and_then(|id| board.queue_link(&e.number, id));
                            (changes, via)
                        })
                        .collect()
                };
                let new = fresh.len();
                for (i, (changes, via)) in fresh.into_iter().zip(applied) {
                    let e = &b.events[i];
                    for change in changes {
                        tx.record(&b.token, &change)?;
                        out.changes.push(change);
                    }
                    // Deliveries commit with their event: neither exists without the other.
                    let settings = self.settings.get(&b.token);
                    let reaction = hooks::on_event(
                        tx.connection(),
                        &b.token,
                        settings,
                        &endpoints,
                        e,
                        via.as_ref(),
                        now,
                    )?;
                    enqueued += reaction.enqueued;
                    out.pops.extend(reaction.pop);
                    out.pops
                        .extend(own_pops.messages(&b.token, e, via.as_ref()));
                    out.events.push((b.events.clone(), i));
                }
                if let Some(seq) = last_seq {
                    moved.push((b.token.clone(), seq));
                }
                if let (Some(snap), Some(seq)) = (snap, last_seq) {
                    snap.last_seq = seq;
                    snap.unsaved += new;
                }
                tx.save_session(&b.token, b.session.as_deref(), last_seq)?;
                telemetry::EventsIngested {
                    token: &b.token,
                    new,
                    duplicates: b.events.len() - new,
                }
                .emit();
                counts.push(new);
            }
            tx.commit()
        })();
        drop(own_pops);
        match self.noted(result) {
            Ok(()) => {
                if !batches.is_empty() && self.status.committed() {
                    self.publish_store_health();
                }
                // With no one to show them to, the events are let go before the followers
                // hear back, so that the last reference — and freeing them — is theirs, off
                // this thread.
                if !(self.hub.has_subscribers() || self.outlet.wanted()) {
                    published.values_mut().for_each(|p| p.events.clear());
                }
                for (b, n) in batches.into_iter().zip(counts) {
                    let answer = if fenced.contains(&b.token) {
                        Err(IngestError::LeaseLost)
                    } else {
                        Ok(n)
                    };
                    let _ = b.done.send(answer);
                }
                for token in &fenced {
                    self.lost(token);
                }
                if let Some(announcer) = self.leases.as_ref().and_then(|l| l.announcer.as_ref()) {
                    for (token, seq) in &moved {
                        announcer(token, *seq);
                    }
                }
                if enqueued > 0 {
                    self.outbox.notify_one();
                }
                self.publish(published);
            }
            Err(e) => {
                // The boards took events the store did not keep: they are rebuilt from the
                // store so that they agree again, and stay served until then. The followers
                // retry their poll with the same session.
                self.mark_stale(published.into_keys(), now);
                let message = e.to_string();
                for b in batches {
                    let _ = b.done.send(Err(IngestError::Commit(message.clone())));
                }
            }
        }
    }

    fn publish(&self, published: HashMap<TokenId, Published>) {
        let mut written = telemetry::RecordsWritten {
            calls: 0,
            callers: 0,
            expired: 0,
        };
        let render = self.hub.has_subscribers();
        let outgoing = self.outlet.wanted();
        for (token, p) in published {
            written.count(&p.changes);
            if !(render || outgoing)
                || (p.events.is_empty() && p.changes.is_empty() && p.pops.is_empty() && !p.reset)
            {
                continue;
            }
            let Some(board) = self.boards.get(&token) else {
                continue;
            };
            let board = board.lock();
            // What changed, read once from the board: for the dashboards and for integrators.
            let batch = outgoing_batch(&token, &p, &board);
            if render {
                let mut log = String::new();
                for (e, _, _) in &batch.events {
                    frame(&mut log, "event", e);
                }
                for pop in &p.pops {
                    frame(&mut log, "pop", pop);
                }
                for c in &batch.calls {
                    frame(&mut log, "call", c);
                }
                for j in &batch.journal {
                    frame(&mut log, "journal", j);
                }
                let pops = !p.pops.is_empty();
                self.hub.publish(if p.reset {
                    let state = serde_json::json!({"reset": true, "lines": board.lines(), "queues": board.queues(), "calls": board.calls(), "since": board.since().map(crate::clock::rfc3339)});
                    Update::with_reset(token, log, pops, &state)
                } else {
                    Update::with_state(token, log, pops, &batch.lines, &batch.queues, &board.calls())
                });
            }
            if outgoing && !p.mirrored && !batch.is_empty() {
                self.outlet.offer(batch);
            }
        }
        written.emit();
    }

    fn reset(&mut self, token: &TokenId, why: &'static str) -> Result<(), StoreError> {
        let Some(board) = self.boards.get(token) else {
            return Ok(());
        };
        if self.stale.contains(token) {
            return Err(StoreError::Failing(
                "the board waits to be rebuilt from the store".into(),
            ));
        }
        let now = self.clock.now();
        board.lock().reset(now);
        telemetry::BoardReset { token, why }.emit();
        let saved = self.snapshot(token, now);
        if let Err(e) = self.noted(saved) {
            // The store still holds the board as it was before the reset: go back to it.
            self.mark_stale([token.clone()], now);
            return Err(e);
        }
        self.publish_whole_state(token);
        Ok(())
    }

    /// Tells every dashboard at once that the store stopped or started writing again (rather
    /// than at the next 15 s health frame): it explains why nothing new appears.
    fn publish_store_health(&self) {
        let mut sse = String::new();
        frame(&mut sse, "store", &self.status.get());
        for token in self.boards.tokens() {
            self.hub.publish(Update::log(token, sse.clone()));
        }
    }

    /// Sends a token's dashboards the whole state again (after a reset or a settings change).
    fn publish_whole_state(&self, token: &TokenId) {
        let mut published = HashMap::new();
        published.insert(
            token.clone(),
            Published {
                reset: true,
                ..Published::default()
            },
        );
        self.publish(published);
    }

    fn snapshot(&mut self, token: &TokenId, now: UnixTime) -> Result<(), StoreError> {
        // A stale board holds events the store does not: saving it would apply them twice
        // once they are delivered again.
        if self.stale.contains(token) || !self.leads(token) {
            return Ok(());
        }
        let (Some(board), Some(last_seq)) = (
            self.boards.get(token),
            self.snapshots.get(token).map(|s| s.last_seq),
        ) else {
            return Ok(());
        };
        let Some(batch) = self.begin_for(token)? else {
            return Ok(());
        };
        batch.save_snapshot(token, last_seq, &board.lock(), now)?;
        batch.commit()?;
        if let Some(snap) = self.snapshots.get_mut(token) {
            snap.unsaved = 0;
            snap.saved_at = now;
        }
        Ok(())
    }

    fn save_settings(&mut self, token: &TokenId, settings: Settings) -> Result<(), StoreError> {
        let version = self
            .writer
            .save_settings(token, &serde_json::to_string(&settings)?)?;
        self.applied_settings(token, version);
        self.use_settings(token, settings);
        Ok(())
    }

    /// Puts `settings` in force on the token's board (and tells its dashboards).
    fn use_settings(&mut self, token: &TokenId, settings: Settings) {
        self.settings.insert(token.clone(), settings);
        // Another time zone may put the board's day behind it at once.
        self.midnight_checked.remove(token);
        let params = self.params(token);
        if let Some(board) = self.boards.get(token) {
            board.lock().set_params(params);
            self.publish_whole_state(token);
        }
    }

    fn tick(&mut self) -> Result<(), StoreError> {
        let now = self.clock.now();
        let mut published: HashMap<TokenId, Published> = HashMap::new();
        let mut due_resets = Vec::new();
        let slot = (now / MIDNIGHT_SLOT_S).floor() as i64;
        let default_settings = Settings::default();
        // Tokens whose lease moved to another instance, found when about to record.
        let mut lost = Vec::new();
        let recorded = (|| -> Result<(), StoreError> {
            let batch = self.writer.begin()?;
            if let Some(l) = &self.leases {
                limit_idle(l, batch.connection())?;
            }
            for token in self.boards.tokens() {
                // A stale board ticks when it is rebuilt (the rebuild replays, then ticks).
                let Some(board) = self
                    .boards
                    .get(&token)
                    .filter(|_| !self.stale.contains(&token))
                else {
                    continue;
                };
                let mut board = board.lock();
                let changes = board.tick(now);
                // A local date changes only on a quarter hour of UTC (every time zone's offset
                // is a whole number of quarter hours): each board is looked at once in each,
                // not every second — with ten thousand tokens that was most of an idle tick.
                if self.midnight_checked.get(&token) != Some(&slot) {
                    let settings = self.settings.get(&token).unwrap_or(&default_settings);
                    if settings.display.reset_at_midnight
                        && crosses_midnight(board.since(), now, settings.tz())
                    {
                        due_resets.push(token.clone());
                    } else {
                        self.midnight_checked.insert(token.clone(), slot);
                    }
                }
                if changes.is_empty() {
                    continue;
                }
                // Entered before writing: if the write fails, this board is marked stale.
                let entry = published.entry(token.clone()).or_default();
                let leads = match &self.leases {
                    None => true,
                    Some(l) => match l.epochs.get(&token) {
                        None => false,
                        Some(&epoch) => {
                            let held = crate::store::leases::fence(
                                batch.connection(),
                                &l.instance,
                                &token,
                                epoch,
                            )?;
                            if !held {
                                lost.push(token.clone());
                            }
                            held
                        }
                    },
                };
                entry.mirrored = !leads;
                for change in changes.iter().filter(|_| leads) {
                    batch.record(&token, change)?;
                }
                entry.changes = changes;
            }
            batch.commit()
        })();
        for token in &lost {
            self.lost(token);
        }
        if let Err(e) = self.noted(recorded) {
            // Expired calls left the boards but not for the store: rebuild those boards, so
            // that they expire again, and are recorded, once the store writes.
            self.mark_stale(published.into_keys(), now);
            return Err(e);
        }
        if !published.is_empty() && self.status.committed() {
            self.publish_store_health();
        }
        self.publish(published);
        for token in due_resets {
            // A mirror is rebuilt from the following instance's reset (see `reset_told`).
            if self.leads(&token) {
                self.reset_told(&token, "midnight")?;
            }
        }
        let due: Vec<TokenId> = self
            .snapshots
            .iter()
            .filter(|(_, s)| {
                s.unsaved >= SNAPSHOT_EVERY_EVENTS
                    || (s.unsaved > 0 && now - s.saved_at >= SNAPSHOT_EVERY_S)
            })
            .map(|(t, _)| t.clone())
            .collect();
        for token in due {
            let saved = self.snapshot(&token, now);
            self.noted(saved)?;
        }
        Ok(())
    }
}

/// Whether local midnight in `tz` has passed since `since`.
/// What a committed batch changed, for the dashboards' stream and for the publisher: the
/// events, and the new state of each line and queue they touched, the calls finished and the
/// queue callers who left.
fn outgoing_batch(token: &TokenId, p: &Published, board: &Board) -> crate::publish::message::Batch {
    let mut batch = crate::publish::message::Batch {
        token: token.clone(),
        events: p
            .events
            .iter()
            .map(|(events, i)| {
                let e = &events[*i];
                let row = EventRow::of(e, p.received_at);
                (row, board.queue(&e.number).is_some(), e.fingerprint.clone())
            })
            .collect(),
        lines: Vec::new(),
        queues: Vec::new(),
        calls: Vec::new(),
        journal: Vec::new(),
    };
    for change in &p.changes {
        match change {
            Change::Line(n) => batch.lines.extend(board.line(n)),
            Change::Queue(n) => batch.queues.extend(board.queue(n)),
            Change::CallFinished(c) => batch.calls.push(c.clone()),
            Change::CallerLeft(j) => batch.journal.push(j.clone()),
            Change::CallReopened { .. } => {}
        }
    }
    batch.lines.dedup_by(|a, b| a.number == b.number);
    batch.queues.dedup_by(|a, b| a.number == b.number);
    batch
}

fn crosses_midnight(since: Option<UnixTime>, now: UnixTime, tz: chrono_tz::Tz) -> bool {
    let local_date = |t: UnixTime| {
        chrono::DateTime::from_timestamp(t as i64, 0).map(|d| d.with_timezone(&tz).date_naive())
    };
    match (since.and_then(local_date), local_date(now)) {
        (Some(a), Some(b)) => b > a,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::crosses_midnight;

    #[test]
    fn midnight_is_local_to_the_time_zone() {
        let paris = chrono_tz::Europe::Paris;
        // 2024-11-26 22:30 UTC is 23:30 in Paris; 23:30 UTC is 00:30 the next day there.
        let before = 1732660200.0;
        assert!(!crosses_midnight(Some(before), before + 1200.0, paris));
        assert!(crosses_midnight(Some(before), before + 3600.0, paris));
        assert!(!crosses_midnight(
            Some(before),
            before + 3600.0,
            chrono_tz::UTC
        ));
        assert!(!crosses_midnight(None, before, paris));
    }
}
