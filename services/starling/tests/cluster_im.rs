//! RFC 6121 across a real cluster (`scripts/cluster up`): the flows and assertions of the
//! connection manager's single-process tests (services/connection-manager/tests/rfc6121_*),
//! with every user on a different roster-presence shard and the clients spread over the two
//! connection managers, so that each stanza crosses gRPC between shards and the Redis bus.
//! Each test names the section it shows.

mod cluster_support;

use std::time::{SystemTime, UNIX_EPOCH};

use cluster_api::v1::roster_presence_client::RosterPresenceClient;
use cluster_api::v1::{SessionAddress, SessionBoundRequest};
use cluster_support::peer::{Peer, presence, push_for};
use cluster_support::{
    CLIENT, Cluster, DELAY, DOMAIN, child_text, message_with, online, online_with_priority, push,
    subscribe,
};
use tokio_xmpp::parsers::date::DateTime;

fn bare(user: &str) -> String {
    format!("{user}@{DOMAIN}")
}

/// RFC 6121 §3.1: the subscription handshake between users of two shards, on two connection
/// managers: the request is delivered (§3.1.1-3.1.3) without adding the requester to the
/// contact's roster; approval pushes 'from' to the contact (§3.1.5), then the approval, a
/// push with 'to' and the contact's presence reach the user (§3.1.6).
#[tokio::test]
async fn rfc6121_3_1_subscription_handshake_across_shards() {
    let cluster = Cluster::from_env();
    let [juliet, romeo] = cluster.users(["juliet", "romeo"]);
    let (juliet_bare, romeo_bare) = (bare(&juliet), bare(&romeo));
    let mut juliet = online(cluster.c2s(1), &juliet).await;
    let mut romeo = online(cluster.c2s(2), &romeo).await;
    juliet
        .send(&format!(
            "<presence to='{romeo_bare}' type='subscribe' id='sub1'/>"
        ))
        .await;
    juliet
        .expect("push none+ask", |e| push(e, &romeo_bare, "none", true))
        .await;
    let request = romeo
        .expect("request", |e| presence(e, &juliet_bare, Some("subscribe")))
        .await;
    assert_eq!(request.attr("to"), Some(romeo_bare.as_str()));
    assert_eq!(request.attr("id"), Some("sub1"));
    // §3.1.3 security warning: a request does not add the requester to the roster.
    romeo
        .expect_none("roster push", |e| push_for(e, &juliet_bare))
        .await;
    romeo
        .send(&format!("<presence to='{juliet_bare}' type='subscribed'/>"))
        .await;
    romeo
        .expect("push from", |e| push(e, &juliet_bare, "from", false))
        .await;
    juliet
        .expect("approval", |e| presence(e, &romeo_bare, Some("subscribed")))
        .await;
    juliet
        .expect("push to", |e| push(e, &romeo_bare, "to", false))
        .await;
    let romeo_full = romeo.jid.clone();
    let current = juliet
        .expect("romeo's presence", |e| presence(e, &romeo_full, None))
        .await;
    assert_eq!(current.attr("to"), Some(juliet_bare.as_str()));
    juliet.logout().await;
    romeo.logout().await;
}

/// RFC 6121 §3.1 both ways makes the subscription 'both' on both sides, and §4.4: a later
/// presence with show and status reaches the contact on the other shard with its full XML.
#[tokio::test]
async fn rfc6121_3_1_mutual_subscription_is_both_and_4_4_updates_cross_shards() {
    let cluster = Cluster::from_env();
    let [juliet, romeo] = cluster.users(["juliet", "romeo"]);
    let (juliet_bare, romeo_bare) = (bare(&juliet), bare(&romeo));
    let mut juliet = online(cluster.c2s(1), &juliet).await;
    let mut romeo = online(cluster.c2s(2), &romeo).await;
    subscribe(&mut juliet, &mut romeo).await;
    romeo
        .send(&format!("<presence to='{juliet_bare}' type='subscribe'/>"))
        .await;
    juliet
        .expect("request", |e| presence(e, &romeo_bare, Some("subscribe")))
        .await;
    juliet
        .send(&format!("<presence to='{romeo_bare}' type='subscribed'/>"))
        .await;
    juliet
        .expect("push both", |e| push(e, &romeo_bare, "both", false))
        .await;
    romeo
        .expect("push both", |e| push(e, &juliet_bare, "both", false))
        .await;
    let juliet_full = juliet.jid.clone();
    romeo
        .expect("juliet's presence", |e| presence(e, &juliet_full, None))
        .await;
    juliet
        .send("<presence><show>away</show><status>balcony</status></presence>")
        .await;
    let update = romeo
        .expect("update", |e| presence(e, &juliet_full, None))
        .await;
    assert_eq!(child_text(&update, "show").as_deref(), Some("away"));
    assert_eq!(child_text(&update, "status").as_deref(), Some("balcony"));
    juliet.logout().await;
    romeo.logout().await;
}

