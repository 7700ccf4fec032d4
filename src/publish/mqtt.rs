//! The MQTT sink, for home automation and small integrations: each message at QoS 1 under
//! `<prefix>/<org>/<line|queue>/<number>/<state|event|call|journal>`, line and queue states
//! retained (a new subscriber gets the current state of every line at once). `mqtt://` only;
//! the client reconnects by itself (rumqttc's event loop, polled by a task of its own).

use super::message::Message;
use super::{Sink, Target};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Where and how to publish.
#[derive(Clone)]
pub struct MqttConfig {
    /// `mqtt://[user:password@]host[:port]`.
    pub url: String,
    /// The topics' first level (`ovhcti`).
    pub prefix: String,
}

/// Without the address: it may hold credentials.
impl std::fmt::Debug for MqttConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttConfig")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

pub struct MqttSink {
    client: AsyncClient,
    prefix: String,
    /// Polls the event loop: sends, acknowledgements, keep-alives, reconnections.
    driver: JoinHandle<()>,
}

impl Drop for MqttSink {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl MqttSink {
    /// Connects (the first connection awaited, so that a wrong address or credentials are
    /// said at once). The error never repeats the address.
    pub async fn connect(config: &MqttConfig) -> Result<MqttSink, String> {
        let url = reqwest::Url::parse(&config.url)
            .ok()
            .filter(|u| u.scheme() == "mqtt")
            .ok_or("the MQTT address must be mqtt://[user:password@]host[:port]")?;
        let host = url.host_str().ok_or("the MQTT address has no host")?;
        let id = format!(
            "ovh-cti-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        let mut options = MqttOptions::new(id, host, url.port().unwrap_or(1883));
        options.set_keep_alive(Duration::from_secs(30));
        if !url.username().is_empty() {
            options.set_credentials(url.username(), url.password().unwrap_or_default());
        }
        let (client, mut events) = AsyncClient::new(options, 256);
        loop {
            match tokio::time::timeout(Duration::from_secs(10), events.poll()).await {
                Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => break,
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(format!("cannot connect to the MQTT broker: {e}")),
                Err(_) => return Err("the MQTT broker did not answer in 10 s".into()),
            }
        }
        let driver = tokio::spawn(async move {
            loop {
                if let Err(e) = events.poll().await {
                    tracing::warn!(error = %e, "MQTT connection lost; reconnecting");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        });
        Ok(MqttSink {
            client,
            prefix: config.prefix.clone(),
            driver,
        })
    }
}

impl Sink for MqttSink {
    const TARGET: Target = Target::Mqtt;

    async fn send(&mut self, messages: Vec<Message>) -> Vec<Message> {
        let mut failed = Vec::new();
        for m in messages {
            let topic = m.topic(&self.prefix);
            let sent = self
                .client
                .publish(topic, QoS::AtLeastOnce, m.is_state(), m.payload.clone())
                .await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "could not publish to MQTT");
                failed.push(m);
            }
        }
        failed
    }
}
