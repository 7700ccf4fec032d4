//! Each token's last successful poll, for `ovh-cti tokens list`: noted in memory by the
//! followers, written for all tokens at once, once a minute and at shutdown (after the
//! followers stopped), in one transaction. With ten thousand tokens, one write per token per minute was 166 store
//! commands a second on an idle feed; one a minute costs nothing.

use crate::clock::UnixTime;
use crate::ingest::IngestHandle;
use crate::shutdown::stopped;
use crate::store::tokens;
use crate::token::TokenId;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often the successes noted are written.
pub const WRITE_EVERY: Duration = Duration::from_secs(60);

/// The successes noted since the last write, by token.
#[derive(Default)]
pub struct Successes(Mutex<HashMap<TokenId, UnixTime>>);

impl Successes {
    pub fn note(&self, id: &TokenId, at: UnixTime) {
        let mut noted = self.0.lock();
        match noted.get_mut(id) {
            Some(last) => *last = at,
            None => {
                noted.insert(id.clone(), at);
            }
        }
    }

    /// Writes what was noted, in one transaction; kept for the next try if the store fails.
    pub async fn write(&self, ingest: &IngestHandle) {
        let noted: Vec<(TokenId, UnixTime)> = self.0.lock().drain().collect();
        if noted.is_empty() {
            return;
        }
        let kept = noted.clone();
        let written = ingest
            .write(move |w| {
                let tx = w.connection_mut().transaction()?;
                for (id, at) in &noted {
                    tokens::succeeded(&tx, id, *at)?;
                }
                tx.commit()?;
                Ok(())
            })
            .await;
        if let Err(e) = written {
            tracing::warn!(error = %e, tokens = kept.len(), "could not record the tokens' last successful polls; tried again later");
            let mut noted = self.0.lock();
            for (id, at) in kept {
                noted.entry(id).or_insert(at);
            }
        }
    }

    /// Writes every `WRITE_EVERY` until `shutdown` is raised (the last write is the
    /// caller's, once the followers have stopped).
    pub fn spawn_writer(
        self: &Arc<Self>,
        ingest: IngestHandle,
        mut shutdown: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        let successes = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(WRITE_EVERY) => successes.write(&ingest).await,
                    _ = stopped(&mut shutdown) => return,
                }
            }
        })
    }
}
