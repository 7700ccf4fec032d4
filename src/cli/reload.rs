//! SIGHUP: the configuration read again — the file and the same flags and environment — and
//! its token list applied without a restart: tokens new to it are followed, tokens gone from
//! it are removed (their followers stop at once; their history is kept). Other settings take
//! effect at the next start, and the log says so. A configuration that does not parse changes
//! nothing: the log says why, and the service goes on as it was.

use crate::config::{Config, ConfigError};
use crate::service::Service;
use crate::shutdown::stopped;
use std::sync::Arc;

/// Applies the configuration `read` gives at each SIGHUP, until the service stops.
pub async fn on_hangup(service: Arc<Service>, read: impl Fn() -> Result<Config, ConfigError>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP: the configuration is read at start only");
                return;
            }
        };
        let mut stop = service.shutdown_signal();
        loop {
            tokio::select! {
                _ = hangups.recv() => {}
                _ = stopped(&mut stop) => return,
            }
            apply(&service, read()).await;
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (service, read);
    }
}

async fn apply(service: &Service, read: Result<Config, ConfigError>) {
    let config = match read {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "SIGHUP: the configuration is not valid; nothing changed");
            return;
        }
    };
    let tokens = config.tokens.len();
    match service.configure(config.tokens).await {
        Ok((added, removed)) => tracing::info!(
            tokens,
            added,
            removed,
            "SIGHUP: configuration read again; its tokens are applied (other settings take effect at the next start)"
        ),
        Err(e) => tracing::error!(error = %e, "SIGHUP: could not apply the configuration's tokens"),
    }
}
