//! Noticing that a roster-presence shard restarted, and registering this node's sessions with
//! it again.
//!
//! A shard keeps its users' sessions (who is connected, available, with which presence) in
//! memory only. When it restarts, every connection manager must tell it again about the
//! sessions it holds, or the shard would treat those users as offline: messages to them
//! would go to offline storage and their contacts' presence would not reach them. Each
//! shard reports a random incarnation chosen at startup; this node asks every shard for it
//! at a fixed interval and, when it changes, registers again each local session the shard
//! owns, with its last presence and roster interest (`SessionBound` with `restored`).
//!
//! The window in which a restarted shard does not know a session is the restart itself plus
//! at most one interval. Stanzas for the user in that window are handled as for an offline
//! user; the offline messages among them are delivered when the session is restored.

use std::sync::Arc;
use std::time::Duration;

use cluster_api::v1::IncarnationRequest;
use tokio_util::sync::CancellationToken;

use crate::server::C2sServer;

/// What was last heard from each shard.
#[derive(Debug)]
struct Incarnations(Vec<Option<u64>>);

impl Incarnations {
    /// Records that shard `index` answered `incarnation`; true when it differs from an
    /// earlier answer (the shard restarted since). The first answer is only recorded: every
    /// session bound so far was registered with this very run of the shard.
    fn changed(&mut self, index: usize, incarnation: u64) -> bool {
        let previous = self.0[index].replace(incarnation);
        previous.is_some_and(|p| p != incarnation)
    }
}

/// Asks every shard for its incarnation each `interval` and registers the local sessions
/// again with a shard that restarted, until shutdown.
pub async fn run_shard_watch(
    server: Arc<C2sServer>,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let shards = server.cluster.shards().clone();
    let count = shards.count().get();
    let mut seen = Incarnations(vec![None; count as usize]);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        for index in 0..count {
            let answer = shards.shard(index).incarnation(IncarnationRequest {}).await;
            let incarnation = match answer {
                Ok(response) => response.into_inner().incarnation,
                Err(status) => {
                    tracing::debug!(shard = index, %status, "shard did not tell its incarnation");
                    continue;
                }
            };
            if !seen.changed(index as usize, incarnation) {
                continue;
            }
            let sessions: Vec<_> = server
                .sessions
                .all()
                .into_iter()
                .filter(|s| shards.index_of(s.jid()) == index)
                .collect();
            let registered = server.cluster.reregister(index, &sessions).await;
            tracing::info!(
                shard = index,
                registered,
                of = sessions.len(),
                "shard restarted; registered this node's sessions again"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_change_after_a_first_answer_is_a_restart() {
        let mut seen = Incarnations(vec![None, None]);
        assert!(!seen.changed(0, 7), "first answer");
        assert!(!seen.changed(0, 7), "same run");
        assert!(seen.changed(0, 9), "restarted");
        assert!(!seen.changed(0, 9));
        assert!(!seen.changed(1, 9), "shards are tracked apart");
    }
}
