//! `starling dev`: every service in one process on the embedded SQLite store, with a
//! self-signed certificate kept in the data directory unless one is configured.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use bus::{Bus, LocalBus, LocalBusConfig};
use connection_manager::{C2sConfig, Limits, Listeners, ResourceConflict, TlsSettings};
use roster_presence::{ShardConfig, Stores};
use serde::{Deserialize, Serialize};
use service_kit::telemetry::{LogFormat, init_logging};
use service_kit::{ConfigSources, load_config};
use storage::SqliteStore;

/// The node name of the one connection manager of `starling dev`.
const NODE: &str = "dev";

use crate::c2s::{DEFAULT_INBOX_CAPACITY, c2s_settings, check_inbox_capacity, tls_and_decoy};
use crate::cli::DevArgs;

/// The settings of `starling dev`: the connection manager's plus the data directory.
/// Keys are flat so that `--domain`, `domain = …` and `STARLING_DOMAIN` name the same setting.
/// The fields are repeated rather than `#[serde(flatten)]`ed because flattening drops the key
/// name from error messages ("invalid socket address syntax" instead of naming `listen`).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DevConfig {
    /// Database, certificate and other state.
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
    /// See [`ShardConfig::max_roster_items`].
    pub max_roster_items: usize,
    /// See [`ShardConfig::offline_quota`].
    pub offline_quota: usize,
    /// See [`ShardConfig::max_routes_in_flight`].
    pub max_routes_in_flight: usize,
    /// Deliveries the connection manager's bus inbox holds before the bus waits (and, past
    /// its publish timeout, drops; see the `bus` crate). [`DEFAULT_INBOX_CAPACITY`] by
    /// default (why: there).
    pub inbox_capacity: usize,
}

impl Default for DevConfig {
    fn default() -> Self {
        let c2s = C2sConfig::default();
        let shard = ShardConfig::new(c2s.domain.clone());
        Self {
            data_dir: PathBuf::from("./starling-data"),
            domain: c2s.domain,
            listen: c2s.listen,
            listen_tls: c2s.listen_tls,
            tls: c2s.tls,
            limits: c2s.limits,
            resource_conflict: c2s.resource_conflict,
            sasl_mechanisms: c2s.sasl_mechanisms,
            max_roster_items: shard.max_roster_items,
            offline_quota: shard.offline_quota,
            max_routes_in_flight: shard.max_routes_in_flight,
            inbox_capacity: DEFAULT_INBOX_CAPACITY,
        }
    }
}

impl DevConfig {
    /// Loads and validates the configuration of `starling dev`.
    pub fn load(args: &DevArgs, env: Vec<(String, String)>) -> Result<(Self, C2sConfig), String> {
        let sources = ConfigSources {
            file: args.config.clone(),
            env,
        };
        let config: DevConfig = load_config(&sources, args).map_err(|e| e.to_string())?;
        let c2s = c2s_settings!(config).validate()?;
        check_inbox_capacity(config.inbox_capacity)?;
        if config.max_routes_in_flight == 0 {
            return Err("max_routes_in_flight must be at least 1".into());
        }
        Ok((config, c2s))
    }
}

/// Entry point of the role: exit code 2 for bad configuration, 1 for runtime failures.
pub fn main(args: DevArgs) -> ExitCode {
    init_logging(LogFormat::from_env(), "info");
    let config = DevConfig::load(&args, std::env::vars().collect());
    crate::serve(config, |(config, c2s)| run(config, c2s))
}

async fn run(config: DevConfig, c2s: C2sConfig) -> Result<(), String> {
    let (tls, decoy) = tls_and_decoy(&config.data_dir, &c2s)?;
    let store = SqliteStore::open(&config.data_dir.join("starling.db"))
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let listeners = Listeners::bind(&c2s).await.map_err(|e| {
        format!(
            "cannot listen on {} / {:?}: {e}",
            c2s.listen, c2s.listen_tls
        )
    })?;
    tracing::info!(domain = %c2s.domain, data_dir = %config.data_dir.display(), "starling dev starting");
    let store = Arc::new(store);
    // One shard, reached through the generated gRPC client with its generated server called
    // in place, and the in-process bus: the cluster's code paths in one process, but for
    // HTTP/2 between the roles.
    let bus: Arc<dyn Bus> = Arc::new(LocalBus::new(LocalBusConfig::default()));
    let mut shard_config = ShardConfig::new(c2s.domain.clone());
    shard_config.max_roster_items = config.max_roster_items;
    shard_config.offline_quota = config.offline_quota;
    shard_config.max_routes_in_flight = config.max_routes_in_flight;
    let shards = roster_presence::in_process::start(
        shard_config,
        Stores::sqlite(store.clone()),
        bus.clone(),
    );
    let inbox = bus
        .open_inbox(NODE, config.inbox_capacity)
        .await
        .map_err(|e| format!("cannot open the bus inbox: {e}"))?;
    let cluster = connection_manager::Cluster::new(NODE, shards, inbox.subscriptions());
    let server = connection_manager::C2sServer::new(c2s, tls, store, decoy, cluster);
    let shutdown = service_kit::Shutdown::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        service_kit::wait_for_signal().await;
        signal.cancel();
    });
    connection_manager::run(server, listeners, inbox, shutdown).await;
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests;
