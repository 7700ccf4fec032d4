//! A token's standing with OVH, as its follower sees it: since when OVH refuses it (kept in
//! the store, so that "refused for N days" survives restarts), its last successful poll (for
//! `ovh-cti tokens list`, noted for `successes` to write once a minute), and the decision to
//! pause it.
//!
//! The store is written through the one writer; a write that fails is logged and tried again
//! at the next change — a token's standing is worth less than the feed, which goes on.

use super::FeedContext;
use crate::clock::{rfc3339, UnixTime};
use crate::store::db::Conn;
use crate::store::tokens;
use crate::store::StoreError;
use crate::telemetry;
use crate::token::TokenId;

pub(super) struct Standing {
    id: TokenId,
    refused_since: Option<UnixTime>,
    /// Whether a success of this follower was written (the first is written at once, so that
    /// the list shows it; later ones are noted for `successes`).
    success_written: bool,
}

impl Standing {
    pub(super) fn new(
        ctx: &FeedContext,
        id: &TokenId,
        refused_since: Option<UnixTime>,
    ) -> Standing {
        ctx.health.refused(id, refused_since);
        Standing {
            id: id.clone(),
            refused_since,
            success_written: false,
        }
    }

    async fn save(
        &self,
        ctx: &FeedContext,
        f: impl FnOnce(&Conn, &TokenId) -> Result<(), StoreError> + Send + 'static,
    ) {
        let id = self.id.clone();
        if let Err(e) = ctx.ingest.write(move |w| f(w.connection(), &id)).await {
            tracing::warn!(token = %self.id, error = %e, "could not record the token's standing");
        }
    }

    /// A poll succeeded: a refusal streak is over.
    pub(super) async fn succeeded(&mut self, ctx: &FeedContext, now: UnixTime) {
        let streak_over = self.refused_since.take().is_some();
        if streak_over {
            ctx.health.refused(&self.id, None);
        }
        // Written at once after a refusal (it must not outlive a restart) and the first time.
        if streak_over || !self.success_written {
            self.success_written = true;
            self.save(ctx, move |c, id| tokens::succeeded(c, id, now))
                .await;
        } else {
            ctx.successes.note(&self.id, now);
        }
    }

    /// OVH refused the token with `status`. True when it has refused it for `pause_after`:
    /// then the token is paused (in the store and in its health) and its follower must stop.
    pub(super) async fn refused(&mut self, ctx: &FeedContext, status: u16, now: UnixTime) -> bool {
        let since = match self.refused_since {
            Some(since) => since,
            None => {
                self.refused_since = Some(now);
                self.save(ctx, move |c, id| {
                    tokens::set_refused_since(c, id, Some(now))
                })
                .await;
                ctx.health.refused(&self.id, Some(now));
                now
            }
        };
        if now - since < ctx.pause_after.as_secs_f64() {
            return false;
        }
        let reason = format!(
            "OVH has refused this token since {} (last answer: HTTP {status})",
            rfc3339(since)
        );
        {
            let reason = reason.clone();
            self.save(ctx, move |c, id| {
                tokens::pause(c, id, now, &reason).map(drop)
            })
            .await;
        }
        ctx.health.paused(&self.id, now, reason.clone());
        telemetry::TokenChanged {
            token: &self.id,
            change: "paused",
            reason: &reason,
        }
        .emit();
        true
    }
}
