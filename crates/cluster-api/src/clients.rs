//! Clients of every roster-presence shard, picked by the shard function: the one place that
//! turns "the user this stanza is about" into "the shard to call".

use std::sync::Arc;

use xmpp_core::Jid;

use crate::shard::{ShardCount, shard_of};
use crate::shard_client::ShardClient;
use crate::transport::ShardChannel;
use crate::v1::roster_presence_client::RosterPresenceClient;
use crate::v1::roster_presence_server::RosterPresence;

/// One client per shard, in shard order. Cheap to clone; clones share the channels.
#[derive(Clone, Debug)]
pub struct ShardClients {
    clients: Arc<[ShardClient]>,
    count: ShardCount,
}

impl ShardClients {
    /// Clients for the shards reached through `channels`, shard `i` through `channels[i]`
    /// ([`crate::over_http2`] for a network channel, [`crate::in_process::direct`] for a shard
    /// in this process called through its generated server; [`ShardClients::in_place`] skips
    /// that server).
    ///
    /// # Panics
    /// When `channels` is empty: a deployment has at least one shard.
    pub fn new(channels: Vec<ShardChannel>) -> Self {
        let count = u32::try_from(channels.len())
            .ok()
            .and_then(ShardCount::new)
            .expect("at least one shard");
        Self {
            clients: channels
                .into_iter()
                .map(|channel| ShardClient::Grpc(RosterPresenceClient::new(channel)))
                .collect(),
            count,
        }
    }

    /// The client of a deployment's one shard, `service`, in this process: each call hands
    /// it the typed request ([`ShardClient::InPlace`]).
    pub fn in_place(service: Arc<dyn RosterPresence>) -> Self {
        Self {
            clients: Arc::new([ShardClient::InPlace(service)]),
            count: ShardCount::MIN,
        }
    }

    /// The number of shards.
    pub fn count(&self) -> ShardCount {
        self.count
    }

    /// A client of the shard that owns `jid`'s bare JID.
    pub fn for_jid(&self, jid: &Jid) -> ShardClient {
        self.shard(self.index_of(jid))
    }

    /// The index of the shard that owns `jid`'s bare JID.
    pub fn index_of(&self, jid: &Jid) -> u32 {
        shard_of(jid, self.count)
    }

    /// A client of shard `index`.
    ///
    /// # Panics
    /// When `index` is not below [`ShardClients::count`].
    pub fn shard(&self, index: u32) -> ShardClient {
        self.clients[index as usize].clone()
    }
}
