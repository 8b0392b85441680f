//! Ending the sessions of connection managers that died without closing them.
//!
//! A connection manager killed outright (`kill -9`, a lost node) never reports its sessions
//! closed. Each connection manager therefore refreshes a liveness key with a time to live
//! (`bus::Liveness::heartbeat`); the shard checks, at a fixed interval, the keys of every node
//! holding one of its sessions, and closes all sessions of a node whose key has expired, as if
//! their streams had ended: contacts get unavailable presence (RFC 6121 §4.5.2) and no one
//! keeps ghost presence. A node's sessions are thus ended at most `ttl + check_interval`
//! after its last heartbeat.
//!
//! When the liveness store cannot be read (Redis down), nothing is concluded. When it comes
//! back it may have lost the keys (Redis restarted without persistence), and the nodes need
//! up to a heartbeat interval to write theirs again, so for `grace_after_error` after a
//! failed check a missing key is not taken for a dead node.

use std::sync::Arc;
use std::time::Duration;

use bus::Liveness;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::service::RosterPresenceService;

/// How the shard watches connection managers.
#[derive(Clone, Copy, Debug)]
pub struct LivenessSettings {
    /// How often the liveness keys of the nodes holding sessions are read.
    pub check_interval: Duration,
    /// How long after a failed read a missing key is not trusted (longer than the nodes'
    /// heartbeat interval).
    pub grace_after_error: Duration,
}

impl Default for LivenessSettings {
    fn default() -> Self {
        Self {
            check_interval: Duration::from_secs(2),
            grace_after_error: Duration::from_secs(5),
        }
    }
}

/// Decides from check results which nodes are dead; no I/O, so it is tested on its own.
#[derive(Debug)]
pub struct NodeJudge {
    grace_after_error: Duration,
    /// Missing keys are not trusted before this instant.
    trust_from: Option<Instant>,
}

impl NodeJudge {
    /// A judge that trusts results right away.
    pub fn new(grace_after_error: Duration) -> Self {
        Self {
            grace_after_error,
            trust_from: None,
        }
    }

    /// A check failed at `now`.
    pub fn failed(&mut self, now: Instant) {
        self.trust_from = Some(now + self.grace_after_error);
    }

    /// The nodes among `nodes` to end, given whether each key exists (`alive`, in the same
    /// order) as read at `now`.
    pub fn dead<'a, T>(&self, now: Instant, nodes: &'a [T], alive: &[bool]) -> Vec<&'a T> {
        if self.trust_from.is_some_and(|t| now < t) {
            return Vec::new();
        }
        nodes
            .iter()
            .zip(alive)
            .filter(|(_, alive)| !**alive)
            .map(|(node, _)| node)
            .collect()
    }
}

/// Checks the nodes holding the shard's sessions every `check_interval` and ends the sessions
/// of dead ones, until shutdown.
pub async fn run(
    service: RosterPresenceService,
    liveness: Arc<dyn Liveness>,
    settings: LivenessSettings,
    shutdown: CancellationToken,
) {
    let mut judge = NodeJudge::new(settings.grace_after_error);
    let mut ticker = tokio::time::interval(settings.check_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let nodes: Vec<String> = service
            .shard()
            .sessions()
            .nodes()
            .iter()
            .map(|n| n.to_string())
            .collect();
        if nodes.is_empty() {
            continue;
        }
        let alive = match liveness.alive(&nodes).await {
            Ok(alive) => alive,
            Err(error) => {
                tracing::warn!(%error, "cannot read connection manager liveness");
                judge.failed(Instant::now());
                continue;
            }
        };
        for node in judge.dead(Instant::now(), &nodes, &alive) {
            let effects = service.shard().node_gone(node).await;
            tracing::warn!(
                node = %node,
                "connection manager stopped refreshing its liveness key; its sessions are closed"
            );
            if let Err(status) = service.execute(effects).await {
                tracing::warn!(%status, "some unavailable presence of a dead node was not sent");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_keys_mean_dead_nodes() {
        let judge = NodeJudge::new(Duration::from_secs(5));
        let nodes = ["c2s-a", "c2s-b", "c2s-c"];
        assert_eq!(
            judge.dead(Instant::now(), &nodes, &[true, false, true]),
            [&"c2s-b"]
        );
        assert!(judge.dead(Instant::now(), &nodes, &[true; 3]).is_empty());
    }

    #[test]
    fn missing_keys_are_not_trusted_for_a_grace_period_after_a_failed_check() {
        let mut judge = NodeJudge::new(Duration::from_secs(5));
        let start = Instant::now();
        judge.failed(start);
        let nodes = ["c2s-a"];
        assert!(
            judge
                .dead(start + Duration::from_secs(4), &nodes, &[false])
                .is_empty()
        );
        assert_eq!(
            judge.dead(start + Duration::from_secs(5), &nodes, &[false]),
            [&"c2s-a"]
        );
    }
}
