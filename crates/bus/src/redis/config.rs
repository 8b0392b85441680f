//! Settings of a [`RedisBus`](super::RedisBus) and the names it derives from them.

use std::path::PathBuf;
use std::time::Duration;

/// How the Redis deployment behind the bus is organised.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RedisMode {
    /// One server (possibly behind a proxy or with replicas for failover): one URL.
    #[default]
    Standalone,
    /// A Redis Cluster: the URLs are seed nodes, from which the client learns the slot map.
    /// Sharded pub/sub then spreads users' channels over the shards by slot.
    Cluster,
}

/// Settings of a [`RedisBus`](super::RedisBus).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisBusConfig {
    /// `redis://` (or `rediss://`) URLs: exactly one in [`RedisMode::Standalone`], one or more
    /// seed nodes in [`RedisMode::Cluster`].
    pub urls: Vec<String>,
    /// Standalone server or cluster.
    pub mode: RedisMode,
    /// Prepended to a user's bare JID to name the user's channel, and to `node:{node}` to
    /// name a node's liveness key. Lets several deployments share one Redis.
    pub channel_prefix: String,
    /// The longest any one operation (publish, subscribe, heartbeat, connecting an inbox)
    /// waits for Redis before failing with [`BusError::Unavailable`](crate::BusError).
    pub command_timeout: Duration,
    /// The longest pause between two attempts to reconnect a lost connection.
    pub reconnect_backoff_max: Duration,
    /// What TLS connections (`rediss://` URLs) trust and present; all unset without them.
    pub tls: RedisTlsFiles,
}

/// The PEM files of TLS to Redis. Each is only accepted with `rediss://` URLs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RedisTlsFiles {
    /// The certificates the servers' certificates must chain to; `None`, the system's
    /// trusted roots.
    pub ca_file: Option<PathBuf>,
    /// The certificate chain presented to servers that ask for one, leaf first. Redis asks
    /// by default once TLS is on (`tls-auth-clients yes`) and refuses a client without one.
    /// Given together with [`RedisTlsFiles::client_key_file`] or not at all.
    pub client_cert_file: Option<PathBuf>,
    /// The private key of [`RedisTlsFiles::client_cert_file`]'s leaf (PKCS#8, PKCS#1 or
    /// SEC1).
    pub client_key_file: Option<PathBuf>,
}

impl RedisBusConfig {
    /// The prefix used when none is configured.
    pub const DEFAULT_CHANNEL_PREFIX: &'static str = "starling:u:";

    /// The channel of `user` (a bare JID).
    pub(crate) fn channel(&self, user: &str) -> String {
        format!("{}{user}", self.channel_prefix)
    }

    /// The liveness key of `node`. Every liveness key carries the hash tag `{liveness}`, so
    /// that in a Redis Cluster they all live in one slot, on one node, together with the
    /// observers' sentinels ([`RedisBusConfig::observer_key`]): a node that restarts and loses
    /// the keys loses the sentinels with them, which is how the loss is noticed.
    pub(crate) fn node_key(&self, node: &str) -> String {
        format!("{}{{liveness}}:node:{node}", self.channel_prefix)
    }

    /// The sentinel of one reader of liveness keys (see `Liveness for RedisBus`).
    pub(crate) fn observer_key(&self, observer: u64) -> String {
        format!(
            "{}{{liveness}}:observer:{observer:016x}",
            self.channel_prefix
        )
    }
}

impl Default for RedisBusConfig {
    /// A standalone server on the local default port, two-second timeouts: long enough for a
    /// loaded server, short enough that a shard or a binding session does not stall on an
    /// outage.
    fn default() -> Self {
        Self {
            urls: vec!["redis://127.0.0.1:6379".to_owned()],
            mode: RedisMode::Standalone,
            channel_prefix: Self::DEFAULT_CHANNEL_PREFIX.to_owned(),
            command_timeout: Duration::from_secs(2),
            reconnect_backoff_max: Duration::from_secs(2),
            tls: RedisTlsFiles::default(),
        }
    }
}

/// Doubling pauses between reconnection attempts, from [`Backoff::FIRST`] up to a cap.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(50);

    pub(crate) fn new(max: Duration) -> Self {
        let max = max.max(Duration::from_millis(1));
        Self {
            next: Self::FIRST.min(max),
            max,
        }
    }

    /// The pause before the next attempt.
    pub(crate) fn next_pause(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(self.max);
        pause
    }
}
