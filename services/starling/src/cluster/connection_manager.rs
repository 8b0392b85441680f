//! `starling connection-manager`: a stateless pod holding client connections. Accounts are
//! read from Postgres (SASL), every stanza goes over gRPC to the shard that owns it, and
//! deliveries come back on the Redis bus.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use bus::{Bus, Liveness};
use connection_manager::heartbeat::{HeartbeatSettings, run_heartbeat};
use connection_manager::{C2sConfig, Limits, Listeners, ResourceConflict, TlsSettings};
use serde::{Deserialize, Serialize};
use service_kit::metrics::Metrics;
use service_kit::{ConfigSources, Shutdown, load_config};

use super::{Role, millis, required};
use crate::c2s::{DEFAULT_INBOX_CAPACITY, c2s_settings, check_inbox_capacity, tls_and_decoy};
use crate::cli::RoleArgs;

/// The settings of a connection manager. Flat keys, like `starling dev`'s, so that
/// `STARLING_DATABASE_URL` and `database_url = …` name the same setting.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionManagerConfig {
    /// The node's name; a random suffix is added per run (see `cluster::node_name`).
    pub node: String,
    /// The self-signed certificate and the SCRAM decoy secret, unless configured. Every
    /// connection manager of a deployment must share the decoy secret (mount one secret).
    pub data_dir: PathBuf,
    /// See [`C2sConfig::domain`].
    pub domain: String,
    /// See [`C2sConfig::listen`].
    pub listen: SocketAddr,
    /// See [`C2sConfig::listen_tls`].
    pub listen_tls: Option<SocketAddr>,
    /// See [`C2sConfig::tls`].
    pub tls: TlsSettings,
    /// See [`C2sConfig::limits`].
    pub limits: Limits,
    /// See [`C2sConfig::resource_conflict`].
    pub resource_conflict: ResourceConflict,
    /// See [`C2sConfig::sasl_mechanisms`].
    pub sasl_mechanisms: Vec<String>,
    /// Postgres, for accounts and their SCRAM keys. Required.
    pub database_url: String,
    /// Connections of the Postgres pool.
    pub database_max_connections: u32,
    /// Redis, for the bus and liveness keys; comma-separated seed nodes when
    /// `redis_cluster` is set. Required.
    pub redis_url: String,
    /// Whether `redis_url` names a Redis Cluster.
    pub redis_cluster: bool,
    /// For `rediss://` URLs: the PEM file of the CA that signed the Redis servers'
    /// certificates; none, the system's trusted roots.
    pub redis_tls_ca_file: Option<PathBuf>,
    /// For `rediss://` URLs: the PEM file of the client certificate (chain) presented to
    /// Redis, which asks for one by default with TLS on (`tls-auth-clients yes`); with
    /// `redis_tls_key_file`.
    pub redis_tls_cert_file: Option<PathBuf>,
    /// The PEM file of `redis_tls_cert_file`'s private key.
    pub redis_tls_key_file: Option<PathBuf>,
    /// The number of roster-presence shards.
    pub shards: u32,
    /// The shards' gRPC endpoints, `{shard}` standing for the index.
    pub shard_endpoint: String,
    /// Longest wait for a shard's answer, in milliseconds; past it the client gets a
    /// temporary error.
    pub grpc_timeout_ms: u64,
    /// `/healthz`, `/readyz` and `/metrics`.
    pub http_listen: SocketAddr,
    /// OTLP/gRPC endpoint for span export; none exports nothing.
    pub otlp_endpoint: Option<String>,
    /// Deliveries the bus inbox holds (see the `bus` crate's overflow policy: with Redis,
    /// what arrives at a full inbox is dropped). [`DEFAULT_INBOX_CAPACITY`] by default (why:
    /// there).
    pub inbox_capacity: usize,
    /// How often the liveness key is refreshed, in milliseconds.
    pub heartbeat_interval_ms: u64,
    /// How long the liveness key outlives a refresh, in milliseconds: the bound on ghost
    /// presence after this node dies is this plus the shards' check interval.
    pub node_ttl_ms: u64,
    /// How often the shards are asked whether they restarted, in milliseconds.
    pub shard_watch_interval_ms: u64,
}

impl Default for ConnectionManagerConfig {
    fn default() -> Self {
        let c2s = C2sConfig::default();
        let heartbeat = HeartbeatSettings::default();
        Self {
            node: "c2s".into(),
            data_dir: PathBuf::from("./starling-data"),
            domain: c2s.domain,
            listen: c2s.listen,
            listen_tls: c2s.listen_tls,
            tls: c2s.tls,
            limits: c2s.limits,
            resource_conflict: c2s.resource_conflict,
            sasl_mechanisms: c2s.sasl_mechanisms,
            database_url: String::new(),
            database_max_connections: 16,
            redis_url: String::new(),
            redis_cluster: false,
            redis_tls_ca_file: None,
            redis_tls_cert_file: None,
            redis_tls_key_file: None,
            shards: 1,
            shard_endpoint: "http://roster-presence-{shard}.roster-presence:50051".into(),
            grpc_timeout_ms: 5000,
            http_listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
            otlp_endpoint: None,
            inbox_capacity: DEFAULT_INBOX_CAPACITY,
            heartbeat_interval_ms: heartbeat.interval.as_millis() as u64,
            node_ttl_ms: heartbeat.ttl.as_millis() as u64,
            shard_watch_interval_ms: 1000,
        }
    }
}

