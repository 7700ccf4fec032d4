//! Wiring: `Application::build` binds the listener first (so a busy port fails at once), opens
//! the store, starts the ingest thread and sets the tokens known at start to be followed in
//! the background (`startup`: the listener answers at once, whatever their number); `run`
//! then ticks and serves HTTP until told to stop, and stops cleanly: the followers finish
//! committing what they received, the ingest thread drains and snapshots.

use crate::clock::SharedClock;
use crate::config::Config;
use crate::feed::{Checker, FeedContext, HealthBoard, Transport};
use crate::hooks::{guard::Guard, Hooks};
use crate::hub::Hub;
use crate::ingest::{self, Boards, IngestError};
use crate::shutdown::stopped;
use crate::store;
use crate::web::{self, AppState, LoginGuard, StreamSlots};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

pub use crate::service::Service;

/// Why the service could not start: each a one-line reason.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {reason}{}", busy_hint(reason))]
    Listen { addr: String, reason: String },
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
    #[error("cannot start following a token: {0}")]
    Ingest(#[from] IngestError),
}

/// What to do about a busy address: `serve`, `demo` and `simulate` all default to port 8080.
fn busy_hint(reason: &str) -> &'static str {
    if reason.contains("in use") {
        " (another ovh-cti — `simulate` included, which listens there by default — or another \
         program has it): choose another address with --listen (OVH_CTI_LISTEN)"
    } else {
        ""
    }
}

