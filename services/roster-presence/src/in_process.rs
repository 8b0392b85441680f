//! A shard in the same process as its callers, reached through the same generated gRPC
//! client and server as in a cluster, called in place (`cluster_api::in_process::direct`):
//! what `starling dev` and the tests run.

use std::sync::Arc;

use bus::Bus;
use cluster_api::ShardClients;
use cluster_api::v1::roster_presence_server::RosterPresenceServer;

use crate::config::ShardConfig;
use crate::service::{Ownership, RosterPresenceService};
use crate::shard::{Shard, Stores};

/// Starts the one shard of a single-process deployment and returns the clients that reach
/// it. The shard lives as long as a client does.
pub fn start(config: ShardConfig, stores: Stores, bus: Arc<dyn Bus>) -> ShardClients {
    let shard = Arc::new(Shard::new(config, stores));
    let service = RosterPresenceService::new(shard, bus, Ownership::single());
    let channel = cluster_api::in_process::direct(RosterPresenceServer::new(service.clone()));
    let clients = ShardClients::new(vec![channel]);
    service.set_peers(clients.clone());
    clients
}
