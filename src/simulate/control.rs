//! Controls of the simulated account beside its fake of OVH, for tests and demos: what OVH
//! does not offer but a test needs to be sure of. Today one: a queue caller placed now
//! (`POST /_sim/queue-call`), so that a browser test can listen in on, transfer or hang up a
//! live queue call that is certainly there, or show which agents a queue offers a caller to.
//! Served on the simulator's own address only, never by the service.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::rest::steer;
use super::server::Hub;
use super::traffic::PlacedCaller;

/// `POST /_sim/queue-call` with `{"queue": 0, "answered": true, "seconds": 600}`: the caller
/// joins the queue a moment from now; answers `{"caller", "member", "queue"}` (the caller's
/// number, its member id in the queue and the queue's number).
pub(crate) async fn queue_call(State(hub): State<Arc<Hub>>, body: Bytes) -> Response {
    let placed: PlacedCaller = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("bad queue call: {e}\n")).into_response()
        }
    };
    let Some(queue) = hub.account.queues.get(placed.queue) else {
        let n = hub.account.queues.len();
        return (
            StatusCode::BAD_REQUEST,
            format!("no queue {} (0 to {})\n", placed.queue, n - 1),
        )
            .into_response();
    };
    let number = queue.number.clone();
    match steer(&hub, |gen, _, now| Ok(gen.place_caller(placed, now))) {
        Ok((caller, member)) => {
            axum::Json(json!({ "caller": caller, "member": member, "queue": number }))
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}
