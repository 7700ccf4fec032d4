//! The command line: `demo`, `serve` and `simulate`, as `contract.md` describes them,
//! `backup`, `tokens` (list, pause, resume, remove followed tokens: `cli::tokens`), `users`,
//! and `migrate` (an SQLite installation moved to PostgreSQL: `store::migrate`). Every
//! flag has an environment variable, and its help says its default; flags win. A flag clap
//! does not know gets clap's whole message (with its suggestion); a bad value, an unusable
//! database or a busy port ends the program with a one-line reason; both with a non-zero
//! status.

use crate::app::Application;
use crate::clock::SystemClock;
use crate::config::{Config, ConfigError, FileConfig, Overrides};
use crate::feed::Api;
use crate::simulate::{Scenario, SimConfig, Simulator};
use crate::store::{self, backup::backup};
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

mod reload;
mod tokens;
mod users;

/// ovh-cti: a real-time call dashboard and event hub for OVHcloud telephony.
#[derive(Debug, Parser)]
#[command(name = "ovh-cti", version, about, arg_required_else_help = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole service on a built-in simulated OVH feed: no account, no network.
    Demo(DemoArgs),
    /// The service on the real OVH feed (or on the upstream given).
    Serve(ServeArgs),
    /// A stand-alone fake of OVH's event API (v1 long polling and v2) with realistic traffic.
    Simulate(SimulateArgs),
    /// A consistent copy of the database, safe to take while the service runs.
    Backup(BackupArgs),
    /// List, pause, resume or remove the followed tokens (on the database file; a running
    /// service follows suit within seconds).
    Tokens(tokens::TokensArgs),
    /// Add, list, disable or enable user accounts, or set a password (on the database file).
    Users(users::UsersArgs),
    /// Copy the SQLite database, history and all, into an empty PostgreSQL database, and check
    /// the copy (docs/scale-out.md).
    Migrate(MigrateArgs),
}

