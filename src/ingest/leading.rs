//! Several instances on one PostgreSQL database (`cluster`), as the ingest thread sees it:
//! the tokens this instance leads — it alone writes for them, each write fenced by the token's
//! lease — and the others' boards, mirrors of what the leading instance stored, brought up to
//! the store without writing anything.

use super::{Ingest, Published};
use crate::hooks;
use crate::normalise::Event;
use crate::store::{leases, StoreError};
use crate::telemetry;
use crate::token::TokenId;
use std::collections::HashMap;
use std::sync::Arc;

/// The tokens this instance leads, with the epoch of each one's lease. The other tokens'
/// boards are *mirrors*: they show what the leading instance stored (`catch_up`), and this
/// instance writes nothing for them — no events, records, snapshots or deliveries.
pub(super) struct Leading {
    pub(super) instance: String,
    pub(super) epochs: HashMap<TokenId, i64>,
    /// Each token's settings version and last reset done, as this instance applied them.
    pub(super) applied: HashMap<TokenId, Applied>,
    /// How long PostgreSQL lets this instance's transaction sit idle (it froze between two
    /// statements) before ending it: below the lease time, so that a frozen instance's fence
    /// — a row lock — never holds up the others' takeover for longer than that.
    idle_limit_ms: u64,
    /// Tells the other instances which tokens moved (NATS), when configured.
    pub(super) announcer: Option<Announce>,
}

/// Tells the other instances that a token's last stored event moved (`cluster::fanout`
/// over NATS, when configured): called after each commit, it must not wait.
pub type Announce = Box<dyn Fn(&TokenId, i64) + Send>;

impl Leading {
    pub(super) fn new(
        instance: String,
        lease: std::time::Duration,
        announcer: Option<Announce>,
    ) -> Leading {
        Leading {
            instance,
            epochs: HashMap::new(),
            applied: HashMap::new(),
            idle_limit_ms: (lease.as_millis() as u64 / 2).max(500),
            announcer,
        }
    }
}

/// See `Leading::applied`.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Applied {
    settings: i64,
    reset_done: i64,
}

/// See `Leading::idle_limit_ms`: set for the transaction only (`SET LOCAL`), since the
/// connection may be opened again after PostgreSQL dropped it.
pub(super) fn limit_idle(l: &Leading, conn: &crate::store::db::Conn) -> Result<(), StoreError> {
    conn.execute_batch(&format!(
        "SET LOCAL idle_in_transaction_session_timeout = {}",
        l.idle_limit_ms
    ))?;
    Ok(())
}