/// RFC 6121 §4.2 and §4.3: a user logging in on a connection manager has its initial
/// presence broadcast to a contact of another shard (§4.2.2, §4.2.3), gets its own presence
/// back, and the probe on login brings the contact's last presence with its 'id'
/// (§4.3.2, §4.3.2.1).
#[tokio::test]
async fn rfc6121_4_2_and_4_3_initial_presence_and_probes_across_shards() {
    let cluster = Cluster::from_env();
    let [juliet, romeo] = cluster.users(["juliet", "romeo"]);
    let (juliet_bare, romeo_name) = (bare(&juliet), romeo.clone());
    let mut juliet = online(cluster.c2s(1), &juliet).await;
    let mut romeo = online(cluster.c2s(2), &romeo).await;
    subscribe(&mut juliet, &mut romeo).await;
    subscribe(&mut romeo, &mut juliet).await;
    juliet
        .send("<presence id='j1'><show>chat</show></presence>")
        .await;
    romeo.drain().await;
    romeo.logout().await;
    juliet.drain().await;
    let mut romeo = Peer::login(cluster.c2s(2), &romeo_name).await;
    romeo.send("<presence/>").await;
    let romeo_full = romeo.jid.clone();
    let seen = juliet
        .expect("initial presence", |e| presence(e, &romeo_full, None))
        .await;
    assert_eq!(seen.attr("to"), Some(juliet_bare.as_str()));
    romeo
        .expect("own presence", |e| presence(e, &romeo_full, None))
        .await;
    let juliet_full = juliet.jid.clone();
    let probed = romeo
        .expect("probe reply", |e| presence(e, &juliet_full, None))
        .await;
    assert_eq!(probed.attr("id"), Some("j1"));
    assert_eq!(child_text(&probed, "show").as_deref(), Some("chat"));
    juliet.logout().await;
    romeo.logout().await;
}

/// RFC 6121 §4.6: directed presence to a user of another shard with no subscription is
/// delivered with its full XML (§4.6.3 rule 2) but not added to broadcasts; one withdrawn
/// with directed unavailable is not ended twice; and when the sender goes offline, the
/// user still on its list gets unavailable (§4.6.3).
#[tokio::test]
async fn rfc6121_4_6_3_directed_presence_to_a_non_contact_on_another_shard() {
    let cluster = Cluster::from_env();
    let [juliet, nurse, romeo] = cluster.users(["juliet", "nurse", "romeo"]);
    let (nurse_bare, romeo_bare) = (bare(&nurse), bare(&romeo));
    let mut juliet = online(cluster.c2s(1), &juliet).await;
    let mut nurse = online(cluster.c2s(2), &nurse).await;
    let mut romeo = online(cluster.c2s(1), &romeo).await;
    juliet
        .send(&format!(
            "<presence to='{nurse_bare}'><show>xa</show></presence>"
        ))
        .await;
    let juliet_full = juliet.jid.clone();
    let directed = nurse
        .expect("directed presence", |e| presence(e, &juliet_full, None))
        .await;
    assert_eq!(directed.attr("to"), Some(nurse_bare.as_str()));
    assert_eq!(child_text(&directed, "show").as_deref(), Some("xa"));
    juliet.send("<presence><show>away</show></presence>").await;
    nurse
        .expect_none("broadcast", |e| presence(e, &juliet_full, None))
        .await;
    juliet.send(&format!("<presence to='{romeo_bare}'/>")).await;
    romeo
        .expect("directed presence", |e| presence(e, &juliet_full, None))
        .await;
    juliet
        .send(&format!("<presence to='{romeo_bare}' type='unavailable'/>"))
        .await;
    romeo
        .expect("directed unavailable", |e| {
            presence(e, &juliet_full, Some("unavailable"))
        })
        .await;
    juliet.logout().await;
    nurse
        .expect("unavailable at the end", |e| {
            presence(e, &juliet_full, Some("unavailable"))
        })
        .await;
    romeo
        .expect_none("second unavailable", |e| {
            presence(e, &juliet_full, Some("unavailable"))
        })
        .await;
    nurse.logout().await;
    romeo.logout().await;
}