/// Flags that `demo` and `serve` share.
#[derive(Debug, Clone, Args)]
pub struct ServiceArgs {
    /// Address to serve the dashboard and API on (default 127.0.0.1:8080).
    #[arg(long, env = "OVH_CTI_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// SQLite database file, created if missing (default ovh-cti.db), or a PostgreSQL address
    /// (postgres://HOST:PORT/DB?user=…, docs/scale-out.md).
    #[arg(long, env = "OVH_CTI_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// TOML configuration file, read before environment variables and flags (default: none).
    #[arg(long, env = "OVH_CTI_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// MiB the database's page caches may take in all, whatever its size (default 96: two
    /// thirds for the writer, the rest shared by the readers; 4 to 65536).
    #[arg(long, env = "OVH_CTI_DB_CACHE_MB", value_name = "MIB")]
    pub db_cache_mb: Option<u64>,
    /// Seconds a ringing call may go unheard of before it is ended as unknown (default 600).
    #[arg(long, env = "OVH_CTI_RINGING_TIMEOUT", value_name = "SECONDS")]
    pub ringing_timeout: Option<f64>,
    /// Seconds a caller may wait in a queue unheard of before it is ended as unknown (default
    /// 7200).
    #[arg(long, env = "OVH_CTI_WAITING_TIMEOUT", value_name = "SECONDS")]
    pub waiting_timeout: Option<f64>,
    /// Seconds a conversation may go unheard of before it is ended as unknown (default 14400).
    #[arg(long, env = "OVH_CTI_TALKING_TIMEOUT", value_name = "SECONDS")]
    pub talking_timeout: Option<f64>,
    /// Mark session cookies Secure (when the dashboard is served over HTTPS, e.g. behind a proxy).
    #[arg(long, env = "OVH_CTI_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Also give /metrics a few series per token (its feed's state, polls, events): with
    /// thousands of tokens that is thousands of series, so only counts by state by default.
    #[arg(long, env = "OVH_CTI_METRICS_PER_TOKEN")]
    pub metrics_per_token: bool,
    /// Let screen pops and webhooks reach this non-public range, e.g. a CRM on the LAN
    /// (repeatable; CIDR such as 192.168.1.0/24, or one address; default: none, only public
    /// addresses).
    #[arg(
        long = "webhook-allow",
        env = "OVH_CTI_WEBHOOK_ALLOW",
        value_delimiter = ',',
        value_name = "CIDR"
    )]
    pub webhook_allow: Vec<String>,
    /// Days a finished screen-pop or webhook delivery stays in the outbox (default 30);
    /// pending deliveries are never pruned.
    #[arg(
        long,
        env = "OVH_CTI_RETAIN_OUTBOX_DAYS",
        value_name = "DAYS",
        allow_negative_numbers = true
    )]
    pub retain_outbox_days: Option<f64>,
    /// Days a line of the delivery log is kept (default 30).
    #[arg(
        long,
        env = "OVH_CTI_RETAIN_DELIVERIES_DAYS",
        value_name = "DAYS",
        allow_negative_numbers = true
    )]
    pub retain_deliveries_days: Option<f64>,
    /// Days raw events are kept, except those a board still needs to be rebuilt (default:
    /// every event is kept).
    #[arg(
        long,
        env = "OVH_CTI_RETAIN_EVENTS_DAYS",
        value_name = "DAYS",
        allow_negative_numbers = true
    )]
    pub retain_events_days: Option<f64>,
    /// A reverse proxy whose X-Forwarded-For / Forwarded headers name the client (repeatable;
    /// CIDR such as 10.0.0.0/8, or one address). Without it (the default) those headers are
    /// ignored.
    #[arg(
        long = "trusted-proxy",
        env = "OVH_CTI_TRUSTED_PROXY",
        value_delimiter = ',',
        value_name = "CIDR"
    )]
    pub trusted_proxies: Vec<String>,
    /// With several instances on one PostgreSQL database: seconds a token's lease lasts
    /// unrenewed, so about the longest a dead instance's tokens go unfollowed (default 6; 1 to
    /// 300; docs/scale-out.md).
    #[arg(long, env = "OVH_CTI_LEASE_S", value_name = "SECONDS")]
    pub lease_s: Option<f64>,
    /// Days OVH may refuse a followed token before it is paused (default 7).
    #[arg(
        long,
        env = "OVH_CTI_PAUSE_AFTER_DAYS",
        value_name = "DAYS",
        allow_negative_numbers = true
    )]
    pub pause_after_days: Option<f64>,
    /// Connections served at once (default: from the open-files limit, which is raised to
    /// its hard limit at start, keeping files for the feed and the store; at most 4096).
    #[arg(long, env = "OVH_CTI_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<u64>,
    /// Seconds a client has to send a request's headers, or to start its next request on a
    /// kept-alive connection (default 10).
    #[arg(
        long = "header-timeout",
        env = "OVH_CTI_HEADER_TIMEOUT",
        value_name = "SECONDS"
    )]
    pub header_timeout_s: Option<f64>,
    /// Live streams (open dashboard pages) one login session may hold (default 8).
    #[arg(long, env = "OVH_CTI_MAX_STREAMS_PER_SESSION", value_name = "N")]
    pub max_streams_per_session: Option<u64>,
    /// Live streams one client address may hold (default 64).
    #[arg(long, env = "OVH_CTI_MAX_STREAMS_PER_ADDRESS", value_name = "N")]
    pub max_streams_per_address: Option<u64>,
    /// OVH's REST API base address, for agents, click-to-call and live-call control (default
    /// https://eu.api.ovh.com/1.0).
    #[arg(long = "ovh-api", env = "OVH_CTI_OVH_API", value_name = "URL")]
    pub ovh_api: Option<String>,
    /// The OVH application key of the installation's organisation (with the secret and the
    /// consumer key; default: none, an admin connects the account in the dashboard).
    #[arg(
        long = "ovh-app-key",
        env = "OVH_CTI_APP_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub ovh_app_key: Option<String>,
    /// The OVH application secret (default: none; prefer the environment variable, a flag
    /// shows in `ps`). Never logged or shown.
    #[arg(
        long = "ovh-app-secret",
        env = "OVH_CTI_APP_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub ovh_app_secret: Option<String>,
    /// The OVH consumer key, already validated (default: none; prefer the environment
    /// variable). Never logged or shown.
    #[arg(
        long = "ovh-consumer-key",
        env = "OVH_CTI_CONSUMER_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub ovh_consumer_key: Option<String>,
    /// Requests a minute the service makes to OVH's REST API per consumer key (default 40;
    /// OVH calls 60 safe).
    #[arg(long = "ovh-api-rate", env = "OVH_CTI_OVH_API_RATE", value_name = "N")]
    pub ovh_api_rate: Option<u32>,
    /// Publish the events and states of the organisations that ask for it to this NATS
    /// server's JetStream, e.g. nats://127.0.0.1:4222 (default: none).
    #[arg(long, env = "OVH_CTI_NATS", value_name = "URL", hide_env_values = true)]
    pub nats: Option<String>,
    /// The first token of the published subjects (default ovhcti: ovhcti.<org>.line.<number>).
    #[arg(long, env = "OVH_CTI_NATS_PREFIX", value_name = "NAME")]
    pub nats_prefix: Option<String>,
    /// The JetStream stream holding them, created if missing (default OVHCTI).
    #[arg(long, env = "OVH_CTI_NATS_STREAM", value_name = "NAME")]
    pub nats_stream: Option<String>,
    /// Publish the events and states of the organisations that ask for it to this MQTT
    /// broker, e.g. mqtt://127.0.0.1:1883 (default: none).
    #[arg(long, env = "OVH_CTI_MQTT", value_name = "URL", hide_env_values = true)]
    pub mqtt: Option<String>,
    /// The topics' first level (default ovhcti: ovhcti/<org>/line/<number>/state).
    #[arg(long, env = "OVH_CTI_MQTT_PREFIX", value_name = "NAME")]
    pub mqtt_prefix: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// An OVH event token to follow (repeatable; default: none, tokens come from the login
    /// page). Never logged or shown.
    #[arg(
        long = "token",
        env = "OVH_CTI_TOKENS",
        value_delimiter = ',',
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub tokens: Vec<String>,
    /// Base address of OVH's event API, e.g. a fake to test with (default
    /// https://events.voip.ovh.net).
    #[arg(long, env = "OVH_CTI_UPSTREAM", value_name = "URL")]
    pub upstream: Option<String>,
    /// Which version of the event API to use (default v1).
    #[arg(long, env = "OVH_CTI_API", value_enum)]
    pub api: Option<Api>,
    /// The largest answer read from OVH, in bytes (default 16 MiB); a larger one is dropped
    /// with an "answer too large" error and asked for again later.
    #[arg(long, env = "OVH_CTI_MAX_ANSWER_BYTES", value_name = "BYTES")]
    pub max_answer_bytes: Option<u64>,
    /// Refuse tokens typed at the login page that are not configured.
    #[arg(long, env = "OVH_CTI_NO_NEW_TOKENS")]
    pub no_new_tokens: bool,
    #[command(flatten)]
    pub service: ServiceArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Seed of the simulated traffic.
    #[arg(long, env = "OVH_CTI_SEED", default_value_t = 42)]
    pub seed: u64,
    /// Mean number of calls started per minute.
    #[arg(long, env = "OVH_CTI_RATE", default_value_t = 6.0)]
    pub rate: f64,
    /// The kind of day: normal (a well-run call centre), busy (2.5× the calls, long waits),
    /// calm (half the calls) or outage (OVH's feed failing half its answers).
    #[arg(long, env = "OVH_CTI_SCENARIO", value_enum, default_value_t = Scenario::Normal)]
    pub scenario: Scenario,
    #[command(flatten)]
    pub service: ServiceArgs,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Address to serve the fake event API on.
    #[arg(
        long,
        env = "OVH_CTI_LISTEN",
        default_value = "127.0.0.1:8080",
        value_name = "ADDR"
    )]
    pub listen: String,
    /// Seed of the simulated account and traffic.
    #[arg(long, env = "OVH_CTI_SEED", default_value_t = 42)]
    pub seed: u64,
    /// Mean number of calls started per minute.
    #[arg(long, env = "OVH_CTI_RATE", default_value_t = 6.0)]
    pub rate: f64,
    /// Seconds a long poll is held open when there is nothing to say.
    #[arg(long, env = "OVH_CTI_HOLD", default_value_t = 25.0)]
    pub hold: f64,
    /// Probability that a poll carrying events fails (502 or a cut body), to exercise clients
    /// (default 0, or 0.5 with --scenario outage).
    #[arg(long, env = "OVH_CTI_FAULT_RATE")]
    pub fault_rate: Option<f64>,
    /// The kind of day: normal (a well-run call centre), busy (2.5× the calls, long waits),
    /// calm (half the calls) or outage (half the answers failing).
    #[arg(long, env = "OVH_CTI_SCENARIO", value_enum, default_value_t = Scenario::Normal)]
    pub scenario: Scenario,
    /// Signed requests a consumer key may make to the simulated REST API in a minute before
    /// it answers 429 (OVH's guidance: 60).
    #[arg(
        long = "rest-rate",
        env = "OVH_CTI_SIM_REST_RATE",
        default_value_t = 60
    )]
    pub rest_rate: usize,
}

