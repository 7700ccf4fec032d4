//! The NATS JetStream sink: a durable stream (`--nats-stream`, `OVHCTI` by default) holding
//! `<prefix>.>` for a week, created if missing; each message published with its
//! `Nats-Msg-Id` and its acknowledgement awaited, tried a few times while NATS does not
//! answer. The client reconnects by itself; what could not be sent is counted and logged.

use super::message::Message;
use super::{Sink, Target};
use async_nats::jetstream;
use std::time::Duration;

/// How long JetStream keeps a message.
pub const MAX_AGE: Duration = Duration::from_secs(7 * 86400);

/// Tries per message while NATS does not acknowledge it.
const TRIES: u32 = 3;

/// Where and how to publish.
#[derive(Clone)]
pub struct NatsConfig {
    pub url: String,
    /// The subjects' first token (`ovhcti`).
    pub prefix: String,
    pub stream: String,
}

/// Without the address: it may hold credentials.
impl std::fmt::Debug for NatsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsConfig")
            .field("prefix", &self.prefix)
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

pub struct NatsSink {
    js: jetstream::Context,
    prefix: String,
}

impl NatsSink {
    /// Connects and makes sure the stream exists. The error says what to check, without the
    /// URL's credentials.
    pub async fn connect(config: &NatsConfig) -> Result<NatsSink, String> {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .retry_on_initial_connect()
            .connect(config.url.as_str())
            .await
            .map_err(|e| format!("cannot connect to NATS: {}", e.kind()))?;
        let js = jetstream::new(client);
        js.get_or_create_stream(jetstream::stream::Config {
            name: config.stream.clone(),
            subjects: vec![format!("{}.>", config.prefix)],
            max_age: MAX_AGE,
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|e| {
            format!(
                "cannot create the JetStream stream {} (is JetStream enabled on the server?): {e}",
                config.stream
            )
        })?;
        Ok(NatsSink {
            js,
            prefix: config.prefix.clone(),
        })
    }

    async fn send_one(&self, m: &Message) -> Result<(), String> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, m.id.as_str());
        let subject = m.subject(&self.prefix);
        let ack = self
            .js
            .publish_with_headers(subject, headers, m.payload.clone().into())
            .await
            .map_err(|e| e.to_string())?;
        ack.await.map(drop).map_err(|e| e.to_string())
    }
}

impl Sink for NatsSink {
    const TARGET: Target = Target::Nats;

    async fn send(&mut self, messages: Vec<Message>) -> Vec<Message> {
        let mut failed = Vec::new();
        for m in messages {
            let mut last = None;
            for attempt in 0..TRIES {
                match self.send_one(&m).await {
                    Ok(()) => {
                        last = None;
                        break;
                    }
                    Err(e) => {
                        last = Some(e);
                        tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                    }
                }
            }
            if let Some(error) = last {
                tracing::warn!(error, subject = %m.subject(&self.prefix), "could not publish to NATS");
                failed.push(m);
            }
        }
        failed
    }
}
