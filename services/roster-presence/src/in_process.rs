//! A shard in the same process as its callers, reached through the same calls and messages
//! as in a cluster, each typed request handed to the service in place
//! (`cluster_api::ShardClient::InPlace`, never encoded): what `starling dev` and the tests
//! run.

use std::sync::Arc;

use bus::Bus;
use cluster_api::ShardClients;

use crate::config::ShardConfig;
use crate::service::{Ownership, RosterPresenceService};
use crate::shard::{Shard, Stores};

/// Starts the one shard of a single-process deployment and returns the clients that reach
/// it. The shard lives as long as a client does.
pub fn start(config: ShardConfig, stores: Stores, bus: Arc<dyn Bus>) -> ShardClients {
    let shard = Arc::new(Shard::new(config, stores));
    let service = RosterPresenceService::new(shard, bus, Ownership::single());
    let clients = ShardClients::in_place(Arc::new(service.clone()));
    service.set_peers(clients.clone());
    clients
}
