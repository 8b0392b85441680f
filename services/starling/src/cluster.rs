//! What the cluster roles share: connecting to Postgres, Redis and the shards, the service
//! kit (telemetry, health, readiness, metrics endpoints) and the shutdown signal.
//!
//! Startup never gives up on a dependency that is down: a role keeps retrying and stays
//! unready meanwhile, so that a cluster whose database or Redis starts late, or restarts,
//! converges by itself instead of sending its pods into a restart loop.

pub mod connection_manager;
pub mod migrate;
pub mod roster_presence;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bus::{BusError, RedisBus, RedisBusConfig, RedisMode, RedisTlsFiles};
use cluster_api::remote::{RemoteSettings, channels, shard_endpoints};
use cluster_api::{ShardClients, ShardCount};
use service_kit::Shutdown;
use service_kit::health::Readiness;
use service_kit::metrics::Metrics;
use service_kit::telemetry::{LogFormat, TelemetryGuard, TracingOptions, init_tracing};
use storage::{PgPoolSettings, PgStore};

/// Pause between attempts to reach a dependency at startup.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// What every role of the cluster runs beside its own work: logs and span export, the
/// shutdown signal, readiness and metrics served on `/healthz`, `/readyz` and `/metrics`.
pub struct Role {
    /// Cancelled on SIGINT or SIGTERM, or by [`Role::stop`] once the role's own work ends.
    pub shutdown: Shutdown,
    /// Set by the role once it serves; cleared on a signal before anything stops.
    pub readiness: Readiness,
    /// The registry `/metrics` serves.
    pub metrics: Metrics,
    http: tokio::task::JoinHandle<()>,
    telemetry: TelemetryGuard,
}

impl Role {
    /// Starts telemetry for `service`, the signal handler and the HTTP endpoint on
    /// `http_listen`; the role is not ready until it says so.
    pub async fn start(
        service: &str,
        otlp_endpoint: Option<&str>,
        http_listen: SocketAddr,
    ) -> Result<Self, String> {
        let telemetry = telemetry(service, otlp_endpoint)?;
        let shutdown = Shutdown::new();
        let readiness = Readiness::new();
        let metrics = Metrics::new();
        on_signal(&shutdown, &readiness);
        let http = spawn_http(
            http_listen,
            readiness.clone(),
            metrics.clone(),
            shutdown.clone(),
        )
        .await?;
        Ok(Self {
            shutdown,
            readiness,
            metrics,
            http,
            telemetry,
        })
    }

    /// Ends the role once its own work has returned, in the order a pod leaves service:
    /// unready, every task told to stop, the HTTP endpoint drained, then the spans still
    /// buffered exported (dropping the guard flushes them).
    pub async fn stop(self) {
        self.readiness.set_ready(false);
        self.shutdown.cancel();
        let _ = self.http.await;
        drop(self.telemetry);
    }
}

/// Structured logs, plus span export when an OTLP endpoint is configured.
fn telemetry(service: &str, otlp_endpoint: Option<&str>) -> Result<TelemetryGuard, String> {
    init_tracing(TracingOptions {
        format: LogFormat::from_env(),
        default_filter: "info".into(),
        service_name: service.into(),
        otlp_endpoint: otlp_endpoint.map(str::to_owned),
    })
    .map_err(|e| format!("cannot start telemetry: {e}"))
}

/// A unique name for this run of a node: the configured name plus a random suffix. A
/// restarted connection manager is thus a new node, and the sessions the shards still hold
/// for its previous run are ended when that run's liveness key expires.
pub fn node_name(configured: &str) -> String {
    let mut bytes = [0u8; 4];
    let _ = getrandom::fill(&mut bytes);
    format!("{configured}-{:08x}", u32::from_le_bytes(bytes))
}

/// The Postgres pool (connecting lazily; the schema is `starling migrate`'s job).
pub fn postgres(url: &str, max_connections: u32) -> Result<Arc<PgStore>, String> {
    let settings = PgPoolSettings {
        max_connections,
        ..PgPoolSettings::default()
    };
    PgStore::connect(url, &settings)
        .map(Arc::new)
        .map_err(|e| format!("database_url: {e}"))
}

