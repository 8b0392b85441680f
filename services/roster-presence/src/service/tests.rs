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
use crate::effects::Effects;
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

const JULIET: &str = "juliet@example.org/balcony";
const ROMEO: &str = "romeo@example.org/orchard";

/// A shard of one (no shard clients) with juliet and romeo each bound to a session
/// ([`JULIET`], [`ROMEO`]), publishing on a recording bus.
async fn juliet_and_romeo_bound() -> (Arc<Shard>, Arc<RecordingBus>, RosterPresenceService) {
    let store = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    create_owner(store.as_ref(), "juliet").await;
    create_owner(store.as_ref(), "romeo").await;
    let shard = Arc::new(Shard::new(
        ShardConfig::new("example.org"),
        Stores::sqlite(store.clone()),
    ));
    let bus = Arc::new(RecordingBus::default());
    let service = RosterPresenceService::new(shard.clone(), bus.clone(), Ownership::single());
    for (id, full) in [(1, ROMEO), (2, JULIET)] {
        let key = SessionKey {
            node: "c2s".into(),
            id,
        };
        let bound = shard.session_bound(Jid::new(full).unwrap(), key).await;
        service.execute(bound).await.unwrap();
    }
    (shard, bus, service)
}

/// RFC 6121 §3.1 and §4.3.2 through the service with no shard clients at all: the
/// subscription requests and approvals, and the probe of juliet's initial presence, are
/// routed to this shard's own users and carried out here.
#[tokio::test]
async fn stanzas_routed_to_the_shard_s_own_users_need_no_shard_clients() {
    let (shard, bus, service) = juliet_and_romeo_bound().await;
    let (juliet, romeo) = (JULIET, ROMEO);
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

/// What the shard publishes for `xml`, sent by juliet (direction `direction`) once romeo is
/// available and subscribed to her presence, with the stanza attached to the call as a
/// caller in this process does, or only in the envelope's XML as over gRPC.
async fn published_for(xml: &str, direction: Direction, attach: bool) -> Vec<(String, String)> {
    let (shard, bus, service) = juliet_and_romeo_bound().await;
    let (juliet, romeo) = (JULIET, ROMEO);
    for setup in [
        format!("<presence from='{romeo}' to='juliet@example.org' type='subscribe'/>"),
        format!("<presence from='{juliet}' to='romeo@example.org' type='subscribed'/>"),
        format!("<presence from='{romeo}'/>"),
    ] {
        let effects = shard.outbound(stanza(&setup)).await;
        service.execute(effects).await.unwrap();
    }
    bus.0.lock().unwrap().clear();
    let sent = stanza(xml);
    let mut request = Request::new(StanzaInRequest {
        stanza: Some(convert::envelope(&sent, None)),
        direction: direction.into(),
    });
    if attach {
        convert::attach_stanza(&mut request, sent);
    }
    RosterPresence::stanza_in(&service, request).await.unwrap();
    bus.0.lock().unwrap().clone()
}

/// A stanza handed over parsed by a caller in this process is processed exactly as the same
/// stanza read from the envelope's XML: the same deliveries, byte for byte.
#[tokio::test]
async fn an_attached_stanza_is_processed_as_its_xml_is() {
    let juliet = JULIET;
    for (xml, direction) in [
        (
            format!(
                "<message from='{juliet}' to='romeo@example.org' type='chat' id='m1'>\
                 <body>a &lt; b &amp; 'c'</body><thread>t1</thread>\
                 <x xmlns='urn:example:ext' v='1'><plain xmlns=''/></x></message>"
            ),
            Direction::Inbound,
        ),
        (
            format!("<presence from='{juliet}'><show>dnd</show><status>busy</status></presence>"),
            Direction::Outbound,
        ),
    ] {
        let parsed = published_for(&xml, direction, false).await;
        let attached = published_for(&xml, direction, true).await;
        assert!(!parsed.is_empty(), "{xml}");
        assert_eq!(attached, parsed, "{xml}");
    }
}

/// Another shard, as far as routing can tell: it records the stanzas routed to it as they
/// finish. A call for `slow` takes 200 ms the first time; with `together` set, every call
/// waits until that many are in flight at once.
#[derive(Clone, Default)]
struct PeerShard {
    finished: Arc<std::sync::Mutex<Vec<String>>>,
    slow: Option<String>,
    together: Option<Arc<tokio::sync::Barrier>>,
}

#[tonic::async_trait]
impl RosterPresence for PeerShard {
    async fn session_bound(
        &self,
        _request: Request<SessionBoundRequest>,
    ) -> Result<Response<SessionBoundResponse>, Status> {
        Err(Status::unimplemented("not needed here"))
    }

    async fn session_closed(
        &self,
        _request: Request<SessionClosedRequest>,
    ) -> Result<Response<SessionClosedResponse>, Status> {
        Err(Status::unimplemented("not needed here"))
    }

    async fn stanza_in(
        &self,
        request: Request<StanzaInRequest>,
    ) -> Result<Response<StanzaInResponse>, Status> {
        let envelope = request.into_inner().stanza.unwrap();
        let stanza = convert::stanza_of(&envelope).unwrap();
        let (to, id) = (
            stanza.to().unwrap().to_owned(),
            stanza.id().unwrap().to_owned(),
        );
        if let Some(together) = &self.together {
            together.wait().await;
        }
        if self.slow.as_deref() == Some(to.as_str()) && id == "1" {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        self.finished.lock().unwrap().push(format!("{to} {id}"));
        Ok(Response::new(StanzaInResponse {}))
    }

    async fn incarnation(
        &self,
        _request: Request<IncarnationRequest>,
    ) -> Result<Response<IncarnationResponse>, Status> {
        Ok(Response::new(IncarnationResponse { incarnation: 1 }))
    }
}

/// Shard 0 of two, with `in_flight` routes at once, whose peer is `peer`; and `n` users of
/// the other shard.
async fn shard_zero_of_two(
    peer: PeerShard,
    n: usize,
    in_flight: usize,
) -> (RosterPresenceService, Vec<String>) {
    use cluster_api::v1::roster_presence_server::RosterPresenceServer;
    let store = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let mut config = ShardConfig::new("example.org");
    config.max_routes_in_flight = in_flight;
    let shard = Arc::new(Shard::new(config, Stores::sqlite(store)));
    let channel = cluster_api::over_http2(cluster_api::in_process::channel(
        RosterPresenceServer::new(peer),
    ));
    let peers = ShardClients::new(vec![channel.clone(), channel]);
    let theirs = (0..)
        .map(|i| format!("user{i}@example.org"))
        .filter(|jid| peers.index_of(&Jid::new(jid).unwrap()) == 1)
        .take(n)
        .collect();
    let ownership = Ownership {
        index: 0,
        count: peers.count(),
    };
    let service = RosterPresenceService::new(shard, Arc::new(RecordingBus::default()), ownership);
    service.set_peers(peers);
    (service, theirs)
}

fn probe(to: &str, id: &str) -> Element {
    Element::from_xml(
        &format!("<presence from='juliet@example.org/balcony' to='{to}' type='probe' id='{id}'/>"),
        ns::JABBER_CLIENT,
    )
    .unwrap()
}

/// A login's probes to contacts on another shard (RFC 6121 §4.3.1) are in flight together:
/// the peer answers none until all three arrived, so routing them one at a time never ends.
#[tokio::test]
async fn probes_to_users_of_another_shard_are_routed_at_once() {
    let peer = PeerShard {
        together: Some(Arc::new(tokio::sync::Barrier::new(3))),
        ..PeerShard::default()
    };
    let finished = peer.finished.clone();
    let (service, theirs) = shard_zero_of_two(peer, 3, 16).await;
    let mut effects = Effects::new();
    for user in &theirs {
        effects.route_element(probe(user, "1"));
    }
    tokio::time::timeout(std::time::Duration::from_secs(20), service.execute(effects))
        .await
        .expect("the three probes were not in flight at once")
        .unwrap();
    assert_eq!(finished.lock().unwrap().len(), 3);
}

/// Routes probes to two users of the other shard, the first of whom answers its first probe
/// slowly, with `in_flight` routes at once; `probes` are (user 0 or 1, id). Returns the two
/// users and the probes as they finished, each as "user id".
async fn route_with_a_slow_first_user(
    in_flight: usize,
    probes: &[(usize, &str)],
) -> ([String; 2], Vec<String>) {
    let (_, theirs) = shard_zero_of_two(PeerShard::default(), 2, in_flight).await;
    let users = [theirs[0].clone(), theirs[1].clone()];
    let peer = PeerShard {
        slow: Some(users[0].clone()),
        ..PeerShard::default()
    };
    let finished = peer.finished.clone();
    let (service, _) = shard_zero_of_two(peer, 0, in_flight).await;
    let mut effects = Effects::new();
    for &(user, id) in probes {
        effects.route_element(probe(&users[user], id));
    }
    service.execute(effects).await.unwrap();
    let order = finished.lock().unwrap().clone();
    (users, order)
}

/// Stanzas routed to one user keep their order (RFC 6120 §10.1) even when the first is slow,
/// while one for another user passes it.
#[tokio::test]
async fn stanzas_routed_to_one_user_keep_their_order() {
    let ([a, b], finished) =
        route_with_a_slow_first_user(16, &[(0, "1"), (1, "1"), (0, "2")]).await;
    assert_eq!(
        finished,
        [format!("{b} 1"), format!("{a} 1"), format!("{a} 2")]
    );
}

/// With one route in flight at most, the probes go one after another, in their order.
#[tokio::test]
async fn one_route_in_flight_sends_the_probes_in_order() {
    let ([a, b], finished) = route_with_a_slow_first_user(1, &[(0, "1"), (1, "1")]).await;
    assert_eq!(finished, [format!("{a} 1"), format!("{b} 1")]);
}
