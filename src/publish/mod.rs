//! Events published for integrators (issue 12): what each organisation's tokens bring —
//! every event, and each line's, queue's, finished call's and queue caller's new state — sent
//! to a NATS JetStream stream under `<prefix>.<org>.line.<number>` and
//! `<prefix>.<org>.queue.<number>`, for the organisations that asked for it (`PUT /api/org`
//! `{"publish_nats": true}`). No subject and no payload carries a token; the payloads'
//! shape is `docs/publish.md` (and its JSON schema, `docs/publish.schema.json`).
//!
//! The ingest thread hands each committed batch over without waiting (`Outlet::offer`): a
//! bounded queue, and a full one drops the batch and counts it, so that a slow or absent
//! NATS never slows the feed or the store. The publisher resolves tokens to organisations
//! (read again every few seconds), builds the messages and sends them with an id derived from
//! their content (`Nats-Msg-Id`): a message retried after a lost acknowledgement is stored
//! once by JetStream.

pub mod message;
pub mod nats;

use crate::store::Readers;
use crate::token::TokenId;
use message::{Batch, Message};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Batches waiting for the publisher; past this, new ones are dropped (and counted).
pub const QUEUE: usize = 4096;

/// How long a token's organisation and its choice to publish are trusted before being read
/// again (an admin turning publishing on is followed within this).
const ORG_FRESH_FOR: Duration = Duration::from_secs(5);

/// The ingest thread's side: offers batches, never waits.
#[derive(Clone, Default)]
pub struct Outlet(Option<mpsc::Sender<Batch>>);

impl Outlet {
    /// Whether anything is published at all: when not, batches are not even built.
    pub fn wanted(&self) -> bool {
        self.0.is_some()
    }

    pub fn offer(&self, batch: Batch) {
        if let Some(tx) = &self.0 {
            if tx.try_send(batch).is_err() {
                crate::telemetry::PublishDropped { batches: 1 }.emit();
            }
        }
    }
}

/// Where messages go.
pub trait Sink: Send + 'static {
    /// Sends `messages`, retrying as it sees fit; the messages it could not send.
    fn send(
        &mut self,
        messages: Vec<Message>,
    ) -> impl std::future::Future<Output = Vec<Message>> + Send;
}

/// Starts the publisher when `nats` is configured: the outlet to hand the ingest thread (one
/// that takes nothing otherwise), and the task. It connects in the background (batches wait
/// meanwhile, up to `QUEUE`), and ends once the outlet is dropped and its queue drained.
pub fn start(
    nats: Option<nats::NatsConfig>,
    readers: Arc<Readers>,
) -> (Outlet, Option<JoinHandle<()>>) {
    let Some(config) = nats else {
        return (Outlet::default(), None);
    };
    let (tx, rx) = mpsc::channel::<Batch>(QUEUE);
    let task = tokio::spawn(async move {
        let mut wait = Duration::from_secs(1);
        let sink = loop {
            match nats::NatsSink::connect(&config).await {
                Ok(sink) => break sink,
                Err(e) => {
                    tracing::error!(
                        error = e,
                        retry_in_s = wait.as_secs(),
                        "cannot publish to NATS yet"
                    );
                    if rx.is_closed() && rx.is_empty() {
                        return;
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(30));
                }
            }
        };
        tracing::info!(
            stream = config.stream,
            prefix = config.prefix,
            "publishing to NATS JetStream"
        );
        run(sink, readers, rx).await;
    });
    (Outlet(Some(tx)), Some(task))
}

/// Publishes each batch of an organisation that asked for it, until the queue closes.
pub async fn run<S: Sink>(mut sink: S, readers: Arc<Readers>, mut rx: mpsc::Receiver<Batch>) {
    let mut orgs = Orgs::default();
    while let Some(batch) = rx.recv().await {
        let Some(org) = orgs.publishing(&readers, &batch.token).await else {
            continue;
        };
        let messages = batch.messages(org);
        let count = messages.len();
        let failed = sink.send(messages).await;
        crate::telemetry::Published {
            messages: count - failed.len(),
            failed: failed.len(),
        }
        .emit();
    }
}

/// Tokens' organisations and whether they publish, read from the store now and then.
#[derive(Default)]
struct Orgs(HashMap<TokenId, (Option<i64>, Instant)>);

impl Orgs {
    /// The organisation of `token` if it publishes to NATS.
    async fn publishing(&mut self, readers: &Arc<Readers>, token: &TokenId) -> Option<i64> {
        if let Some((org, at)) = self.0.get(token) {
            if at.elapsed() < ORG_FRESH_FOR {
                return *org;
            }
        }
        let id = token.clone();
        let org = readers
            .read(move |c| crate::store::users::publishing_org(c, &id))
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "could not read which organisations publish; tried again later");
                None
            });
        self.0.insert(token.clone(), (org, Instant::now()));
        org
    }
}