pub struct Application {
    listener: TcpListener,
    service: Arc<Service>,
    supervision: Arc<crate::supervise::Supervision>,
    ingest_thread: std::thread::JoinHandle<()>,
    /// Following the tokens known at start (see `startup`).
    starting: tokio::task::JoinHandle<()>,
    /// Publishing for integrators, when configured (see `publish`).
    publishers: Vec<tokio::task::JoinHandle<()>>,
    /// The leases this instance holds, on PostgreSQL (see `cluster`).
    leases: Option<Arc<crate::cluster::Leases>>,
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
        let (writer, readers) = store::open_with(&config.db, config.db_cache)?;
        // A demo never writes into a real installation's database, nor `serve` into a demo's.
        let (purpose, demo_tokens) = if config.demo {
            let ids = config.tokens.iter().map(|t| t.id().as_str().to_string());
            (store::Purpose::Demo, ids.collect())
        } else {
            (store::Purpose::Real, Default::default())
        };
        writer.claim(&config.db, purpose, &demo_tokens)?;
        let stored = writer.tokens()?;
        let boards = Arc::new(Boards::default());
        let hub = Hub::new(1024);
        let readers = Arc::new(readers);
        // Integrators' NATS stream and MQTT broker: connected in the background, never in the
        // way of a start.
        let (outlet, mut publishers) =
            crate::publish::start(config.nats.clone(), config.mqtt.clone(), readers.clone());
        let (ingest, ingest_thread) = ingest::start(
            writer,
            boards.clone(),
            hub.clone(),
            clock.clone(),
            config.expiry,
            outlet,
        );
        let hooks = Hooks::new(
            readers.clone(),
            ingest.clone(),
            clock.clone(),
            Guard::new(config.webhook_allow.clone()),
            config.webhook_timeout,
        )
        .map_err(StartError::Client)?;
        let transport = Transport::new(&config.upstream, config.api, config.poll_timeout)
            .map_err(StartError::Client)?
            .with_max_answer(config.max_answer_bytes);
        let health = Arc::new(HealthBoard::default());
        let mut feed = FeedContext::new(
            transport,
            config.backoff,
            ingest.clone(),
            health.clone(),
            clock.clone(),
        );
        feed.pause_after = config.pause_after;
        let checker = Checker::new(
            &config.upstream,
            config.api,
            config.poll_timeout,
            config.login_check_hold,
            clock.clone(),
        )
        .map_err(StartError::Client)?
        .with_max_answer(config.max_answer_bytes);
        let service = Arc::new(Service::new(
            boards,
            readers,
            ingest,
            hub,
            health,
            clock,
            Arc::new(hooks),
            !config.no_new_tokens,
            feed,
            checker,
        ));
        // A failure here is the database's: name it.
        let db_error = |e: IngestError| match e {
            IngestError::Store(e) => StartError::Store(store::open_error(&config.db, e)),
            other => StartError::Ingest(other),
        };
        service.finish_removals().await.map_err(db_error)?;
        // On PostgreSQL, instances given the same database share its tokens: this one follows
        // those whose lease it takes, and shows the others from the store (`cluster`).
        let leases = if let Ok(store::Location::Postgres(url)) = store::Location::of(&config.db) {
            let leases = Arc::new(crate::cluster::Leases::new(config.lease, url));
            let announcer = config.nats.as_ref().map(|n| {
                let (announcer, task) = crate::cluster::fanout::start(
                    n.url.clone(),
                    n.prefix.clone(),
                    service.readers.clone(),
                    leases.clone(),
                );
                publishers.push(task);
                Box::new(move |token: &crate::token::TokenId, seq| announcer.moved(token, seq))
                    as crate::ingest::Announce
            });
            service
                .ingest
                .share_with_instances(leases.instance().to_string(), config.lease, announcer)
                .await?;
            service.share(leases.clone());
            tracing::info!(
                instance = leases.instance(),
                lease_s = config.lease.as_secs_f64(),
                "sharing the tokens with the other instances on this database"
            );
            Some(leases)
        } else {
            None
        };
        // Configured tokens first, then those added at the login page in earlier runs: followed
        // in the background, so that the listener answers at once whatever their number.
        // Tokens an operator added (`ovh-cti tokens add`, the admin API) are followed too.
        let mut tokens: Vec<_> = config
            .tokens
            .iter()
            .map(|t| (t.clone(), "config"))
            .collect();
        for s in stored {
            if s.source == crate::service::OPERATOR {
                tokens.push((s.token, crate::service::OPERATOR));
            } else if s.source == "login" && !config.no_new_tokens {
                tokens.push((s.token, "login"));
            }
        }
        service.set_configured(config.tokens.iter().map(|t| t.id()));
        let starting = crate::startup::spawn(
            service.clone(),
            crate::startup::Plan {
                tokens,
                installation: config.tokens.iter().map(|t| t.id()).collect(),
            },
        );
        // OVH's REST API, for the organisations that connected an account.
        let supervision = crate::supervise::Supervision::start(
            service.clone(),
            &config.ovh_api,
            config.ovh_api_rate,
            config.ovh_keys.clone(),
        )
        .await
        .map_err(db_error)?;
        Ok(Application {
            listener,
            service,
            supervision,
            ingest_thread,
            starting,
            publishers,
            leases,
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
            supervision,
            ingest_thread,
            starting,
            publishers,
            leases,
            config,
        } = self;
        let limits = server_limits(&config);
        let state = AppState {
            service: service.clone(),
            login: Arc::new(LoginGuard::new(&config)),
            sessions: Arc::default(),
            max_tokens: config.max_tokens,
            secure_cookies: config.secure_cookies,
            metrics_per_token: config.metrics_per_token,
            supervision,
            streams: Arc::new(StreamSlots::new(
                limits.streams_per_session,
                limits.streams_per_address,
                limits.max_streams,
            )),
        };
        let reconciler = service.spawn_reconciler();
        let cluster: Vec<_> = leases
            .iter()
            .flat_map(|l| {
                [
                    crate::cluster::spawn_keeper(service.clone(), l.clone()),
                    crate::cluster::spawn_mirror(service.clone(), l.clone()),
                ]
            })
            .collect();
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
        let successes = service
            .successes()
            .spawn_writer(service.ingest.clone(), service.shutdown_signal());
        let mut stop = service.shutdown_signal();
        let signal_service = service.clone();
        let served = crate::net::serve(listener, web::router(state), limits, async move {
            tokio::select! {
                _ = shutdown => {}
                _ = stopped(&mut stop) => {}
            }
            signal_service.stop();
        })
        .await;
        // Followers finish committing the poll in hand; then the ingest thread drains.
        service.stop();
        let _ = starting.await;
        for f in service.take_followers() {
            let _ = f.await;
        }
        for task in cluster {
            let _ = task.await;
        }
        // After the followers: their last successes are in.
        let _ = successes.await;
        service.successes().write(&service.ingest).await;
        let _ = ticker.await;
        let _ = reconciler.await;
        let _ = deliveries.await;
        let _ = retention.await;
        service.ingest.shutdown().await;
        let _ = tokio::task::spawn_blocking(move || ingest_thread.join()).await;
        // Everything is committed (the last snapshots too) and nothing more is written: the
        // others may take the tokens at once.
        if let Some(leases) = &leases {
            if let Err(e) = leases.leave().await {
                tracing::warn!(error = %e, "could not give the leases back; the other instances take the tokens when they run out");
            }
        }
        // The ingest thread has handed over its last batches: they are published if the
        // brokers answer soon, and dropped (counted) otherwise.
        for mut publisher in publishers {
            if tokio::time::timeout(PUBLISH_GRACE, &mut publisher)
                .await
                .is_err()
            {
                publisher.abort();
                tracing::warn!("stopped before every message was published");
            }
        }
        tracing::info!("stopped cleanly");
        served
    }
}

/// How long a stop waits for the last messages to reach each broker.
const PUBLISH_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// The connection limits in force: the open-files limit raised as far as it goes, then the
/// caps sized below it (`net::Limits::resolve`), said once in the log.
fn server_limits(config: &Config) -> crate::net::Resolved {
    let files = crate::net::raise_open_files_limit();
    let open_files = files.map_or(1024, |(soft, _)| soft);
    let limits = config.server.resolve(open_files);
    tracing::info!(
        open_files,
        max_connections = limits.max_connections,
        max_streams = limits.max_streams,
        header_timeout_s = limits.header_timeout.as_secs_f64(),
        "connection limits"
    );
    limits
}
