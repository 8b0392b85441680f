//! Which nodes are running: each node refreshes a heartbeat with a time to live, and others
//! ask which heartbeats are still there.

use std::time::Duration;

use async_trait::async_trait;

use crate::{BusError, LocalBus};

/// Node heartbeats with a time to live, next to the bus so that nodes need no other shared
/// service to know about each other (a shard, for instance, telling whether a connection
/// manager holding sessions is still running).
///
/// Object-safe, like [`Bus`](crate::Bus).
#[async_trait]
pub trait Liveness: Send + Sync + std::fmt::Debug + 'static {
    /// Marks `node` alive for `ttl` from now (replacing any earlier heartbeat). A node calls
    /// it at an interval well below `ttl`.
    async fn heartbeat(&self, node: &str, ttl: Duration) -> Result<(), BusError>;

    /// Whether each of `nodes` has a heartbeat that has not expired, in the same order.
    async fn alive(&self, nodes: &[String]) -> Result<Vec<bool>, BusError>;
}

/// In one process every node is alive while the process runs: heartbeats are accepted and
/// forgotten, and every node is reported alive.
#[async_trait]
impl Liveness for LocalBus {
    async fn heartbeat(&self, _node: &str, _ttl: Duration) -> Result<(), BusError> {
        Ok(())
    }

    async fn alive(&self, nodes: &[String]) -> Result<Vec<bool>, BusError> {
        Ok(vec![true; nodes.len()])
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::LocalBusConfig;

    #[tokio::test]
    async fn every_node_of_one_process_is_alive() {
        let bus: Arc<dyn Liveness> = Arc::new(LocalBus::new(LocalBusConfig::default()));
        bus.heartbeat("c2s-0", Duration::from_millis(1))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let nodes = ["c2s-0".to_owned(), "never-seen".to_owned()];
        assert_eq!(bus.alive(&nodes).await.unwrap(), [true, true]);
        assert_eq!(bus.alive(&[]).await.unwrap(), Vec::<bool>::new());
    }
}
