//! The hub: live updates for the dashboards. The ingest thread publishes one `Update` per
//! committed batch, already rendered as Server-Sent Events text, so that a burst of events
//! costs one serialisation however many clients listen; each client then writes whatever
//! has piled up in one socket write (see `web::stream`).

use crate::token::TokenId;
use bytes::Bytes;
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Changes for one token, as SSE text (`event: …\ndata: …\n\n` messages).
#[derive(Debug)]
pub struct Update {
    pub token: TokenId,
    pub sse: Bytes,
}

#[derive(Clone)]
pub struct Hub {
    tx: broadcast::Sender<Arc<Update>>,
}

impl Hub {
    /// `capacity` updates may wait for a slow client before it is told to resynchronise.
    pub fn new(capacity: usize) -> Hub {
        Hub {
            tx: broadcast::channel(capacity).0,
        }
    }

    pub fn publish(&self, update: Update) {
        // No subscriber is not an error: nobody is watching.
        let _ = self.tx.send(Arc::new(update));
    }

    /// Whether any client listens: when none does, updates need not even be rendered.
    pub fn has_subscribers(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Update>> {
        self.tx.subscribe()
    }
}

/// Appends one SSE message to `out`. JSON never contains a raw newline, so one `data:` line
/// carries it whole.
pub fn frame(out: &mut String, kind: &str, data: &impl Serialize) {
    out.push_str("event: ");
    out.push_str(kind);
    out.push_str("\ndata: ");
    out.push_str(&serde_json::to_string(data).unwrap_or_else(|_| "null".into()));
    out.push_str("\n\n");
}
