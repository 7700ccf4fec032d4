//! Wiring: `Application::build` binds the listener first (so a busy port fails at once), opens
//! the store, starts the ingest thread and rebuilds every known token's board; `run` then
//! follows the feeds, ticks, and serves HTTP until told to stop, and stops cleanly: the
//! followers finish committing what they received, the ingest thread drains and snapshots.

use crate::clock::SharedClock;
use crate::config::Config;
use crate::feed::{self, FeedContext, HealthBoard, Transport};
use crate::hooks::{guard::Guard, Hooks};
use crate::hub::Hub;
use crate::ingest::{self, Boards, IngestError, IngestHandle};
use crate::store::{self, Readers};
use crate::token::{Token, TokenId};
use crate::web::{self, AppState, LoginLimiter};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Why the service could not start: each a one-line reason.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: String, reason: String },
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
    #[error("cannot start following a token: {0}")]
    Ingest(#[from] IngestError),
}

/// Everything the running service shares: boards, store readers, the ingest handle, the hub,
/// feed health, and the followed tokens.
pub struct Service {
    pub boards: Arc<Boards>,
    pub readers: Arc<Readers>,
    pub ingest: IngestHandle,
    pub hub: Hub,
    pub health: Arc<HealthBoard>,
    pub clock: SharedClock,
    /// Screen-pop and webhook deliveries (the outbox worker).
    pub hooks: Arc<Hooks>,
    pub allow_new_tokens: bool,
    feed: FeedContext,
    followed: Mutex<HashMap<TokenId, Token>>,
    follow_lock: tokio::sync::Mutex<()>,
    followers: Mutex<Vec<JoinHandle<()>>>,
    shutdown: watch::Sender<bool>,
}

impl Service {
    pub fn follows(&self, id: &TokenId) -> bool {
        self.followed.lock().contains_key(id)
    }

    pub fn followed_count(&self) -> usize {
        self.followed.lock().len()
    }

    pub fn hint(&self, id: &TokenId) -> Option<String> {
        self.followed.lock().get(id).map(Token::hint)
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Starts following `token` (once: a token already followed is left alone).
    pub async fn follow(&self, token: Token, source: &'static str) -> Result<(), IngestError> {
        let _one_at_a_time = self.follow_lock.lock().await;
        let id = token.id();
        if self.follows(&id) {
            return Ok(());
        }
        let session = self.ingest.add_token(token.clone(), source).await?;
        self.followed.lock().insert(id, token.clone());
        let task = tokio::spawn(feed::follow(
            self.feed.clone(),
            token,
            session,
            self.shutdown.subscribe(),
        ));
        self.followers.lock().push(task);
        Ok(())
    }
}

pub struct Application {
    listener: TcpListener,
    service: Arc<Service>,
    ingest_thread: std::thread::JoinHandle<()>,
    config: Config,
}

impl Application {
    pub async fn build(config: Config, clock: SharedClock) -> Result<Application, StartError> {
        let listener = TcpListener::bind(&config.listen)
            .await
            .map_err(|e| StartError::Listen {
                addr: config.listen.clone(),
                reason: e.to_string(),
            })?;
        let (writer, readers) = store::open(&config.db)?;
        let stored = writer.tokens()?;
        let boards = Arc::new(Boards::default());
        let hub = Hub::new(1024);
        let (ingest, ingest_thread) = ingest::start(
            writer,
            boards.clone(),
            hub.clone(),
            clock.clone(),
            config.expiry,
        );
        let readers = Arc::new(readers);
        let hooks = Hooks::new(
            readers.clone(),
            ingest.clone(),
            clock.clone(),
            Guard::new(config.webhook_allow.clone()),
            config.webhook_timeout,
        )
        .map_err(StartError::Client)?;
        let transport = Transport::new(&config.upstream, config.api, config.poll_timeout)
            .map_err(StartError::Client)?;
        let health = Arc::new(HealthBoard::default());
        let feed = FeedContext::new(
            transport,
            config.backoff,
            ingest.clone(),
            health.clone(),
            clock.clone(),
        );
        let service = Arc::new(Service {
            boards,
            readers,
            ingest,
            hub,
            health,
            clock,
            hooks: Arc::new(hooks),
            allow_new_tokens: !config.no_new_tokens,
            feed,
            followed: Mutex::new(HashMap::new()),
            follow_lock: tokio::sync::Mutex::new(()),
            followers: Mutex::new(Vec::new()),
            shutdown: watch::channel(false).0,
        });
        // Configured tokens first, then those added at the login page in earlier runs. A
        // failure here is the database's (it is written as each token is added): name it.
        let db_error = |e: IngestError| match e {
            IngestError::Store(e) => StartError::Store(store::open_error(&config.db, e)),
            other => StartError::Ingest(other),
        };
        for token in &config.tokens {
            service
                .follow(token.clone(), "config")
                .await
                .map_err(db_error)?;
        }
        for stored in stored {
            if stored.source == "login" && !config.no_new_tokens {
                service
                    .follow(stored.token, "login")
                    .await
                    .map_err(db_error)?;
            }
        }
        Ok(Application {
            listener,
            service,
            ingest_thread,
            config,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn service(&self) -> Arc<Service> {
        self.service.clone()
    }

    /// Serves until `shutdown` resolves, then stops without losing anything received.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Application {
            listener,
            service,
            ingest_thread,
            config,
        } = self;
        let state = AppState {
            service: service.clone(),
            limiter: Arc::new(LoginLimiter::new(
                config.login_burst,
                config.login_per_minute,
            )),
            sessions: Arc::default(),
            max_tokens: config.max_tokens,
            secure_cookies: config.secure_cookies,
        };
        let retention = crate::retention::spawn(&service, config.retention);
        let ticker = {
            let ingest = service.ingest.clone();
            let mut stop = service.shutdown_signal();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(config.tick);
                loop {
                    tokio::select! {
                        _ = every.tick() => {
                            if let Err(e) = ingest.tick().await {
                                tracing::warn!(error = %e, "tick failed");
                            }
                        }
                        _ = stopped(&mut stop) => return,
                    }
                }
            })
        };
        let deliveries = tokio::spawn(service.hooks.clone().run(service.shutdown_signal()));
        let app = web::router(state).into_make_service_with_connect_info::<SocketAddr>();
        let mut stop = service.shutdown_signal();
        let signal_service = service.clone();
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                tokio::select! {
                    _ = shutdown => {}
                    _ = stopped(&mut stop) => {}
                }
                signal_service.shutdown.send_replace(true);
            })
            .await;
        // Followers finish committing the poll in hand; then the ingest thread drains.
        service.shutdown.send_replace(true);
        let followers: Vec<JoinHandle<()>> = std::mem::take(&mut *service.followers.lock());
        for f in followers {
            let _ = f.await;
        }
        let _ = ticker.await;
        let _ = deliveries.await;
        let _ = retention.await;
        service.ingest.shutdown().await;
        let _ = tokio::task::spawn_blocking(move || ingest_thread.join()).await;
        tracing::info!("stopped cleanly");
        served
    }
}

/// Resolves once the shutdown signal is raised (or its sender is gone).
pub async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// How often expiry, midnight resets and snapshots are checked.
pub const TICK: Duration = Duration::from_secs(1);