/// Which database file a maintenance command works on: `--db`, else the `db` of `--config`,
/// else the default.
#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// The database (default: the `db` of --config, else ovh-cti.db). Never created.
    #[arg(long, env = "OVH_CTI_DB", value_name = "PATH", global = true)]
    pub db: Option<PathBuf>,
    /// TOML configuration file to read the database's path from (default: none).
    #[arg(long, env = "OVH_CTI_CONFIG", value_name = "PATH", global = true)]
    pub config: Option<PathBuf>,
}

impl DatabaseArgs {
    pub fn path(self) -> Result<PathBuf, ConfigError> {
        let file = config_file(self.config.as_deref())?;
        Ok(self.db.or(file.db).unwrap_or(Config::default().db))
    }
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The file to write: a new one (an existing file is never overwritten).
    #[arg(value_name = "OUT")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The SQLite file to copy, as `sqlite:PATH` or a path (required, no default). Read in one
    /// consistent snapshot; only its schema is brought up to date.
    #[arg(long, env = "OVH_CTI_MIGRATE_FROM", value_name = "SQLITE")]
    pub from: String,
    /// The PostgreSQL database to fill, postgres://HOST:PORT/DB?user=… (required, no default):
    /// its tables are built if missing, and it must hold no tokens or events yet.
    #[arg(
        long,
        env = "OVH_CTI_MIGRATE_TO",
        value_name = "POSTGRES",
        hide_env_values = true
    )]
    pub to: String,
}

