//! Graceful shutdown: one token that every task of a role watches.
//!
//! A role stops accepting, lets its sessions close their streams (RFC 6120 §4.4 with
//! `<system-shutdown/>`), and exits once they are gone or a grace period has passed.

use tokio_util::sync::CancellationToken;

/// A cloneable shutdown signal. Cancelling it is idempotent.
pub type Shutdown = CancellationToken;

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what Kubernetes sends a pod).
pub async fn wait_for_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("received interrupt, shutting down"),
        () = term => tracing::info!("received SIGTERM, shutting down"),
    }
}
