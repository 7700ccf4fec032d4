//! The running service, as every part of it sees it: the boards, the store's readers, the
//! ingest handle, the hub, feed health, the screen-pop and webhook worker, the followed tokens
//! and the shutdown signal. `app` builds it; `web`, `hooks` and `retention` use it.

use crate::clock::SharedClock;
use crate::feed::{self, FeedContext, HealthBoard};
use crate::hooks::Hooks;
use crate::hub::Hub;
use crate::ingest::{Boards, IngestError, IngestHandle};
use crate::store::Readers;
use crate::token::{Token, TokenId};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

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
    followed: Mutex<HashMap<TokenId, Token>>,
    follow_lock: tokio::sync::Mutex<()>,
    followers: Mutex<Vec<JoinHandle<()>>>,
    shutdown: watch::Sender<bool>,
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
            followed: Mutex::new(HashMap::new()),
            follow_lock: tokio::sync::Mutex::new(()),
            followers: Mutex::new(Vec::new()),
            shutdown: watch::channel(false).0,
        }
    }

    /// Raises the shutdown signal: followers, streams and workers wind down.
    pub fn stop(&self) {
        self.shutdown.send_replace(true);
    }

    /// The followers' tasks, to wait for once stopped.
    pub fn take_followers(&self) -> Vec<JoinHandle<()>> {
        std::mem::take(&mut *self.followers.lock())
    }

    pub fn follows(&self, id: &TokenId) -> bool {
        self.followed.lock().contains_key(id)
    }

    pub fn followed_count(&self) -> usize {
        self.followed.lock().len()
    }

    pub fn hint(&self, id: &TokenId) -> Option<String> {
        self.followed.lock().get(id).map(Token::hint)
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Starts following `token` (once: a token already followed is left alone).
    pub async fn follow(&self, token: Token, source: &'static str) -> Result<(), IngestError> {
        let _one_at_a_time = self.follow_lock.lock().await;
        let id = token.id();
        if self.follows(&id) {
            return Ok(());
        }
        let session = self.ingest.add_token(token.clone(), source).await?;
        self.followed.lock().insert(id, token.clone());
        let task = tokio::spawn(feed::follow(
            self.feed.clone(),
            token,
            session,
            self.shutdown.subscribe(),
        ));
        self.followers.lock().push(task);
        Ok(())
    }
}
