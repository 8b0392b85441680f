//! `starling roster-presence --shard I --shards N`: one shard, serving the users whose bare
//! JID hashes to `I` (cluster-api's `shard_of`) over gRPC, with rosters in Postgres and
//! deliveries published on the Redis bus.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use bus::{Bus, Liveness};
use cluster_api::v1::roster_presence_server::RosterPresenceServer;
use roster_presence::liveness::LivenessSettings;
use roster_presence::{Ownership, RosterPresenceService, Shard, ShardConfig, Stores};
use serde::{Deserialize, Serialize};
use service_kit::{ConfigSources, load_config};
use tonic::transport::server::TcpIncoming;

use super::{Role, millis, required};
use crate::cli::ShardArgs;

/// The settings of a shard; flat keys, like the other roles'.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RosterPresenceConfig {
    /// This shard's index, below `shards` (`--shard`).
    pub shard: u32,
    /// The number of shards (`--shards`); every role of a deployment must agree on it.
    pub shards: u32,
    /// The XMPP domain served.
    pub domain: String,
    /// The gRPC listener.
    pub listen: SocketAddr,
    /// Every shard's gRPC endpoint, `{shard}` standing for the index: subscription stanzas
    /// and probes for users of other shards go there.
    pub shard_endpoint: String,
    /// Longest wait for another shard's answer, in milliseconds.
    pub grpc_timeout_ms: u64,
    /// Calls a client may cancel before this shard has accepted them, per connection, before
    /// the connection is closed; see [`cluster_api::DEFAULT_MAX_PENDING_ACCEPT_RESETS`].
    pub grpc_max_pending_resets: usize,
    /// The HTTP/2 connection window of the gRPC listener, bytes (65,535 to 2^31 − 1): how
    /// many small calls may wait unread before the connection is closed; see
    /// [`cluster_api::DEFAULT_CONNECTION_WINDOW_BYTES`].
    pub grpc_connection_window_bytes: u32,
    /// Postgres: accounts, rosters, pending subscriptions, offline messages. Required.
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
    /// `/healthz`, `/readyz` and `/metrics`.
    pub http_listen: SocketAddr,
    /// OTLP/gRPC endpoint for span export; none exports nothing.
    pub otlp_endpoint: Option<String>,
    /// See [`ShardConfig::max_roster_items`].
    pub max_roster_items: usize,
    /// See [`ShardConfig::offline_quota`].
    pub offline_quota: usize,
    /// See [`ShardConfig::max_routes_in_flight`].
    pub max_routes_in_flight: usize,
    /// How often the liveness keys of connection managers are read, in milliseconds.
    pub liveness_check_interval_ms: u64,
    /// How long after a failed liveness read a missing key is not trusted, in milliseconds
    /// (longer than the connection managers' heartbeat interval).
    pub liveness_grace_ms: u64,
}

impl Default for RosterPresenceConfig {
    fn default() -> Self {
        let shard = ShardConfig::new("localhost");
        let liveness = LivenessSettings::default();
        Self {
            shard: 0,
            shards: 1,
            domain: shard.domain,
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            shard_endpoint: "http://roster-presence-{shard}.roster-presence:50051".into(),
            grpc_timeout_ms: 5000,
            grpc_max_pending_resets: cluster_api::DEFAULT_MAX_PENDING_ACCEPT_RESETS,
            grpc_connection_window_bytes: cluster_api::DEFAULT_CONNECTION_WINDOW_BYTES,
            database_url: String::new(),
            database_max_connections: 16,
            redis_url: String::new(),
            redis_cluster: false,
            redis_tls_ca_file: None,
            redis_tls_cert_file: None,
            redis_tls_key_file: None,
            http_listen: SocketAddr::from(([127, 0, 0, 1], 9091)),
            otlp_endpoint: None,
            max_roster_items: shard.max_roster_items,
            offline_quota: shard.offline_quota,
            max_routes_in_flight: shard.max_routes_in_flight,
            liveness_check_interval_ms: liveness.check_interval.as_millis() as u64,
            liveness_grace_ms: liveness.grace_after_error.as_millis() as u64,
        }
    }
}

