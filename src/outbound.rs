//! What went wrong with a request this service sent (to OVH's feed, to OVH's REST API), in
//! words a person reads in the health report or an error message. reqwest's own messages
//! carry the URL — the feed's holds the token — so callers drop it (`without_url`) first.

/// The kind of failure: timed out, no connection, an answer cut short, or any other.
pub fn failure_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "connection cut while reading the answer"
    } else {
        "request failed"
    }
}
