//! The service's shutdown signal, as every long-running task waits for it.

use tokio::sync::watch;

/// Resolves once the shutdown signal is raised (or its sender is gone), whether or not the
/// change was already seen.
pub async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}