/// The `--config` file, if one is named.
fn config_file(path: Option<&Path>) -> Result<FileConfig, ConfigError> {
    path.map_or_else(|| Ok(FileConfig::default()), FileConfig::load)
}

fn service_config(args: ServiceArgs, mut overrides: Overrides) -> Result<Config, ConfigError> {
    let file = config_file(args.config.as_deref())?;
    overrides.listen = args.listen;
    overrides.db = args.db;
    overrides.db_cache_mb = args.db_cache_mb;
    overrides.secure_cookies = args.secure_cookies;
    overrides.metrics_per_token = args.metrics_per_token;
    overrides.ringing_timeout_s = args.ringing_timeout;
    overrides.waiting_timeout_s = args.waiting_timeout;
    overrides.talking_timeout_s = args.talking_timeout;
    overrides.webhook_allow = args.webhook_allow;
    overrides.retain_outbox_days = args.retain_outbox_days;
    overrides.retain_deliveries_days = args.retain_deliveries_days;
    overrides.retain_events_days = args.retain_events_days;
    overrides.trusted_proxies = args.trusted_proxies;
    overrides.pause_after_days = args.pause_after_days;
    overrides.lease_s = args.lease_s;
    overrides.max_connections = args.max_connections;
    overrides.header_timeout_s = args.header_timeout_s;
    overrides.max_streams_per_session = args.max_streams_per_session;
    overrides.max_streams_per_address = args.max_streams_per_address;
    overrides.ovh_api = overrides.ovh_api.take().or(args.ovh_api);
    overrides.ovh_app_key = overrides.ovh_app_key.take().or(args.ovh_app_key);
    overrides.ovh_app_secret = overrides.ovh_app_secret.take().or(args.ovh_app_secret);
    overrides.ovh_consumer_key = overrides.ovh_consumer_key.take().or(args.ovh_consumer_key);
    overrides.ovh_api_rate = args.ovh_api_rate;
    overrides.nats = args.nats;
    overrides.nats_prefix = args.nats_prefix;
    overrides.nats_stream = args.nats_stream;
    overrides.mqtt = args.mqtt;
    overrides.mqtt_prefix = args.mqtt_prefix;
    Config::layered(file, overrides)
}

