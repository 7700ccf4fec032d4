//! The accept loop: each connection takes a slot (or, past the cap, a place in the health
//! lane, or is answered `503` and closed at once), is served HTTP/1.1 by hyper with a header
//! time-out, and gives its slot back when it ends. Failing to accept (out of files) is waited
//! out briefly instead of spinning. On shutdown, connections are asked to finish their
//! request in progress, and waited for a bounded time.

use super::{Resolved, HEALTH_LANE};
use crate::shutdown::stopped;
use crate::tally::Tally;
use crate::telemetry;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use parking_lot::Mutex;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tower::ServiceExt;

/// How long a connection in the health lane has to send its request.
const LANE_HEADER_TIMEOUT: Duration = Duration::from_secs(1);
/// How long connections are waited for at shutdown (live streams end at once; a request in
/// progress finishes).
const STOP_GRACE: Duration = Duration::from_secs(5);
/// The pause after failing to accept for want of files or memory, before trying again.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Places in the health lane one peer address may hold: a single attacker cannot fill it.
const LANE_PER_PEER: usize = 2;

/// What a connection refused past the cap (and the lane) is told before it is closed.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Type: application/json\r\nContent-Length: 56\r\nConnection: close\r\n\r\n{\"error\": \"too many connections; try again in a moment\"}";

/// Serves `router` on `listener` within `limits` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Resolved,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let lane = Arc::new(Lane::default());
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            // Reap finished connections as they end, so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        let (permit, in_lane) = match slots.clone().try_acquire_owned() {
            Ok(permit) => (Slot::Main(permit), false),
            Err(_) => match Lane::enter(&lane, peer.ip()) {
                Some(place) => (Slot::Lane(place), true),
                None => {
                    refuse(stream, limits.max_connections);
                    continue;
                }
            },
        };
        connections.spawn(connection(
            stream,
            peer,
            router.clone(),
            if in_lane {
                LANE_HEADER_TIMEOUT
            } else {
                limits.header_timeout
            },
            in_lane,
            stopping.clone(),
            permit,
        ));
    }
    let _ = stop.send(true);
    let finished = tokio::time::timeout(STOP_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        tracing::info!(
            left = connections.len(),
            "connections still open after the grace period; closed"
        );
    }
    Ok(())
}

/// Out of files (or memory): wait a little, rather than retry in a tight loop. Anything else
/// (a client that reset before it was accepted) is only that connection's problem.
async fn accept_failed(e: std::io::Error) {
    let exhausted = matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    );
    telemetry::AcceptFailed {
        error: &e,
        exhausted,
    }
    .emit();
    if exhausted {
        tokio::time::sleep(ACCEPT_PAUSE).await;
    }
}

/// Past the cap and the lane: a `503` written without waiting (into the socket's buffer,
/// which a new connection always has), then closed.
fn refuse(stream: TcpStream, cap: usize) {
    let _ = stream.try_write(BUSY);
    telemetry::ConnectionRefused { cap }.emit();
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    header_timeout: Duration,
    in_lane: bool,
    mut stopping: watch::Receiver<bool>,
    _slot: Slot,
) {
    // Live updates are small writes that must go out at once.
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let mut req = req.map(axum::body::Body::new);
        req.extensions_mut().insert(ConnectInfo(peer));
        let router = router.clone();
        async move {
            if in_lane && req.uri().path() != "/healthz" {
                return Ok(busy());
            }
            router.oneshot(req).await
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(!in_lane);
    let conn = http.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let ended = tokio::select! {
        ended = conn.as_mut() => ended,
        _ = stopped(&mut stopping) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = ended {
        if e.is_timeout() {
            telemetry::HeaderTimedOut { peer: &peer }.emit();
        } else {
            tracing::debug!(error = %e, "connection ended with an error");
        }
    }
}

/// What a connection holds while it is served, given back when it ends.
enum Slot {
    Main(#[allow(dead_code)] OwnedSemaphorePermit),
    Lane(#[allow(dead_code)] LanePlace),
}

/// The health lane: `HEALTH_LANE` places, at most `LANE_PER_PEER` per peer address.
#[derive(Default)]
struct Lane {
    held: Mutex<Tally<IpAddr>>,
}

struct LanePlace {
    lane: Arc<Lane>,
    peer: IpAddr,
}

impl Lane {
    fn enter(lane: &Arc<Lane>, peer: IpAddr) -> Option<LanePlace> {
        let mut held = lane.held.lock();
        if held.total() >= HEALTH_LANE || held.get(&peer) >= LANE_PER_PEER {
            return None;
        }
        held.add(peer);
        Some(LanePlace {
            lane: lane.clone(),
            peer,
        })
    }
}

impl Drop for LanePlace {
    fn drop(&mut self) {
        self.lane.held.lock().remove_one(&self.peer);
    }
}

fn busy() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        [(axum::http::header::RETRY_AFTER, "5")],
        axum::Json(serde_json::json!({"error": "too many connections; try again in a moment"})),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_peer_cannot_fill_the_health_lane() {
        let lane = Arc::new(Lane::default());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let first = Lane::enter(&lane, a).unwrap();
        let _second = Lane::enter(&lane, a).unwrap();
        assert!(Lane::enter(&lane, a).is_none());
        let others: Vec<_> = (0..HEALTH_LANE - 2)
            .map(|i| Lane::enter(&lane, IpAddr::from([198, 51, 100, i as u8])).unwrap())
            .collect();
        assert!(Lane::enter(&lane, "203.0.113.9".parse().unwrap()).is_none());
        drop(first);
        assert!(Lane::enter(&lane, "203.0.113.9".parse().unwrap()).is_some());
        drop(others);
        assert!(lane.held.lock().keys() <= 2);
    }

    #[test]
    fn the_refusal_written_past_the_cap_is_a_well_formed_answer() {
        let text = std::str::from_utf8(BUSY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(length, body.len());
        serde_json::from_str::<serde_json::Value>(body).unwrap();
    }
}
