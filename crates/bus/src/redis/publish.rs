//! The publishing side of a [`RedisBus`](super::RedisBus): one shared connection that
//! recovers by itself, `SPUBLISH` one by one or pipelined, and the liveness keys.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::ClusterClientBuilder;
use ::redis::cluster_async::ClusterConnection;
use ::redis::{Cmd, FromRedisValue, IntoConnectionInfo, Pipeline, RedisResult};
use futures::future::try_join_all;

use super::config::{RedisBusConfig, RedisMode};
use super::tls::{self, RedisTls};
use super::{bounded, client_urls};
use crate::BusError;

/// How many reconnection attempts the standalone connection manager makes per outage
/// before reporting the outage to the command waiting on it (the next command starts a new
/// round); each attempt is bounded by the command timeout.
const RECONNECT_ATTEMPTS_PER_ROUND: usize = 8;

/// The connection shared by every publish: cheap to clone, multiplexed, reconnecting.
#[derive(Clone)]
pub(crate) enum Publisher {
    /// A `ConnectionManager`: on a lost connection it reconnects in the background with
    /// capped exponential backoff; commands meanwhile fail.
    Standalone(ConnectionManager),
    /// The cluster client: one connection per node, each repaired by its own loop, commands
    /// routed by slot (and redirected when slots move).
    Cluster(ClusterConnection),
}

impl fmt::Debug for Publisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Standalone(_) => "Publisher::Standalone",
            Self::Cluster(_) => "Publisher::Cluster",
        })
    }
}

impl Publisher {
    /// Connects, failing with [`BusError::Unavailable`] if Redis does not answer within the
    /// command timeout.
    pub(crate) async fn connect(
        config: &RedisBusConfig,
        tls: Option<&RedisTls>,
    ) -> Result<Self, BusError> {
        let urls = client_urls(config)?;
        let timeout = config.command_timeout;
        match config.mode {
            RedisMode::Standalone => {
                let info = urls[0].as_str().into_connection_info();
                let client = info
                    .and_then(|info| tls::client(info, tls))
                    .map_err(|e| BusError::Config(format!("{}: {e}", urls[0])))?;
                // The connection manager retries a failed first connection until the timeout
                // cuts it short, which would hide why it failed (a certificate refused, a
                // password wrong); one attempt of its own first says why.
                let probe = client.get_multiplexed_async_connection();
                drop(bounded(timeout, "connecting", probe).await?);
                let manager = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout))
                    .set_number_of_retries(RECONNECT_ATTEMPTS_PER_ROUND)
                    .set_max_delay(config.reconnect_backoff_max);
                let connect = ConnectionManager::new_with_config(client, manager);
                bounded(timeout, "connecting", connect)
                    .await
                    .map(Self::Standalone)
            }
            RedisMode::Cluster => {
                let mut builder = ClusterClientBuilder::new(urls);
                if let Some(certificates) = tls.and_then(RedisTls::certificates) {
                    builder = builder.certs(certificates);
                }
                let client = builder
                    .connection_timeout(timeout)
                    .response_timeout(timeout)
                    .max_retry_wait(duration_ms(config.reconnect_backoff_max))
                    .build()
                    .map_err(|e| BusError::Config(e.to_string()))?;
                bounded(timeout, "connecting", client.get_async_connection())
                    .await
                    .map(Self::Cluster)
            }
        }
    }

    /// Runs one command, once more if the connection turned out to be gone (see
    /// [`retry_dropped`]).
    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> RedisResult<T> {
        retry_dropped(|| async {
            match self {
                Self::Standalone(c) => cmd.query_async(&mut c.clone()).await,
                Self::Cluster(c) => cmd.query_async(&mut c.clone()).await,
            }
        })
        .await
    }

    /// `SPUBLISH channel payload`.
    pub(crate) async fn publish(&self, channel: &str, payload: Vec<u8>) -> RedisResult<()> {
        self.query::<()>(&spublish(channel, payload)).await
    }

    /// Publishes every `(channel, payload)`, keeping their order per channel. Standalone:
    /// one pipeline, one round trip. Cluster: one pipeline per channel (a pipeline must stay
    /// within one slot), all of them concurrently.
    pub(crate) async fn publish_all(&self, messages: Vec<(String, Vec<u8>)>) -> RedisResult<()> {
        match self {
            Self::Standalone(c) => {
                let mut pipe = Pipeline::with_capacity(messages.len());
                for (channel, payload) in messages {
                    pipe.add_command(spublish(&channel, payload)).ignore();
                }
                retry_dropped(|| async { pipe.exec_async(&mut c.clone()).await }).await
            }
            Self::Cluster(c) => {
                let mut per_channel: HashMap<String, Pipeline> = HashMap::new();
                for (channel, payload) in messages {
                    let command = spublish(&channel, payload);
                    per_channel
                        .entry(channel)
                        .or_default()
                        .add_command(command)
                        .ignore();
                }
                try_join_all(per_channel.into_values().map(|pipe| {
                    let mut c = c.clone();
                    async move { pipe.exec_async(&mut c).await }
                }))
                .await
                .map(drop)
            }
        }
    }

    /// `SET key 1 PX ttl`.
    pub(crate) async fn set_px(&self, key: &str, ttl: Duration) -> RedisResult<()> {
        let mut cmd = ::redis::cmd("SET");
        cmd.arg(key).arg(1).arg("PX").arg(duration_ms(ttl).max(1));
        self.query::<()>(&cmd).await
    }

    /// `EXISTS key` for each key, one command per key (in a cluster the keys live in
    /// different slots), all of them concurrently.
    pub(crate) async fn exist(&self, keys: Vec<String>) -> RedisResult<Vec<bool>> {
        try_join_all(keys.into_iter().map(|key| async move {
            let mut cmd = ::redis::cmd("EXISTS");
            cmd.arg(key);
            self.query::<i64>(&cmd).await.map(|n| n > 0)
        }))
        .await
    }
}

/// Runs `operation`, and once more if it failed because the connection was gone.
///
/// A multiplexed connection learns that Redis restarted only when it next writes: the first
/// command after the restart fails with a broken pipe while the connection is replaced,
/// however long ago Redis came back. Such a command never reached Redis, so sending it again
/// cannot duplicate it; without the retry, every restart would cost one publish (a stanza)
/// or one heartbeat.
async fn retry_dropped<T, F, Fut>(operation: F) -> RedisResult<T>
where
    F: Fn() -> Fut,
    Fut: Future<Output = RedisResult<T>>,
{
    match operation().await {
        Err(error) if error.is_connection_dropped() || error.is_io_error() => operation().await,
        result => result,
    }
}

fn spublish(channel: &str, payload: Vec<u8>) -> Cmd {
    let mut cmd = ::redis::cmd("SPUBLISH");
    cmd.arg(channel).arg(payload);
    cmd
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
