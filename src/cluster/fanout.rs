//! Live updates between instances over core NATS: after each commit, the instance that
//! follows a token says on `<prefix>_fanout.<org>` that the token's last stored event moved
//! (`{"token_id": …, "seq": …}`: the token's non-secret id, never the token); every other
//! instance, subscribed to `<prefix>_fanout.*`, brings its mirror of that board up to the
//! store at once (`Leases::note_move`), rather than at its next look (`MIRROR_EVERY`).
//!
//! Core NATS, not JetStream: a lost message only delays a dashboard by a second, and the
//! subjects are outside the integrators' stream (`<prefix>.>`). The ingest thread hands the
//! moves over without waiting; a full queue drops them (the next look catches up).

use super::Leases;
use crate::store::{users, Readers};
use crate::token::TokenId;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Moves waiting to be announced; past this, new ones are dropped.
const QUEUE: usize = 4096;

/// How long a token's organisation is trusted before it is read again.
const ORG_FRESH_FOR: Duration = Duration::from_secs(30);

/// The ingest thread's side: says which tokens moved, never waits.
#[derive(Clone)]
pub struct Announcer(mpsc::Sender<(TokenId, i64)>);

impl Announcer {
    pub fn moved(&self, token: &TokenId, seq: i64) {
        let _ = self.0.try_send((token.clone(), seq));
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Moved {
    token_id: String,
    seq: i64,
}

/// The subject an organisation's moves are announced on.
pub fn subject(prefix: &str, org: i64) -> String {
    format!("{prefix}_fanout.{org}")
}

/// Connects to NATS in the background, announces this instance's moves and listens to the
/// others'. Returns the announcer for the ingest thread and the task.
pub fn start(
    url: String,
    prefix: String,
    readers: Arc<Readers>,
    leases: Arc<Leases>,
) -> (Announcer, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<(TokenId, i64)>(QUEUE);
    let task = tokio::spawn(async move {
        let client = match async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .retry_on_initial_connect()
            .connect(url.as_str())
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e.kind(), "cannot connect to NATS for the instances' live updates; dashboards of mirrored tokens follow the store every second");
                return;
            }
        };
        let mut subscription = match client.subscribe(format!("{prefix}_fanout.*")).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen to the other instances on NATS");
                return;
            }
        };
        let mut orgs: HashMap<TokenId, (Option<i64>, Instant)> = HashMap::new();
        loop {
            tokio::select! {
                moved = rx.recv() => {
                    let Some((token, seq)) = moved else { return };
                    let Some(org) = org_of(&mut orgs, &readers, &token).await else { continue };
                    let body = serde_json::to_vec(&Moved { token_id: token.as_str().to_string(), seq })
                        .expect("a move serialises");
                    if let Err(e) = client.publish(subject(&prefix, org), body.into()).await {
                        tracing::debug!(error = %e, "could not announce a move to the other instances");
                    }
                }
                message = futures::StreamExt::next(&mut subscription) => {
                    let Some(message) = message else { return };
                    // Capped like any input: a token id is 16 characters.
                    if message.payload.len() > 256 {
                        continue;
                    }
                    if let Ok(m) = serde_json::from_slice::<Moved>(&message.payload) {
                        leases.note_move(TokenId::from_stored(m.token_id), m.seq);
                    }
                }
            }
        }
    });
    (Announcer(tx), task)
}

async fn org_of(
    cache: &mut HashMap<TokenId, (Option<i64>, Instant)>,
    readers: &Arc<Readers>,
    token: &TokenId,
) -> Option<i64> {
    if let Some((org, at)) = cache.get(token) {
        if at.elapsed() < ORG_FRESH_FOR {
            return *org;
        }
    }
    let id = token.clone();
    let org = readers
        .read(move |c| users::org_of_token(c, &id))
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not read a token's organisation");
            None
        });
    cache.insert(token.clone(), (org, Instant::now()));
    org
}
