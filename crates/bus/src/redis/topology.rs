//! Which server a channel lives on: the one server in standalone mode, in a cluster the
//! primary owning the channel's hash slot (`CLUSTER SLOTS`), and how to connect to it.

use std::collections::BTreeSet;
use std::sync::Arc;

use ::redis::{
    ConnectionAddr, ConnectionInfo, IntoConnectionInfo, ProtocolVersion, RedisResult, Value,
};

use super::bounded;
use super::config::{RedisBusConfig, RedisMode};
use super::tls::{self, RedisTls};
use crate::BusError;

/// A server, as `host:port` (or a socket path): for logs and as a map key.
pub(crate) type NodeId = String;

/// How to reach the servers: the configured URLs, parsed, for RESP3.
pub(crate) struct Seeds {
    mode: RedisMode,
    infos: Vec<ConnectionInfo>,
    tls: Option<Arc<RedisTls>>,
}

impl Seeds {
    /// `tls`: what TLS connections trust (see [`RedisTls::for_config`]).
    pub(crate) fn parse(
        config: &RedisBusConfig,
        tls: Option<Arc<RedisTls>>,
    ) -> Result<Self, BusError> {
        let infos = super::client_urls(config)?
            .iter()
            .map(|url| {
                let info = url
                    .as_str()
                    .into_connection_info()
                    .map_err(|e| BusError::Config(format!("{url}: {e}")))?;
                let resp3 = info
                    .redis_settings()
                    .clone()
                    .set_protocol(ProtocolVersion::RESP3);
                Ok(info.set_redis_settings(resp3))
            })
            .collect::<Result<_, BusError>>()?;
        Ok(Self {
            mode: config.mode,
            infos,
            tls,
        })
    }

    /// What TLS connections trust, if the URLs ask for TLS.
    pub(crate) fn tls(&self) -> Option<&RedisTls> {
        self.tls.as_deref()
    }

    /// How to connect to `node`: in a cluster, the first seed's settings (credentials, TLS)
    /// with the node's address.
    pub(crate) fn info(&self, node: &str) -> ConnectionInfo {
        let seed = &self.infos[0];
        if self.mode == RedisMode::Standalone {
            return seed.clone();
        }
        let (host, port) = node.rsplit_once(':').unwrap_or((node, "6379"));
        let (host, port) = (host.to_owned(), port.parse().unwrap_or(6379));
        let addr = match seed.addr() {
            ConnectionAddr::TcpTls {
                insecure,
                tls_params,
                ..
            } => ConnectionAddr::TcpTls {
                host,
                port,
                insecure: *insecure,
                tls_params: tls_params.clone(),
            },
            _ => ConnectionAddr::Tcp(host, port),
        };
        seed.clone().set_addr(addr)
    }

    /// The current topology: standalone, the one server; in a cluster, the slot map of the
    /// first seed that answers within the timeout.
    pub(crate) async fn discover(
        &self,
        timeout: std::time::Duration,
    ) -> Result<Topology, BusError> {
        if self.mode == RedisMode::Standalone {
            return Ok(Topology {
                ranges: Vec::new(),
                standalone: Some(node_id(self.infos[0].addr())),
            });
        }
        let mut last = BusError::Unavailable("no seed node".to_owned());
        for seed in &self.infos {
            match bounded(
                timeout,
                "reading the slot map",
                cluster_slots(seed.clone(), self.tls()),
            )
            .await
            {
                Ok(ranges) if !ranges.is_empty() => {
                    return Ok(Topology {
                        ranges,
                        standalone: None,
                    });
                }
                Ok(_) => last = BusError::Unavailable("the cluster serves no slot".to_owned()),
                Err(error) => last = error,
            }
        }
        Err(last)
    }
}

/// Where each channel lives.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Topology {
    /// Cluster: slot ranges (first, last) and their primary, sorted.
    ranges: Vec<(u16, u16, NodeId)>,
    /// Standalone: the server.
    standalone: Option<NodeId>,
}

impl Topology {
    /// The server of `channel`; `None` if no primary serves its slot.
    pub(crate) fn owner(&self, channel: &str) -> Option<&NodeId> {
        if let Some(node) = &self.standalone {
            return Some(node);
        }
        let slot = slot(channel.as_bytes());
        let i = self.ranges.partition_point(|(_, last, _)| *last < slot);
        self.ranges
            .get(i)
            .filter(|(first, _, _)| *first <= slot)
            .map(|(_, _, node)| node)
    }