impl RosterPresenceConfig {
    /// Loads and validates the configuration; returns it with the shard's ownership.
    pub fn load(args: &ShardArgs, env: Vec<(String, String)>) -> Result<(Self, Ownership), String> {
        let sources = ConfigSources {
            file: args.config.clone(),
            env,
        };
        let mut config: Self = load_config(&sources, args).map_err(|e| e.to_string())?;
        config.domain = xmpp_core::jid::normalize_domainpart(&config.domain)
            .map_err(|e| format!("domain {:?} is not a valid domain: {e}", config.domain))?;
        let count = super::shard_count(config.shards)?;
        if config.shard >= count.get() {
            return Err(format!(
                "shard {} does not exist among {} shards (indexes start at 0)",
                config.shard, config.shards
            ));
        }
        required("database_url", &config.database_url)?;
        required("redis_url", &config.redis_url)?;
        millis("grpc_timeout_ms", config.grpc_timeout_ms)?;
        if config.max_routes_in_flight == 0 {
            return Err("max_routes_in_flight must be at least 1".into());
        }
        if config.grpc_max_pending_resets == 0 {
            return Err("grpc_max_pending_resets must be at least 1".into());
        }
        if !(65_535..=0x7fff_ffff).contains(&config.grpc_connection_window_bytes) {
            return Err(format!(
                "grpc_connection_window_bytes must be from 65535 to 2147483647, got {}",
                config.grpc_connection_window_bytes
            ));
        }
        millis(
            "liveness_check_interval_ms",
            config.liveness_check_interval_ms,
        )?;
        millis("liveness_grace_ms", config.liveness_grace_ms)?;
        let ownership = Ownership {
            index: config.shard,
            count,
        };
        Ok((config, ownership))
    }
}

/// Entry point of the role: exit code 2 for bad configuration, 1 for runtime failures.
pub fn main(args: ShardArgs) -> ExitCode {
    let config = RosterPresenceConfig::load(&args, std::env::vars().collect());
    crate::serve(config, |(config, ownership)| run(config, ownership))
}

async fn run(config: RosterPresenceConfig, ownership: Ownership) -> Result<(), String> {
    let role = Role::start(
        "starling-roster-presence",
        config.otlp_endpoint.as_deref(),
        config.http_listen,
    )
    .await?;
    let (shutdown, readiness, metrics) = (&role.shutdown, &role.readiness, &role.metrics);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let store = super::postgres(&config.database_url, config.database_max_connections)?;
    let peers = super::shard_clients(
        &config.shard_endpoint,
        ownership.count,
        millis("grpc_timeout_ms", config.grpc_timeout_ms)?,
    )?;
    let bus = super::connect_redis!(config, shutdown).await?;
    let mut shard_config = ShardConfig::new(config.domain.clone());
    shard_config.max_roster_items = config.max_roster_items;
    shard_config.offline_quota = config.offline_quota;
    shard_config.max_routes_in_flight = config.max_routes_in_flight;
    let shard =
        Arc::new(Shard::new(shard_config, Stores::backed_by(store)).with_metrics(metrics.clone()));
    let publisher: Arc<dyn Bus> = bus.clone();
    let service = RosterPresenceService::new(shard, publisher, ownership);
    service.set_peers(peers);
    let liveness: Arc<dyn Liveness> = bus;
    tokio::spawn(roster_presence::liveness::run(
        service.clone(),
        liveness,
        LivenessSettings {
            check_interval: millis(
                "liveness_check_interval_ms",
                config.liveness_check_interval_ms,
            )?,
            grace_after_error: millis("liveness_grace_ms", config.liveness_grace_ms)?,
        },
        shutdown.child_token(),
    ));
    tracing::info!(
        shard = ownership.index,
        shards = ownership.count.get(),
        listen = %config.listen,
        "roster-presence shard starting"
    );
    readiness.set_ready(true);
    let served = tonic::transport::Server::builder()
        .http2_max_pending_accept_reset_streams(Some(config.grpc_max_pending_resets))
        .initial_connection_window_size(config.grpc_connection_window_bytes)
        .add_service(RosterPresenceServer::new(service))
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener),
            shutdown.clone().cancelled_owned(),
        )
        .await;
    role.stop().await;
    served.map_err(|e| format!("gRPC server failed: {e}"))?;
    tracing::info!("stopped");
    Ok(())
}
