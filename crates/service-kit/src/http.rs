//! The operations endpoint every role serves on its own port: liveness, readiness, metrics.
//!
//! - `GET /healthz`: `200 ok` whenever the process answers at all. Kubernetes restarts a pod
//!   whose liveness probe fails, so this must not depend on any dependency being up: a Redis
//!   outage should make pods unready, never restart them all.
//! - `GET /readyz`: `200 ready` or `503 not ready`, from the role's [`Readiness`] flag, so a
//!   pod that is starting or draining is taken out of the Service without being restarted.
//! - `GET /metrics`: the role's [`Metrics`] in the OpenMetrics text format, for Prometheus.
//!
//! It is kept apart from the XMPP and gRPC ports so that probes and scrapes never compete with
//! client traffic for connection permits, and so that it can be left off the public network.

use std::future::Future;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::health::Readiness;
use crate::metrics::{Metrics, OPENMETRICS_CONTENT_TYPE};

#[derive(Clone)]
struct AppState {
    readiness: Readiness,
    metrics: Metrics,
}

/// Serves `/healthz`, `/readyz` and `/metrics` on `listener` until `shutdown` is cancelled,
/// then stops accepting and returns once the open requests are answered.
///
/// The listener is bound by the caller (tests bind `127.0.0.1:0`), like every other server of
/// a role. The future resolves with an error only if accepting fails for good.
pub fn serve(
    listener: TcpListener,
    readiness: Readiness,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> impl Future<Output = std::io::Result<()>> + Send {
    let app = router(AppState { readiness, metrics });
    async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
    }
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if state.readiness.is_ready() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)],
        state.metrics.encode(),
    )
}

#[cfg(test)]
mod tests;
