//! The gRPC face against a bus that is down: the caller gets `UNAVAILABLE`, and messages
//! taken from the offline store for delivery go back into it (RFC 6121 §8.5.2.2.1: stored
//! messages are kept until delivered). And stanzas routed to the shard's own users, carried
//! out without a call to itself.

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

/// A bus that keeps what is published: (user, stanza).
#[derive(Debug, Default)]
struct RecordingBus(std::sync::Mutex<Vec<(String, String)>>);

#[async_trait]
impl Bus for RecordingBus {
    async fn publish(&self, delivery: Delivery) -> Result<(), BusError> {
        let xml = String::from_utf8_lossy(&delivery.xml).into_owned();
        self.0.lock().unwrap().push((delivery.user, xml));
        Ok(())
    }

    async fn open_inbox(&self, _node: &str, _capacity: usize) -> Result<Inbox, BusError> {
        Err(BusError::Unavailable("not needed here".into()))
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

/// RFC 6121 §3.1 and §4.3.2 through the service with no shard clients at all: the
/// subscription requests and approvals, and the probe of juliet's initial presence, are
/// routed to this shard's own users and carried out here.
#[tokio::test]
async fn stanzas_routed_to_the_shard_s_own_users_need_no_shard_clients() {
    let store = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    create_owner(store.as_ref(), "juliet").await;
    create_owner(store.as_ref(), "romeo").await;
    let shard = Arc::new(Shard::new(
        ShardConfig::new("example.org"),
        Stores::sqlite(store.clone()),
    ));
    let bus = Arc::new(RecordingBus::default());
    let service = RosterPresenceService::new(shard.clone(), bus.clone(), Ownership::single());
    let (juliet, romeo) = ("juliet@example.org/balcony", "romeo@example.org/orchard");
    for (id, full) in [(1, romeo), (2, juliet)] {
        let key = SessionKey {
            node: "c2s".into(),
            id,
        };
        let bound = shard.session_bound(Jid::new(full).unwrap(), key).await;
        service.execute(bound).await.unwrap();
    }
    let romeo_presence = format!("<presence from='{romeo}'><show>away</show></presence>");
    service
        .execute(shard.outbound(stanza(&romeo_presence)).await)
        .await
        .unwrap();
    for (from, to, kind) in [
        (juliet, "romeo@example.org", "subscribe"),
        (romeo, "juliet@example.org", "subscribed"),
    ] {
        let xml = format!("<presence from='{from}' to='{to}' type='{kind}'/>");
        service
            .execute(shard.outbound(stanza(&xml)).await)
            .await
            .unwrap();
    }
    bus.0.lock().unwrap().clear();
    service
        .execute(
            shard
                .outbound(stanza(&format!("<presence from='{juliet}'/>")))
                .await,
        )
        .await
        .unwrap();
    // §4.3.2 rule 4: the probe is answered with romeo's last presence, addressed to juliet.
    let published = bus.0.lock().unwrap().clone();
    let answer = published.iter().find(|(user, xml)| {
        user == "juliet@example.org" && xml.contains(&format!("from='{romeo}'"))
    });
    assert!(
        answer.is_some_and(|(_, xml)| xml.contains("<show>away</show>")
            && xml.contains("to='juliet@example.org/balcony'")),
        "{published:#?}"
    );
}