impl ConnectionManagerConfig {
    /// Loads and validates the configuration.
    pub fn load(args: &RoleArgs, env: Vec<(String, String)>) -> Result<(Self, C2sConfig), String> {
        let sources = ConfigSources {
            file: args.config.clone(),
            env,
        };
        let config: Self = load_config(&sources, args).map_err(|e| e.to_string())?;
        let c2s = c2s_settings!(config).validate()?;
        required("database_url", &config.database_url)?;
        required("redis_url", &config.redis_url)?;
        super::shard_count(config.shards)?;
        millis("grpc_timeout_ms", config.grpc_timeout_ms)?;
        millis("shard_watch_interval_ms", config.shard_watch_interval_ms)?;
        let heartbeat = millis("heartbeat_interval_ms", config.heartbeat_interval_ms)?;
        if millis("node_ttl_ms", config.node_ttl_ms)? <= heartbeat * 2 {
            return Err("node_ttl_ms must exceed twice heartbeat_interval_ms".into());
        }
        check_inbox_capacity(config.inbox_capacity)?;
        Ok((config, c2s))
    }
}

/// Entry point of the role: exit code 2 for bad configuration, 1 for runtime failures.
pub fn main(args: RoleArgs) -> ExitCode {
    let config = ConnectionManagerConfig::load(&args, std::env::vars().collect());
    crate::serve(config, |(config, c2s)| run(config, c2s))
}

async fn run(config: ConnectionManagerConfig, c2s: C2sConfig) -> Result<(), String> {
    let role = Role::start(
        "starling-connection-manager",
        config.otlp_endpoint.as_deref(),
        config.http_listen,
    )
    .await?;
    let (shutdown, readiness, metrics) = (&role.shutdown, &role.readiness, &role.metrics);
    let (tls, decoy) = tls_and_decoy(&config.data_dir, &c2s)?;
    let store = super::postgres(&config.database_url, config.database_max_connections)?;
    let shards = super::shard_clients(
        &config.shard_endpoint,
        super::shard_count(config.shards)?,
        millis("grpc_timeout_ms", config.grpc_timeout_ms)?,
    )?;
    let listeners = Listeners::bind(&c2s).await.map_err(|e| {
        format!(
            "cannot listen on {} / {:?}: {e}",
            c2s.listen, c2s.listen_tls
        )
    })?;
    let bus = super::connect_redis!(config, shutdown).await?;
    let node = super::node_name(&config.node);
    let inbox = bus
        .open_inbox(&node, config.inbox_capacity)
        .await
        .map_err(|e| format!("cannot open the bus inbox: {e}"))?;
    let heartbeat = HeartbeatSettings {
        interval: millis("heartbeat_interval_ms", config.heartbeat_interval_ms)?,
        ttl: millis("node_ttl_ms", config.node_ttl_ms)?,
    };
    // The key exists before the first session registers, so no shard can see a session of
    // a node without a key.
    let liveness: Arc<dyn Liveness> = bus.clone();
    if let Err(error) = liveness.heartbeat(&node, heartbeat.ttl).await {
        tracing::warn!(%error, "first liveness refresh failed; retrying in the background");
    }
    tokio::spawn(run_heartbeat(
        liveness,
        node.clone(),
        heartbeat,
        shutdown.child_token(),
    ));
    tokio::spawn(count_dropped(
        bus.clone(),
        metrics.clone(),
        shutdown.child_token(),
    ));
    let cluster = connection_manager::Cluster::new(node.clone(), shards, inbox.subscriptions())
        .with_metrics(metrics.clone());
    let server = connection_manager::C2sServer::new(c2s, tls, store, decoy, cluster);
    tokio::spawn(connection_manager::run_shard_watch(
        server.clone(),
        millis("shard_watch_interval_ms", config.shard_watch_interval_ms)?,
        shutdown.child_token(),
    ));
    tracing::info!(%node, domain = %server.config.domain, "connection manager starting");
    readiness.set_ready(true);
    connection_manager::run(server, listeners, inbox, shutdown.clone()).await;
    role.stop().await;
    tracing::info!("stopped");
    Ok(())
}

/// How often the bus's count of dropped deliveries is copied into the metrics.
const DROPPED_SAMPLE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Reports deliveries the Redis bus dropped for a full inbox (its overflow policy) as
/// `starling_fanout_dropped_total`. The bus counts them itself, on its push callback where no
/// metrics registry is at hand; this copies the increase at a fixed interval.
async fn count_dropped(bus: Arc<bus::RedisBus>, metrics: Metrics, shutdown: Shutdown) {
    let mut reported = 0;
    let mut ticker = tokio::time::interval(DROPPED_SAMPLE_INTERVAL);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let dropped = bus.dropped();
        for _ in reported..dropped {
            metrics.fanout_dropped();
        }
        reported = dropped;
    }
}
