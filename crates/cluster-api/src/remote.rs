//! gRPC channels to shards in other processes, addressed by an endpoint template.
//!
//! A deployment names its shards by index (a Kubernetes StatefulSet gives pods the names
//! `roster-presence-0`, `roster-presence-1`, …), so one template such as
//! `http://roster-presence-{shard}.roster-presence:50051` describes every shard. Channels
//! connect lazily: a role starts even while some shards are still starting, and a call to a
//! shard that is down fails within the connect timeout (the caller answers with a temporary
//! error) instead of hanging. A channel reconnects by itself once the shard is back.

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use crate::ShardCount;

/// The placeholder of a template that stands for the shard index.
pub const SHARD_PLACEHOLDER: &str = "{shard}";

/// How calls to remote shards behave when the network or a shard misbehaves.
#[derive(Clone, Copy, Debug)]
pub struct RemoteSettings {
    /// Longest wait for a TCP connection to a shard.
    pub connect_timeout: Duration,
    /// Longest wait for the answer to one call, connecting included.
    pub request_timeout: Duration,
    /// Interval of HTTP/2 pings on an idle connection, which notice a shard that vanished
    /// without closing its sockets (a powered-off node).
    pub keepalive_interval: Duration,
}

impl Default for RemoteSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            keepalive_interval: Duration::from_secs(10),
        }
    }
}

/// Why the shard endpoints could not be built.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// The template has no `{shard}` placeholder although there are several shards.
    #[error("shard endpoint template {0:?} has no {{shard}} placeholder")]
    NoPlaceholder(String),
    /// The URI made from the template is not valid.
    #[error("shard endpoint {uri:?} is not a valid URI: {reason}")]
    InvalidUri {
        /// The URI with the shard index filled in.
        uri: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The URI of each shard, `template` with `{shard}` replaced by `0..count`.
///
/// A template without the placeholder is accepted only for a single shard.
pub fn shard_endpoints(template: &str, count: ShardCount) -> Result<Vec<String>, EndpointError> {
    if !template.contains(SHARD_PLACEHOLDER) && count.get() > 1 {
        return Err(EndpointError::NoPlaceholder(template.to_owned()));
    }
    Ok((0..count.get())
        .map(|i| template.replace(SHARD_PLACEHOLDER, &i.to_string()))
        .collect())
}

/// A lazily connecting channel to each of `uris`, in order.
pub fn channels(uris: &[String], settings: RemoteSettings) -> Result<Vec<Channel>, EndpointError> {
    uris.iter()
        .map(|uri| {
            let endpoint =
                Endpoint::from_shared(uri.clone()).map_err(|e| EndpointError::InvalidUri {
                    uri: uri.clone(),
                    reason: e.to_string(),
                })?;
            Ok(endpoint
                .connect_timeout(settings.connect_timeout)
                .timeout(settings.request_timeout)
                .tcp_nodelay(true)
                .initial_connection_window_size(crate::DEFAULT_CONNECTION_WINDOW_BYTES)
                .http2_keep_alive_interval(settings.keepalive_interval)
                .keep_alive_while_idle(true)
                .connect_lazy())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(n: u32) -> ShardCount {
        ShardCount::new(n).unwrap()
    }

    #[test]
    fn the_template_names_every_shard_in_order() {
        let uris = shard_endpoints("http://roster-presence-{shard}.rp:50051", count(3)).unwrap();
        assert_eq!(
            uris,
            [
                "http://roster-presence-0.rp:50051",
                "http://roster-presence-1.rp:50051",
                "http://roster-presence-2.rp:50051",
            ]
        );
    }

    #[test]
    fn a_template_without_placeholder_serves_one_shard_only() {
        assert_eq!(
            shard_endpoints("http://127.0.0.1:50051", count(1)).unwrap(),
            ["http://127.0.0.1:50051"]
        );
        assert!(matches!(
            shard_endpoints("http://127.0.0.1:50051", count(2)),
            Err(EndpointError::NoPlaceholder(_))
        ));
    }

    #[tokio::test]
    async fn invalid_uris_are_refused_and_valid_ones_connect_lazily() {
        let bad = channels(&["not a uri".to_owned()], RemoteSettings::default());
        assert!(matches!(bad, Err(EndpointError::InvalidUri { .. })));
        // Nothing listens there: building the channel must still succeed.
        let ok = channels(
            &["http://127.0.0.1:9".to_owned()],
            RemoteSettings::default(),
        );
        assert_eq!(ok.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_call_to_a_shard_that_is_down_fails_within_the_connect_timeout() {
        use crate::v1::IncarnationRequest;
        use crate::v1::roster_presence_client::RosterPresenceClient;
        // A port that was just free: connecting is refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let settings = RemoteSettings {
            connect_timeout: Duration::from_millis(500),
            ..RemoteSettings::default()
        };
        let channel = channels(&[format!("http://127.0.0.1:{port}")], settings)
            .unwrap()
            .remove(0);
        let started = tokio::time::Instant::now();
        let status = RosterPresenceClient::new(channel)
            .incarnation(IncarnationRequest {})
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unavailable, "{status}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