impl Ingest {
    /// Opens a write of `token`'s records or snapshot: with several instances, only once the
    /// lease is found still this instance's inside the transaction (`store::leases::fence`);
    /// `None` when it is not — this instance then stops writing for the token, which the
    /// keeper turns into a mirror at its next look.
    pub(super) fn begin_for(
        &mut self,
        token: &TokenId,
    ) -> Result<Option<crate::store::Batch<'_>>, StoreError> {
        let leases = self.leases.as_ref();
        let batch = self.writer.begin()?;
        let Some(l) = leases else {
            return Ok(Some(batch));
        };
        limit_idle(l, batch.connection())?;
        let epoch = l.epochs.get(token).copied().unwrap_or(-1);
        if crate::store::leases::fence(batch.connection(), &l.instance, token, epoch)? {
            return Ok(Some(batch));
        }
        drop(batch);
        // (Not `self.lost`: the batch's borrow of the writer is that of `self` to the checker.)
        if let Some(l) = self.leases.as_mut() {
            if l.epochs.remove(token).is_some() {
                telemetry::LeaseLost { token }.emit();
            }
        }
        Ok(None)
    }

    /// Another instance took `token` over: nothing more is written for it here.
    pub(super) fn lost(&mut self, token: &TokenId) {
        if let Some(l) = self.leases.as_mut() {
            if l.epochs.remove(token).is_some() {
                telemetry::LeaseLost { token }.emit();
            }
        }
    }

    /// Whether this instance writes for `token`: always, unless several instances share the
    /// database and another one leads it.
    pub(super) fn leads(&self, token: &TokenId) -> bool {
        self.leases
            .as_ref()
            .map_or(true, |l| l.epochs.contains_key(token))
    }

    pub(super) fn lead(&mut self, token: TokenId, epoch: i64) -> Result<(), StoreError> {
        let Some(l) = self.leases.as_mut() else {
            return Ok(());
        };
        l.epochs.insert(token.clone(), epoch);
        telemetry::LeaseTaken {
            token: &token,
            epoch,
        }
        .emit();
        // The mirror showed what was stored; the instance that led before may have stored
        // more since, and its last ticks are to be recorded: rebuilt from the store.
        let now = self.clock.now();
        let rebuilt = self.restore(&token, now);
        if self.noted(rebuilt).is_err() {
            self.stale.insert(token);
        }
        Ok(())
    }

    /// Applies to the mirrors among `moved` the events stored after what they show, as the
    /// leading instance applied them, and tells the dashboards. Nothing is written: the
    /// leading instance recorded the calls and queued the deliveries.
    pub(super) fn catch_up(&mut self, moved: Vec<(TokenId, i64)>) -> Result<(), StoreError> {
        // A board this instance led until a failed write (ahead of the store) and then lost:
        // rebuilt from the store first, or the stored events would be applied on top of
        // those it took.
        let now = self.clock.now();
        for (token, _) in &moved {
            if self.stale.contains(token) && !self.leads(token) {
                self.restore(token, now)?;
                self.publish_whole_state(token);
            }
        }
        let mut published: HashMap<TokenId, Published> = HashMap::new();
        let own_pops = self.own_pops.clone();
        let own_pops = own_pops.read();
        for (token, last) in moved {
            if self.leads(&token) {
                continue;
            }
            let (Some(board), Some(snap)) = (self.boards.get(&token), self.snapshots.get(&token))
            else {
                continue;
            };
            if snap.last_seq >= last {
                continue;
            }
            let mut events = Vec::new();
            let mut seq = snap.last_seq;
            self.writer.replay(&token, seq, |s, e, at| {
                seq = s;
                events.push((e, at));
            })?;
            let received_at = events.last().map_or(self.clock.now(), |(_, at)| *at);
            let shared: Arc<[Event]> = events.iter().map(|(e, _)| e.clone()).collect();
            let out = published.entry(token.clone()).or_default();
            out.received_at = received_at;
            let settings = self.settings.get(&token);
            let mut board = board.lock();
            for (i, (e, at)) in events.iter().enumerate() {
                out.changes.extend(board.tick(*at));
                out.changes.extend(board.apply(e, *at));
                let via = e
                    .call_id
                    .as_deref()
                    .and_then(|id| board.queue_link(&e.number, id));
                out.pops
                    .extend(hooks::browser_pop(settings, e, via.as_ref()));
                out.pops.extend(own_pops.messages(&token, e, via.as_ref()));
                out.events.push((shared.clone(), i));
            }
            out.mirrored = true;
            telemetry::EventsMirrored {
                token: &token,
                events: events.len(),
            }
            .emit();
            if let Some(snap) = self.snapshots.get_mut(&token) {
                snap.last_seq = seq;
            }
        }
        drop(own_pops);
        if !(self.hub.has_subscribers() || self.outlet.wanted()) {
            published.values_mut().for_each(|p| p.events.clear());
        }
        self.publish(published);
        Ok(())
    }

    /// Notes what a board about to be rebuilt from the store reflects (see `follow_store`).
    pub(super) fn note_marks(&mut self, token: &TokenId) -> Result<(), StoreError> {
        if self.leases.is_none() {
            return Ok(());
        }
        let applied = match leases::marks_of(self.writer.connection(), token)? {
            Some(m) => Applied {
                settings: m.settings_version,
                reset_done: m.reset_done,
            },
            None => Applied::default(),
        };
        if let Some(l) = self.leases.as_mut() {
            l.applied.insert(token.clone(), applied);
        }
        Ok(())
    }

    /// This instance stored `token`'s settings at `version`: nothing to read again.
    pub(super) fn applied_settings(&mut self, token: &TokenId, version: i64) {
        if let Some(l) = self.leases.as_mut() {
            l.applied.entry(token.clone()).or_default().settings = version;
        }
    }

    /// A reset asked from a dashboard. Alone: done now. With several instances: done now if
    /// this one follows the token (and said done in the store, so that the others rebuild
    /// their mirror from its snapshot); otherwise asked in the store, for the one that does.
    pub(super) fn reset_requested(&mut self, token: &TokenId) -> Result<(), StoreError> {
        self.reset_told(token, "requested")
    }

    /// Resets a board (asked, or at midnight) and, with several instances, says so in the
    /// store: done now if this instance follows the token, asked of the one that does
    /// otherwise. (A mirror never resets by itself: it is rebuilt from the following
    /// instance's snapshot, so that both show the same board.)
    pub(super) fn reset_told(
        &mut self,
        token: &TokenId,
        why: &'static str,
    ) -> Result<(), StoreError> {
        if self.leases.is_none() {
            return self.reset(token, why);
        }
        let asked = leases::ask_reset(self.writer.connection(), token)?;
        if self.leads(token) {
            self.reset_for(token, asked, why)?;
        }
        Ok(())
    }

    /// The reset asked up to `asked`, by the instance following the token.
    fn reset_for(
        &mut self,
        token: &TokenId,
        asked: i64,
        why: &'static str,
    ) -> Result<(), StoreError> {
        self.reset(token, why)?;
        // Its snapshot is stored (unless the token was lost meanwhile: then not done here).
        if self.leads(token) {
            leases::reset_done(self.writer.connection(), token, asked)?;
            if let Some(l) = self.leases.as_mut() {
                l.applied.entry(token.clone()).or_default().reset_done = asked;
            }
        }
        Ok(())
    }

    /// See `IngestHandle::follow_store`. A token that cannot be acted on now (its board waits
    /// to be rebuilt, a write failed) is said in the log and tried again at the next look; the
    /// others go on.
    pub(super) fn follow_store(&mut self, marks: Vec<leases::Marks>) -> Result<(), StoreError> {
        let mut moved = Vec::new();
        for m in marks {
            if self.boards.get(&m.token).is_none() {
                continue;
            }
            let token = m.token.clone();
            match self.follow_one(m) {
                Ok(Some(last_seq)) => moved.push((token, last_seq)),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(token = %token, error = %e, "could not act on what the store says of this token; trying again");
                }
            }
        }
        self.catch_up(moved)
    }

    /// Acts on one token's marks; `Some(last_seq)` for a mirror to bring up to the store.
    fn follow_one(&mut self, m: leases::Marks) -> Result<Option<i64>, StoreError> {
        let applied = self
            .leases
            .as_ref()
            .and_then(|l| l.applied.get(&m.token))
            .copied()
            .unwrap_or_default();
        // Marks read before this instance's own last change may be older than what it
        // applied: only newer ones count.
        if m.settings_version > applied.settings {
            let json = crate::store::queries::settings_json(self.writer.connection(), &m.token)?;
            let settings = json
                .and_then(|j| serde_json::from_str(&j).ok())
                .unwrap_or_default();
            self.applied_settings(&m.token, m.settings_version);
            self.use_settings(&m.token, settings);
        }
        if self.leads(&m.token) {
            if m.reset_asked > m.reset_done.max(applied.reset_done) {
                self.reset_for(&m.token, m.reset_asked, "requested")?;
            }
            return Ok(None);
        }
        if m.reset_done > applied.reset_done {
            // The following instance reset the board and stored it: shown from there.
            self.restore(&m.token, self.clock.now())?;
            self.publish_whole_state(&m.token);
            return Ok(None);
        }
        Ok(Some(m.last_seq))
    }
}