fn check_rate(rate: f64) -> Result<(), ConfigError> {
    if rate.is_finite() && rate >= 0.0 {
        Ok(())
    } else {
        Err(ConfigError(
            "--rate must be a number of calls per minute, 0 or more".into(),
        ))
    }
}

/// Runs the command; the error is the one-line reason to print.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let overrides = Overrides {
                upstream: args.upstream,
                api: args.api,
                max_answer_bytes: args.max_answer_bytes,
                tokens: args.tokens,
                no_new_tokens: args.no_new_tokens,
                ..Overrides::default()
            };
            // Kept to read the configuration again on SIGHUP, with the same flags.
            let again = (args.service.clone(), overrides.clone());
            let config = service_config(args.service, overrides)?;
            if config.tokens.is_empty() && config.no_new_tokens {
                anyhow::bail!("no token to follow: give --token (or OVH_CTI_TOKENS), or allow logins with new tokens");
            }
            let app = Application::build(config, Arc::new(SystemClock)).await?;
            println!("ovh-cti: serving on http://{}/", app.address());
            let hangups = tokio::spawn(reload::on_hangup(app.service(), move || {
                service_config(again.0.clone(), again.1.clone())
            }));
            app.run(shutdown_signal()).await?;
            let _ = hangups.await;
        }
        Command::Demo(args) => {
            check_rate(args.rate)?;
            let sim = Simulator::new(SimConfig {
                seed: args.seed,
                rate_per_min: args.rate,
                scenario: args.scenario,
                fault_rate: args.scenario.fault_rate(),
                ..SimConfig::default()
            });
            let tokens = sim.tokens();
            let sim_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let upstream = format!("http://{}", sim_listener.local_addr()?);
            // OVH's REST API is the simulator's too, its keys already validated: the demo
            // shows the agent board and the actions without an OVH account.
            let keys = sim.api_keys();
            let own_api = args.service.ovh_api.is_none();
            let overrides = Overrides {
                demo: true,
                ovh_api: own_api.then(|| format!("{upstream}/1.0")),
                ovh_app_key: own_api.then_some(keys.application_key),
                ovh_app_secret: own_api.then_some(keys.application_secret),
                ovh_consumer_key: own_api.then_some(keys.consumer_key),
                upstream: Some(upstream),
                tokens: tokens.iter().map(|t| t.token.clone()).collect(),
                ..Overrides::default()
            };
            let config = service_config(args.service, overrides)?;
            // Built first, so that a refused database or a busy port is the only line said.
            let app = Application::build(config, Arc::new(SystemClock)).await?;
            let (stop_sim, sim_stopped) = tokio::sync::oneshot::channel::<()>();
            let sim_task = tokio::spawn(sim.serve(sim_listener, async move {
                let _ = sim_stopped.await;
            }));
            println!(
                "ovh-cti demo: the dashboard is at http://{}/",
                app.address()
            );
            for t in &tokens {
                println!("  log in with {} — {}", t.token, t.label);
            }
            app.run(shutdown_signal()).await?;
            let _ = stop_sim.send(());
            let _ = sim_task.await;
        }
        Command::Simulate(args) => {
            check_rate(args.rate)?;
            let fault_rate = args.fault_rate.unwrap_or(args.scenario.fault_rate());
            if !(0.0..=1.0).contains(&fault_rate) {
                anyhow::bail!("--fault-rate must be between 0 and 1");
            }
            if !(args.hold.is_finite() && args.hold > 0.0 && args.hold <= 3600.0) {
                anyhow::bail!("--hold must be a positive number of seconds, at most 3600");
            }
            let listener = tokio::net::TcpListener::bind(&args.listen)
                .await
                .map_err(|e| {
                    let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
                        " (`serve` and `demo` listen there by default too): give the fake OVH \
                         another address with --listen, e.g. 127.0.0.1:8081, and the service \
                         --upstream http://127.0.0.1:8081"
                    } else {
                        ""
                    };
                    anyhow::anyhow!("cannot listen on {}: {e}{hint}", args.listen)
                })?;
            let sim = Simulator::new(SimConfig {
                seed: args.seed,
                rate_per_min: args.rate,
                hold: Duration::from_secs_f64(args.hold),
                fault_rate,
                scenario: args.scenario,
                rest_rate: args.rest_rate.max(1),
                ..SimConfig::default()
            });
            println!(
                "ovh-cti simulate: OVH's event API on http://{}/ (v1: /?token=…, v2: /v2/session)",
                listener.local_addr()?
            );
            for t in sim.tokens() {
                println!("  token {} — {}", t.token, t.label);
            }
            // The simulator's own made-up keys: nothing of anyone's.
            let keys = sim.api_keys();
            println!(
                "  REST API http://{}/1.0 — application key {}, application secret {}, consumer key {} (validated)",
                listener.local_addr()?,
                keys.application_key,
                keys.application_secret,
                keys.consumer_key
            );
            sim.serve(listener, shutdown_signal()).await?;
        }
        Command::Backup(args) => {
            let db = args.database.path()?;
            let out = args.out;
            let (from, to) = (db.clone(), out.clone());
            let copy = tokio::task::spawn_blocking(move || backup(&from, &to)).await??;
            println!(
                "ovh-cti backup: wrote {} ({} bytes, {} events), a consistent copy of {}",
                out.display(),
                copy.bytes,
                copy.events,
                db.display()
            );
        }
        Command::Tokens(args) => {
            let db = args.database.path()?;
            let out = tokio::task::spawn_blocking(move || tokens::run(args.action, &db)).await??;
            println!("{out}");
        }
        Command::Users(args) => {
            let db = args.database.path()?;
            let out = tokio::task::spawn_blocking(move || users::run(args.action, &db)).await??;
            println!("{out}");
        }
        Command::Migrate(args) => {
            let from = store::migrate::source_path(&args.from)?;
            let to = PathBuf::from(args.to);
            let started = std::time::Instant::now();
            let (f, t) = (from.clone(), to.clone());
            let summary =
                tokio::task::spawn_blocking(move || store::migrate::migrate(&f, &t)).await??;
            println!(
                "ovh-cti migrate: copied {} into {} and checked it ({:.1} s)",
                from.display(),
                store::describe(&to),
                started.elapsed().as_secs_f64()
            );
            println!("  {:<16} {:>12}", "table", "rows");
            for (table, rows) in &summary.tables {
                println!("  {table:<16} {rows:>12}");
            }
            println!("  {:<16} {:>12}", "total", summary.total());
            for note in &summary.notes {
                println!("  note: {note}");
            }
        }
    }
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}