    /// Every server.
    pub(crate) fn nodes(&self) -> BTreeSet<NodeId> {
        let cluster = self.ranges.iter().map(|(_, _, node)| node.clone());
        self.standalone.iter().cloned().chain(cluster).collect()
    }
}

/// `CLUSTER SLOTS` of one node: its view of which primary serves which slots.
async fn cluster_slots(
    seed: ConnectionInfo,
    tls: Option<&RedisTls>,
) -> RedisResult<Vec<(u16, u16, NodeId)>> {
    let seed_host = match seed.addr() {
        ConnectionAddr::Tcp(host, _) | ConnectionAddr::TcpTls { host, .. } => host.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    let mut conn = tls::client(seed, tls)?
        .get_multiplexed_async_connection()
        .await?;
    let reply: Value = ::redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query_async(&mut conn)
        .await?;
    let Value::Array(entries) = reply else {
        return Err(unexpected("CLUSTER SLOTS is not an array"));
    };
    let mut ranges = Vec::new();
    for entry in entries {
        let Value::Array(fields) = entry else {
            return Err(unexpected("a CLUSTER SLOTS entry is not an array"));
        };
        let (Some(Value::Int(first)), Some(Value::Int(last)), Some(Value::Array(primary))) =
            (fields.first(), fields.get(1), fields.get(2))
        else {
            return Err(unexpected(
                "a CLUSTER SLOTS entry lacks its range or primary",
            ));
        };
        let host = match primary.first() {
            Some(Value::BulkString(host)) if !host.is_empty() && host != b"?" => {
                String::from_utf8_lossy(host).into_owned()
            }
            // An unknown endpoint means "the address you reached me at".
            _ => seed_host.clone(),
        };
        let Some(Value::Int(port)) = primary.get(1) else {
            return Err(unexpected("a CLUSTER SLOTS primary lacks its port"));
        };
        let slots = (u16::try_from(*first), u16::try_from(*last));
        let (Ok(first), Ok(last)) = slots else {
            return Err(unexpected("a CLUSTER SLOTS range is out of bounds"));
        };
        ranges.push((first, last, format!("{host}:{port}")));
    }
    ranges.sort();
    Ok(ranges)
}

fn unexpected(what: &'static str) -> ::redis::RedisError {
    (::redis::ErrorKind::UnexpectedReturnType, what).into()
}

pub(crate) fn node_id(addr: &ConnectionAddr) -> NodeId {
    match addr {
        ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
            format!("{host}:{port}")
        }
        ConnectionAddr::Unix(path) => path.display().to_string(),
        other => format!("{other:?}"),
    }
}

/// The hash slot of a key (or channel) in a Redis Cluster: CRC16 (XMODEM) of the key, or of
/// its hash tag (the part between the first `{` and the next `}`, if not empty), modulo 16384.
pub(crate) fn slot(key: &[u8]) -> u16 {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
        let rest = &key[open + 1..];
        rest.iter()
            .position(|&b| b == b'}')
            .filter(|&len| len > 0)
            .map(|len| &rest[..len])
    });
    crc16(tagged.unwrap_or(key)) & 0x3FFF
}

fn crc16(data: &[u8]) -> u16 {
    data.iter().fold(0_u16, |crc, &byte| {
        (0..8).fold(crc ^ (u16::from(byte) << 8), |crc, _| {
            if crc & 0x8000 == 0 {
                crc << 1
            } else {
                (crc << 1) ^ 0x1021
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis_cluster() {
        // The CRC16 check value of the Redis Cluster specification, and CLUSTER KEYSLOT.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(slot(b"starling:u:alice@x"), 4676);
        assert_eq!(slot(b"foo"), 12182);
        // Hash tags.
        assert_eq!(slot(b"{user1000}.following"), slot(b"user1000"));
        assert_eq!(slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") & 0x3FFF);
        assert_eq!(slot(b"foo{{bar}}zap"), slot(b"{bar"));
        assert_eq!(slot(b"foo{bar}{zap}"), slot(b"bar"));
    }

    #[test]
    fn owners_follow_the_ranges() {
        let topology = Topology {
            ranges: vec![
                (0, 5460, "a:1".to_owned()),
                (5461, 10922, "b:1".to_owned()),
                (10923, 16383, "c:1".to_owned()),
            ],
            standalone: None,
        };
        assert_eq!(topology.owner("starling:u:alice@x").unwrap(), "a:1");
        assert_eq!(topology.owner("foo").unwrap(), "c:1");
        let partial = Topology {
            ranges: vec![(0, 100, "a:1".to_owned())],
            standalone: None,
        };
        assert_eq!(partial.owner("foo"), None);
        assert_eq!(topology.nodes().len(), 3);
    }
}