/// RFC 6121 §8.5.2.1.1: a message to a bare JID goes to the highest-priority resource only,
/// here on the other connection manager than the lower one, with 'to' left as the bare JID.
#[tokio::test]
async fn rfc6121_8_5_2_1_1_bare_jid_message_goes_to_highest_priority_across_c2s() {
    let cluster = Cluster::from_env();
    let [juliet, romeo] = cluster.users(["juliet", "romeo"]);
    let juliet_bare = bare(&juliet);
    let mut low = online_with_priority(cluster.c2s(1), &juliet, 1).await;
    let mut high = online_with_priority(cluster.c2s(2), &juliet, 5).await;
    let mut romeo = online_with_priority(cluster.c2s(1), &romeo, 0).await;
    romeo
        .send(&format!(
            "<message to='{juliet_bare}' type='chat' id='c1'><body>chat</body></message>"
        ))
        .await;
    romeo
        .send(&format!(
            "<message to='{juliet_bare}' id='c2'><body>normal</body></message>"
        ))
        .await;
    for text in ["chat", "normal"] {
        let got = high.expect(text, |e| message_with(e, text)).await;
        assert_eq!(
            got.attr("to"),
            Some(juliet_bare.as_str()),
            "§8.5.2.1.1: the server MUST NOT rewrite 'to'"
        );
        assert_eq!(got.attr("from"), Some(romeo.jid.as_str()));
    }
    low.expect_none("a message for the most available resource", |e| {
        e.name() == "message"
    })
    .await;
    romeo
        .expect_none("an error", |e| e.attr("type") == Some("error"))
        .await;
    for peer in [low, high, romeo] {
        peer.logout().await;
    }
}

/// RFC 6121 §8.5.2.1.1: resources sharing the highest priority, one on each connection
/// manager, both get a message to the bare JID; a lower one does not.
#[tokio::test]
async fn rfc6121_8_5_2_1_1_equal_priorities_on_both_c2s_both_get_the_message() {
    let cluster = Cluster::from_env();
    let [juliet, romeo] = cluster.users(["juliet", "romeo"]);
    let juliet_bare = bare(&juliet);
    let mut one = online_with_priority(cluster.c2s(1), &juliet, 3).await;
    let mut two = online_with_priority(cluster.c2s(2), &juliet, 3).await;
    let mut lower = online_with_priority(cluster.c2s(1), &juliet, 2).await;
    let mut romeo = online_with_priority(cluster.c2s(2), &romeo, 0).await;
    romeo
        .send(&format!(
            "<message to='{juliet_bare}' type='chat'><body>both</body></message>"
        ))
        .await;
    for peer in [&mut one, &mut two] {
        let got = peer.expect("message", |e| message_with(e, "both")).await;
        assert_eq!(got.attr("to"), Some(juliet_bare.as_str()));
    }
    lower
        .expect_none("a message", |e| e.name() == "message")
        .await;
    for peer in [one, two, lower, romeo] {
        peer.logout().await;
    }
}

/// RFC 6121 §8.5.3.1: a message to a full JID goes to that resource only, whatever its
/// priority, even when the user's higher-priority resource is on the other connection
/// manager.
#[tokio::test]
async fn rfc6121_8_5_3_1_full_jid_message_across_c2s() {
    let cluster = Cluster::from_env();
    let [juliet, romeo] = cluster.users(["juliet", "romeo"]);
    let mut high = online_with_priority(cluster.c2s(1), &juliet, 5).await;
    let mut low = online_with_priority(cluster.c2s(2), &juliet, 1).await;
    let mut romeo = online_with_priority(cluster.c2s(1), &romeo, 0).await;
    romeo
        .send(&format!(
            "<message to='{}' id='d1'><body>direct</body></message>",
            low.jid
        ))
        .await;
    let got = low.expect("direct", |e| message_with(e, "direct")).await;
    assert_eq!(got.attr("to"), Some(low.jid.as_str()));
    assert_eq!(got.attr("from"), Some(romeo.jid.as_str()));
    high.expect_none("a message for the other resource", |e| {
        message_with(e, "direct")
    })
    .await;
    romeo
        .expect_none("an error", |e| e.attr("type") == Some("error"))
        .await;
    for peer in [high, low, romeo] {
        peer.logout().await;
    }
}