/// [`redis_bus`] for a role configuration that has the `redis_*` keys as fields (both
/// cluster roles): they keep flat keys, so the fields are repeated there and read here in
/// one place.
macro_rules! connect_redis {
    ($config:expr, $shutdown:expr) => {
        $crate::cluster::redis_bus(
            &$config.redis_url,
            $config.redis_cluster,
            bus::RedisTlsFiles {
                ca_file: $config.redis_tls_ca_file.clone(),
                client_cert_file: $config.redis_tls_cert_file.clone(),
                client_key_file: $config.redis_tls_key_file.clone(),
            },
            $shutdown,
        )
    };
}
pub(crate) use connect_redis;

/// Connects the Redis bus (`url`: comma-separated seed nodes of a `cluster`; `tls`: for
/// `rediss://`, the CA of the servers' certificates and the client certificate), retrying
/// until it answers or shutdown.
pub async fn redis_bus(
    url: &str,
    cluster: bool,
    tls: RedisTlsFiles,
    shutdown: &Shutdown,
) -> Result<Arc<RedisBus>, String> {
    let config = RedisBusConfig {
        urls: url.split(',').map(|u| u.trim().to_owned()).collect(),
        mode: if cluster {
            RedisMode::Cluster
        } else {
            RedisMode::Standalone
        },
        tls,
        ..RedisBusConfig::default()
    };
    loop {
        match RedisBus::connect(config.clone()).await {
            Ok(bus) => return Ok(Arc::new(bus)),
            // A bad URL or TLS file will not get better by waiting.
            Err(error @ BusError::Config(_)) => return Err(format!("Redis: {error}")),
            Err(error) => tracing::warn!(%error, "cannot reach Redis yet; retrying"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return Err("stopped before Redis was reachable".into()),
            () = tokio::time::sleep(RETRY_PAUSE) => {}
        }
    }
}

/// The number of shards, at least one.
pub fn shard_count(shards: u32) -> Result<ShardCount, String> {
    ShardCount::new(shards).ok_or_else(|| "shards must be at least 1".to_owned())
}

/// A client of every shard, from the endpoint template.
pub fn shard_clients(
    template: &str,
    shards: ShardCount,
    request_timeout: Duration,
) -> Result<ShardClients, String> {
    let uris = shard_endpoints(template, shards).map_err(|e| format!("shard_endpoint: {e}"))?;
    let settings = RemoteSettings {
        request_timeout,
        ..RemoteSettings::default()
    };
    let channels = channels(&uris, settings).map_err(|e| format!("shard_endpoint: {e}"))?;
    Ok(ShardClients::new(
        channels.into_iter().map(cluster_api::over_http2).collect(),
    ))
}

/// Serves `/healthz`, `/readyz` and `/metrics` on `addr` until shutdown.
async fn spawn_http(
    addr: SocketAddr,
    readiness: Readiness,
    metrics: Metrics,
    shutdown: Shutdown,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on http_listen {addr}: {e}"))?;
    Ok(tokio::spawn(async move {
        if let Err(error) = service_kit::http::serve(listener, readiness, metrics, shutdown).await {
            tracing::error!(%error, "health and metrics endpoint failed");
        }
    }))
}

/// Cancels `shutdown` on SIGINT or SIGTERM, turning the role unready first so that load
/// balancers stop sending it new clients while it drains.
fn on_signal(shutdown: &Shutdown, readiness: &Readiness) {
    let (shutdown, readiness) = (shutdown.clone(), readiness.clone());
    tokio::spawn(async move {
        service_kit::wait_for_signal().await;
        readiness.set_ready(false);
        shutdown.cancel();
    });
}

/// A duration setting given in milliseconds, which must not be zero.
pub fn millis(name: &str, ms: u64) -> Result<Duration, String> {
    if ms == 0 {
        return Err(format!("{name} must be at least 1"));
    }
    Ok(Duration::from_millis(ms))
}

/// A setting that has no default and must be given.
pub fn required<'a>(name: &str, value: &'a str) -> Result<&'a str, String> {
    if value.trim().is_empty() {
        Err(format!(
            "{name} is required (set it in the config file or as STARLING_{})",
            name.to_uppercase()
        ))
    } else {
        Ok(value)
    }
}

#[cfg(test)]
mod tests;
