//! The web side: the JSON API of `contract.md` and its OpenAPI document (`openapi`), the live stream, the dashboard's pages
//! (`ui`), and the health and metrics endpoints, on axum. Handlers stay thin: they authenticate the caller, parse and check the
//! input, and read the caller's board or the store.

mod admin;
mod agents;
mod api;
mod auth;
mod callbacks;
mod client_ip;
mod error;
mod export;
mod extract;
mod hooks;
mod login;
mod openapi;
mod ovh;
mod own_pop;
mod params;
mod people;
mod reports;
mod scope;
mod stream;
mod stream_pacing;
mod stream_slots;
mod token;
mod ui;
mod walls;

pub use crate::config::parse_trusted_proxy;
pub use client_ip::{client_ip, ClientAddr};
pub use error::ApiError;
pub use login::{LoginGuard, LoginLimiter};
pub use openapi::document as openapi_document;
pub use stream_slots::StreamSlots;

use crate::service::Service;
use axum::http::{header, HeaderValue, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub service: Arc<Service>,
    /// The login's limits, its checks of new tokens, the trusted proxies.
    pub login: Arc<LoginGuard>,
    pub sessions: Arc<auth::SessionCache>,
    /// How many tokens the service may follow before refusing new ones at the login page.
    pub max_tokens: usize,
    /// Add `Secure` to cookies and send `Strict-Transport-Security` (when served over HTTPS,
    /// e.g. behind a proxy).
    pub secure_cookies: bool,
    /// Series per token at `/metrics`.
    pub metrics_per_token: bool,
    /// Live streams open, against their caps.
    pub streams: Arc<StreamSlots>,
    /// OVH's REST API: each organisation's supervisor (issue 11).
    pub supervision: Arc<crate::supervise::Supervision>,
}

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/login", post(login::login))
        .route("/logout", post(auth::logout))
        .route("/lines", get(api::lines))
        .route("/calls", get(api::calls))
        .route("/queues", get(api::queues))
        .route("/history", get(api::history))
        .route("/history.csv", get(api::history_csv))
        .route("/queue-journal", get(api::journal))
        .route("/queue-journal.csv", get(api::journal_csv))
        .route("/callbacks", get(callbacks::list))
        .route("/callbacks.csv", get(callbacks::csv))
        .route(
            "/callbacks/{number}/done",
            axum::routing::put(callbacks::done).delete(callbacks::undone),
        )
        .route("/events", get(api::events))
        .route("/stream", get(stream::stream))
        .route("/settings", get(api::get_settings).put(api::put_settings))
        .route("/reset", post(api::reset))
        .route("/health", get(api::health))
        .route("/me", get(api::me))
        .route("/token", axum::routing::delete(token::remove))
        .route("/webhooks", get(hooks::list).post(hooks::create))
        .route("/webhooks/{id}", axum::routing::delete(hooks::delete))
        .route("/webhooks/{id}/test", post(hooks::test))
        .route("/webhooks/{id}/enable", post(hooks::enable))
        .route("/deliveries", get(hooks::deliveries))
        .route("/reports/calls", get(reports::calls))
        .route("/reports/queues", get(reports::queues))
        .route("/openapi.json", get(openapi::serve))
        .route(
            "/ovh",
            get(ovh::get).post(ovh::connect).delete(ovh::disconnect),
        )
        .route("/ovh/refresh", post(ovh::refresh))
        .route("/ovh/event-token", post(ovh::event_token))
        .route("/agents", get(agents::board))
        .route(
            "/agents/{service}/{id}",
            axum::routing::put(agents::set_status),
        )
        .route(
            "/agents/{service}/{id}/queues/{queue}",
            axum::routing::put(agents::join_queue).delete(agents::leave_queue),
        )
        .route("/click2call", post(agents::click2call))
        .route("/live-calls", get(agents::live_calls))
        .route(
            "/live-calls/{service}/{queue}/{call}/{action}",
            post(agents::call_action),
        )
        .route("/users", get(people::list).post(people::create))
        .route(
            "/users/{id}",
            axum::routing::put(people::update).delete(people::delete),
        )
        .route(
            "/users/{id}/password",
            axum::routing::put(people::set_password),
        )
        .route("/me/password", axum::routing::put(people::own_password))
        .route(
            "/me/screen-pop",
            get(own_pop::get).put(own_pop::put).delete(own_pop::delete),
        )
        .route(
            "/me/totp",
            post(people::totp_begin)
                .put(people::totp_confirm)
                .delete(people::totp_off),
        )
        .route("/sessions", get(people::sessions))
        .route("/sessions/{id}", axum::routing::delete(people::end_session))
        .route("/audit", get(people::audit_log))
        .route("/org", get(people::get_org).put(people::put_org))
        .route(
            "/org/tokens",
            get(people::list_tokens).post(people::attach_token),
        )
        .route("/me/token", axum::routing::put(people::switch_token))
        .route("/audit.csv", get(people::audit_csv))
        .route("/wall-links", get(walls::list).post(walls::create))
        .route("/admin/tokens", get(admin::list).post(admin::add))
        .route("/admin/tokens/{id}", axum::routing::delete(admin::remove))
        .route("/admin/tokens/{id}/disable", post(admin::disable))
        .route("/admin/tokens/{id}/enable", post(admin::enable))
        .route("/wall-links/{id}", axum::routing::delete(walls::revoke))
        .fallback(api::not_found);
    let mut router = Router::new()
        .nest("/api", api)
        .merge(ui::routes())
        .route("/wall/{key}", get(walls::open))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn(security_headers));
    if state.secure_cookies {
        router = router.layer(middleware::from_fn(strict_transport));
    }
    router.with_state(state)
}

/// Readiness, for a load balancer or systemd: 200 once every token known at start has its
/// follower; 503 with how many are pending before, and while the service stops. (`/healthz`
/// is liveness: 200 as long as the process serves.)
async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    use axum::response::IntoResponse;
    let service = &state.service;
    let (pending, stopping) = (service.pending(), service.stopping());
    let ready = pending == 0 && !stopping;
    let status = if ready {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "ready": ready, "pending": pending, "stopping": stopping,
        "tokens": service.followed_count(),
    });
    (status, axum::Json(body)).into_response()
}

/// The counters, then gauges of the followed tokens' feeds: counts by state (what stays small
/// with ten thousand tokens), and series per token only when asked for.
async fn metrics(axum::extract::State(state): axum::extract::State<AppState>) -> String {
    let service = &state.service;
    let mut out = crate::telemetry::COUNTERS.render();
    let now = service.clock.now();
    let counts = service.health.counts(now);
    crate::telemetry::render_feeds(&mut out, &counts, service.pending());
    if state.metrics_per_token {
        crate::telemetry::render_per_token(&mut out, &service.health.all(now));
    }
    out
}

/// With `--secure-cookies` the dashboard is served over HTTPS: browsers are told to come back
/// over HTTPS only, so that no one on the way can strip it (and read the session cookie).
async fn strict_transport(req: Request<axum::body::Body>, next: Next) -> Response {
    let mut res = next.run(req).await;
    res.headers_mut().insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    res
}

/// Headers every answer carries: no sniffing, no framing by other sites, no referrer leak,
/// and nothing authenticated kept in a cache.
async fn security_headers(req: Request<axum::body::Body>, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    res
}
