//! The gRPC face against a bus that is down: the caller gets `UNAVAILABLE`, and messages
//! taken from the offline store for delivery go back into it (RFC 6121 §8.5.2.2.1: stored
//! messages are kept until delivered).

use std::sync::Arc;

use async_trait::async_trait;
use bus::{Bus, BusError, Inbox};
use cluster_api::v1::Delivery;
use storage::conformance::create_owner;
use storage::{OfflineStore, SqliteStore};
use xmpp_core::{Element, Stanza, ns};

use super::*;
use crate::config::ShardConfig;
use crate::shard::Stores;

/// A bus whose every publish fails, as Redis does while it is away.
#[derive(Debug)]
struct DownBus;

#[async_trait]
impl Bus for DownBus {
    async fn publish(&self, _delivery: Delivery) -> Result<(), BusError> {
        Err(BusError::Unavailable("connection refused".into()))
    }

    async fn open_inbox(&self, _node: &str, _capacity: usize) -> Result<Inbox, BusError> {
        Err(BusError::Unavailable("connection refused".into()))
    }
}

fn stanza(xml: &str) -> Stanza {
    Stanza::from_element(Element::from_xml(xml, ns::JABBER_CLIENT).unwrap()).unwrap()
}

#[tokio::test]
async fn offline_messages_go_back_to_the_store_when_the_bus_is_down() {
    let store = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let juliet = create_owner(store.as_ref(), "juliet").await;
    create_owner(store.as_ref(), "romeo").await;
    let shard = Arc::new(Shard::new(
        ShardConfig::new("example.org"),
        Stores::sqlite(store.clone()),
    ));
    let service = RosterPresenceService::new(shard.clone(), Arc::new(DownBus), Ownership::single());
    // Stored while juliet is offline: no delivery, so the bus is not needed.
    let stored = shard
        .inbound(stanza(
            "<message from='romeo@example.org/orchard' to='juliet@example.org' type='chat'><body>hi</body></message>",
        ))
        .await;
    service.execute(stored).await.unwrap();
    assert_eq!(store.offline_count(&juliet).await.unwrap(), 1);

    // juliet comes online; the flush cannot be published.
    let full = Jid::new("juliet@example.org/balcony").unwrap();
    let key = SessionKey {
        node: "c2s".into(),
        id: 1,
    };
    service
        .execute(shard.session_bound(full, key).await)
        .await
        .unwrap();
    let login = shard
        .outbound(stanza("<presence from='juliet@example.org/balcony'/>"))
        .await;
    let status = service.execute(login).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
    let kept = store.take_offline(&juliet).await.unwrap();
    assert_eq!(kept.len(), 1, "the message is stored again");
    assert!(kept[0].stanza_xml.contains("<body>hi</body>"));
    assert!(
        !kept[0].stanza_xml.contains("urn:xmpp:delay"),
        "stored as received"
    );
}