/// RFC 6121 §8.5.2.2.1 (offline storage): messages for an offline user of another shard are
/// kept and delivered at the next available presence with a non-negative priority, on the
/// other connection manager than the sender's, with an XEP-0203 delay stamp; delivered
/// messages are gone.
#[tokio::test]
async fn rfc6121_8_5_2_2_1_offline_message_delivered_with_delay_on_the_other_c2s() {
    let cluster = Cluster::from_env();
    let [juliet, romeo] = cluster.users(["juliet", "romeo"]);
    let (romeo_name, romeo_bare) = (romeo.clone(), bare(&romeo));
    let mut juliet = online_with_priority(cluster.c2s(1), &juliet, 0).await;
    juliet
        .send(&format!(
            "<message to='{romeo_bare}' type='chat' id='o1'><body>wherefore</body></message>"
        ))
        .await;
    juliet
        .send(&format!(
            "<message to='{romeo_bare}' id='o2'><body>normal</body></message>"
        ))
        .await;
    juliet
        .expect_none("a bounce for a stored message", |e| {
            e.attr("type") == Some("error")
        })
        .await;
    let mut romeo = Peer::login(cluster.c2s(2), &romeo_name).await;
    romeo
        .send("<presence><priority>0</priority></presence>")
        .await;
    let mut got = Vec::new();
    for text in ["wherefore", "normal"] {
        got.push(romeo.expect(text, |e| message_with(e, text)).await);
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let now = i64::try_from(now).unwrap();
    for message in &got {
        assert_eq!(message.attr("from"), Some(juliet.jid.as_str()));
        assert_eq!(message.attr("to"), Some(romeo_bare.as_str()));
        let delay = message
            .get_child("delay", DELAY)
            .unwrap_or_else(|| panic!("no delay: {}", String::from(message)));
        assert_eq!(delay.attr("from"), Some(DOMAIN));
        let stamp = delay.attr("stamp").expect("a stamp");
        assert!(stamp.ends_with('Z'), "XEP-0082 UTC: {stamp}");
        let parsed: DateTime = stamp
            .parse()
            .unwrap_or_else(|e| panic!("{stamp} is not an XEP-0082 DateTime: {e}"));
        let age = now - parsed.0.timestamp();
        assert!((0..60).contains(&age), "stamped when received: {stamp}");
    }
    assert_eq!(got[0].attr("type"), Some("chat"));
    assert_eq!(got[0].attr("id"), Some("o1"));
    assert!(got[0].get_child("body", CLIENT).is_some());
    romeo.logout().await;
    let mut again = online_with_priority(cluster.c2s(1), &romeo_name, 1).await;
    again
        .expect_none("an offline message delivered twice", |e| {
            e.name() == "message"
        })
        .await;
    again.logout().await;
    juliet.logout().await;
}

/// A shard serves only the users it owns (cluster-api's `shard_of`): a `SessionBound` for a
/// JID owned by another shard is refused with `FAILED_PRECONDITION`, so one user's state is
/// never split over two shards.
#[tokio::test]
async fn a_shard_refuses_a_session_of_a_jid_it_does_not_own() {
    let cluster = Cluster::from_env();
    let user = "stranger";
    let owner = cluster.shard_of(user);
    assert!(owner < cluster.shards.get());
    for index in (0..cluster.shards.get()).filter(|i| *i != owner) {
        let channel = cluster_api::remote::channels(
            &[cluster.shard_grpc(index)],
            cluster_api::remote::RemoteSettings::default(),
        )
        .unwrap()
        .remove(0);
        let request = SessionBoundRequest {
            session: Some(SessionAddress {
                node: "cluster-im-test".into(),
                id: 1,
                jid: format!("{user}@{DOMAIN}/balcony"),
            }),
            restored: None,
        };
        let status = RosterPresenceClient::new(channel)
            .session_bound(request)
            .await
            .expect_err("the session of another shard's user was accepted");
        assert_eq!(
            status.code(),
            tonic::Code::FailedPrecondition,
            "shard {index} (owner: {owner}): {status}"
        );
    }
}
