//! Events published for integrators (issue 12): what each organisation's tokens bring —
//! every event, and each line's, queue's, finished call's and queue caller's new state — sent
//! to NATS JetStream (`nats`: subjects `<prefix>.<org>.line.<number>` and
//! `<prefix>.<org>.queue.<number>`) and to an MQTT broker (`mqtt`: topics
//! `<prefix>/<org>/line/<number>/…`, line and queue states retained), each for the
//! organisations that asked for it (`PUT /api/org` `{"publish_nats": true}`,
//! `{"publish_mqtt": true}`). No subject, topic or payload carries a token; the payloads are
//! the OpenAPI document's `PublishedMessage` (`docs/publish.md`).
//!
//! The ingest thread hands each committed batch over without waiting (`Outlet::offer`): one
//! bounded queue per target, and a full one drops the batch and counts it, so that a slow or
//! absent broker never slows the feed or the store. Each publisher connects in the
//! background, resolves tokens to organisations (read again every few seconds), builds the
//! messages and sends them.

pub mod message;
pub mod mqtt;
pub mod nats;

use crate::store::Readers;
use crate::token::TokenId;
use message::{Batch, Message};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Batches waiting for a publisher; past this, new ones are dropped (and counted).
pub const QUEUE: usize = 4096;

/// How long a token's organisation and its choice to publish are trusted before being read
/// again (an admin turning publishing on is followed within this).
const ORG_FRESH_FOR: Duration = Duration::from_secs(5);

/// Where an organisation may publish, each with its own switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    Nats,
    Mqtt,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Nats => "nats",
            Target::Mqtt => "mqtt",
        }
    }
}

/// The ingest thread's side: offers each batch to every publisher, never waits.
#[derive(Clone, Default)]
pub struct Outlet(Vec<(Target, mpsc::Sender<Arc<Batch>>)>);

impl Outlet {
    /// Whether anything is published at all: when not, batches are not even built.
    pub fn wanted(&self) -> bool {
        !self.0.is_empty()
    }

    pub fn offer(&self, batch: Batch) {
        let batch = Arc::new(batch);
        for (target, tx) in &self.0 {
            if tx.try_send(batch.clone()).is_err() {
                crate::telemetry::PublishDropped { target: *target }.emit();
            }
        }
    }
}

/// Where messages go.
pub trait Sink: Send + 'static {
    const TARGET: Target;

    /// Sends `messages`; the messages it could not send (each logged).
    fn send(&mut self, messages: Vec<Message>) -> impl Future<Output = Vec<Message>> + Send;
}

/// Starts a publisher for each target configured: the outlet to hand the ingest thread, and
/// their tasks (each ends once the outlet is dropped and its queue drained).
pub fn start(
    nats: Option<nats::NatsConfig>,
    mqtt: Option<mqtt::MqttConfig>,
    readers: Arc<Readers>,
) -> (Outlet, Vec<JoinHandle<()>>) {
    let mut outlet = Outlet::default();
    let mut tasks = Vec::new();
    if let Some(config) = nats {
        let (tx, rx) = mpsc::channel(QUEUE);
        outlet.0.push((Target::Nats, tx));
        let connect = move || {
            let config = config.clone();
            async move { nats::NatsSink::connect(&config).await }
        };
        tasks.push(tokio::spawn(publisher(connect, readers.clone(), rx)));
    }
    if let Some(config) = mqtt {
        let (tx, rx) = mpsc::channel(QUEUE);
        outlet.0.push((Target::Mqtt, tx));
        let connect = move || {
            let config = config.clone();
            async move { mqtt::MqttSink::connect(&config).await }
        };
        tasks.push(tokio::spawn(publisher(connect, readers.clone(), rx)));
    }
    (outlet, tasks)
}

/// Connects (again and again, 1 to 30 s apart, while the broker is away; batches wait in the
/// queue meanwhile), then publishes until the queue closes.
async fn publisher<S, F, Fut>(connect: F, readers: Arc<Readers>, rx: mpsc::Receiver<Arc<Batch>>)
where
    S: Sink,
    F: Fn() -> Fut,
    Fut: Future<Output = Result<S, String>>,
{
    let mut wait = Duration::from_secs(1);
    let sink = loop {
        match connect().await {
            Ok(sink) => break sink,
            Err(e) => {
                tracing::error!(
                    target_name = S::TARGET.as_str(),
                    error = e,
                    retry_in_s = wait.as_secs(),
                    "cannot publish yet"
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
        target_name = S::TARGET.as_str(),
        "publishing for integrators"
    );
    run(sink, readers, rx).await;
}

/// Publishes each batch of an organisation that asked for it, until the queue closes.
pub async fn run<S: Sink>(mut sink: S, readers: Arc<Readers>, mut rx: mpsc::Receiver<Arc<Batch>>) {
    let mut orgs = Orgs::default();
    while let Some(batch) = rx.recv().await {
        let Some(org) = orgs.publishing(&readers, &batch.token, S::TARGET).await else {
            continue;
        };
        let messages = batch.messages(org);
        let count = messages.len();
        let failed = sink.send(messages).await;
        crate::telemetry::Published {
            target: S::TARGET,
            messages: count - failed.len(),
            failed: failed.len(),
        }
        .emit();
    }
}

/// Tokens' organisations and whether they publish to a target, read from the store now and
/// then.
#[derive(Default)]
struct Orgs(HashMap<TokenId, (Option<i64>, Instant)>);

impl Orgs {
    /// The organisation of `token` if it publishes to `target`.
    async fn publishing(
        &mut self,
        readers: &Arc<Readers>,
        token: &TokenId,
        target: Target,
    ) -> Option<i64> {
        if let Some((org, at)) = self.0.get(token) {
            if at.elapsed() < ORG_FRESH_FOR {
                return *org;
            }
        }
        let id = token.clone();
        let org = readers
            .read(move |c| crate::store::users::publishing_org(c, &id, target))
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "could not read which organisations publish; tried again later");
                None
            });
        self.0.insert(token.clone(), (org, Instant::now()));
        org
    }
}
