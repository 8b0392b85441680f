//! This node's liveness key: refreshed at a fixed interval with a time to live, so that the
//! roster-presence shards can tell when the node died without closing its sessions and end
//! them for it (see roster-presence's `liveness` module). The TTL must cover several
//! intervals, so that one slow or failed refresh does not declare a live node dead.

use std::sync::Arc;
use std::time::Duration;

use bus::Liveness;
use tokio_util::sync::CancellationToken;

/// How this node keeps its liveness key.
#[derive(Clone, Copy, Debug)]
pub struct HeartbeatSettings {
    /// How often the key is refreshed.
    pub interval: Duration,
    /// How long the key outlives the last refresh: the shards end this node's sessions at
    /// most this long (plus their check interval) after it stops.
    pub ttl: Duration,
}

impl Default for HeartbeatSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(3),
            ttl: Duration::from_secs(10),
        }
    }
}

/// Refreshes `node`'s key every interval until shutdown. A failed refresh is logged and
/// retried at the next tick.
pub async fn run_heartbeat(
    liveness: Arc<dyn Liveness>,
    node: String,
    settings: HeartbeatSettings,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(settings.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        if let Err(error) = liveness.heartbeat(&node, settings.ttl).await {
            tracing::warn!(%node, %error, "refreshing the liveness key failed");
        }
    }
}
