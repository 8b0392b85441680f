//! RFC 6121 §3 (subscriptions) and §4 (presence), end to end: real clients of a library we
//! did not write (tokio-xmpp) talk to the connection manager, which routes through the
//! roster-presence shard. Each test names the section it shows.

mod support;

use support::peer::{Peer, is, item, presence, push_for};
use support::{DOMAIN, TestServer};
use tokio_xmpp::minidom::Element;

/// A roster push for `contact` with `subscription` and, when `ask`, `ask='subscribe'`.
fn push(e: &Element, contact: &str, subscription: &str, ask: bool) -> bool {
    push_for(e, contact)
        && item(e).is_some_and(|i| {
            i.attr("subscription") == Some(subscription)
                && i.attr("ask") == ask.then_some("subscribe")
        })
}

/// Logs `user` in, requests the roster (interested resource) and sends initial presence.
async fn online(server: &TestServer, user: &str) -> Peer {
    let mut p = Peer::login(server, user).await;
    p.roster().await;
    p.send("<presence/>").await;
    let me = p.jid.clone();
    p.expect("own presence", |e| presence(e, &me, None)).await;
    p.drain().await;
    p
}

/// `a` asks `b` for a subscription and `b` approves (§3.1), then everything is drained.
async fn subscribe(a: &mut Peer, b: &mut Peer) {
    a.send(&format!("<presence to='{}' type='subscribe'/>", b.bare()))
        .await;
    let from = a.bare();
    b.expect("subscription request", |e| {
        presence(e, &from, Some("subscribe"))
    })
    .await;
    b.send(&format!("<presence to='{}' type='subscribed'/>", a.bare()))
        .await;
    let from = b.bare();
    a.expect("approval", |e| presence(e, &from, Some("subscribed")))
        .await;
    a.drain().await;
    b.drain().await;
}

#[tokio::test]
async fn rfc6121_3_1_subscription_handshake_with_pushes_and_presence() {
    let server = support::start(|_| {}).await;
    let mut juliet = online(&server, "juliet").await;
    let mut romeo = online(&server, "romeo").await;
    // §3.1.1, §3.1.2: the request is routed stamped with bare JIDs, and the user's roster
    // shows "none" with ask='subscribe'.
    juliet
        .send("<presence to='romeo@localhost' type='subscribe' id='sub1'/>")
        .await;
    juliet
        .expect("push none+ask", |e| {
            push(e, "romeo@localhost", "none", true)
        })
        .await;
    let request = romeo
        .expect("request", |e| {
            presence(e, "juliet@localhost", Some("subscribe"))
        })
        .await;
    assert_eq!(request.attr("to"), Some("romeo@localhost"));
    assert_eq!(request.attr("id"), Some("sub1"));
    // §3.1.3 security warning: a request does not add the requester to the roster.
    romeo
        .expect_none("roster push", |e| push_for(e, "juliet@localhost"))
        .await;
    // §3.1.5: approval pushes "from" to the contact and sends the contact's presence.
    romeo
        .send("<presence to='juliet@localhost' type='subscribed'/>")
        .await;
    romeo
        .expect("push from", |e| push(e, "juliet@localhost", "from", false))
        .await;
    // §3.1.6: the user gets the approval before the push, then the contact's presence.
    juliet
        .expect("approval", |e| {
            presence(e, "romeo@localhost", Some("subscribed"))
        })
        .await;
    juliet
        .expect("push to", |e| push(e, "romeo@localhost", "to", false))
        .await;
    let romeo_full = romeo.jid.clone();
    let current = juliet
        .expect("romeo's presence", |e| presence(e, &romeo_full, None))
        .await;
    assert_eq!(current.attr("to"), Some("juliet@localhost"));
    server.stop().await;
}

#[tokio::test]
async fn rfc6121_3_1_mutual_subscription_is_both_and_presence_flows_both_ways() {
    let server = support::start(|_| {}).await;
    let mut juliet = online(&server, "juliet").await;
    let mut romeo = online(&server, "romeo").await;
    subscribe(&mut juliet, &mut romeo).await;
    romeo
        .send("<presence to='juliet@localhost' type='subscribe'/>")
        .await;
    juliet
        .expect("request", |e| {
            presence(e, "romeo@localhost", Some("subscribe"))
        })
        .await;
    juliet
        .send("<presence to='romeo@localhost' type='subscribed'/>")
        .await;
    juliet
        .expect("push both", |e| push(e, "romeo@localhost", "both", false))
        .await;
    romeo
        .expect("push both", |e| push(e, "juliet@localhost", "both", false))
        .await;
    let juliet_full = juliet.jid.clone();
    romeo
        .expect("juliet's presence", |e| presence(e, &juliet_full, None))
        .await;
    // §4.4: a subsequent presence reaches the subscribed contact with its full XML.
    juliet
        .send("<presence><show>away</show><status>balcony</status></presence>")
        .await;
    let update = romeo
        .expect("update", |e| presence(e, &juliet_full, None))
        .await;
    assert_eq!(
        update
            .get_child("show", "jabber:client")
            .map(Element::text)
            .as_deref(),
        Some("away")
    );
    assert_eq!(
        update
            .get_child("status", "jabber:client")
            .map(Element::text)
            .as_deref(),
        Some("balcony")
    );
    server.stop().await;
}

#[tokio::test]
async fn rfc6121_3_2_1_denial_leaves_the_user_with_none() {
    let server = support::start(|_| {}).await;
    let mut juliet = online(&server, "juliet").await;
    let mut romeo = online(&server, "romeo").await;
    juliet
        .send("<presence to='romeo@localhost' type='subscribe'/>")
        .await;
    romeo
        .expect("request", |e| {
            presence(e, "juliet@localhost", Some("subscribe"))
        })
        .await;
    romeo
        .send("<presence to='juliet@localhost' type='unsubscribed'/>")
        .await;
    juliet
        .expect("denial", |e| {
            presence(e, "romeo@localhost", Some("unsubscribed"))
        })
        .await;
    juliet
        .expect("push none", |e| push(e, "romeo@localhost", "none", false))
        .await;
    // Denied requests are not redelivered (§3.1.3 rule 4 ends with the answer).
    romeo.logout().await;
    let mut romeo = Peer::login(&server, "romeo").await;
    romeo.send("<presence/>").await;
    romeo
        .expect_none("old request", |e| {
            is(e, "presence", Some("subscribe"), None)
        })
        .await;
    server.stop().await;
}

#[tokio::test]
async fn rfc6121_3_2_cancellation_sends_unavailable_then_unsubscribed() {
    let server = support::start(|_| {}).await;
    let mut juliet = online(&server, "juliet").await;
    let mut romeo = online(&server, "romeo").await;
    // Romeo subscribes to Juliet.
    subscribe(&mut romeo, &mut juliet).await;
    // §3.2.2: Juliet cancels Romeo's subscription to her presence.
    juliet
        .send("<presence to='romeo@localhost' type='unsubscribed'/>")
        .await;
    juliet
        .expect("push none", |e| push(e, "romeo@localhost", "none", false))
        .await;
    let juliet_full = juliet.jid.clone();
    romeo
        .expect("unavailable first", |e| {
            presence(e, &juliet_full, Some("unavailable"))
        })
        .await;
    romeo
        .expect("then unsubscribed", |e| {
            presence(e, "juliet@localhost", Some("unsubscribed"))
        })
        .await;
    romeo
        .expect("push none", |e| push(e, "juliet@localhost", "none", false))
        .await;
    // No more presence reaches Romeo.
    juliet.send("<presence><show>dnd</show></presence>").await;
    romeo
        .expect_none("presence", |e| presence(e, &juliet_full, None))
        .await;
    server.stop().await;
}

#[tokio::test]
async fn rfc6121_3_3_unsubscribe_ends_the_subscription_with_unavailable() {
    let server = support::start(|_| {}).await;
    let mut juliet = online(&server, "juliet").await;
    let mut romeo = online(&server, "romeo").await;
    subscribe(&mut juliet, &mut romeo).await;
    // §3.3.2: Juliet unsubscribes from Romeo's presence.
    juliet
        .send("<presence to='romeo@localhost' type='unsubscribe'/>")
        .await;
    // §3.3.3: the contact's server sends unavailable from each available resource. (It
    // arrives before the user's own push: the stanza is routed before the push is sent.)
    let romeo_full = romeo.jid.clone();
    juliet
        .expect("unavailable", |e| {
            presence(e, &romeo_full, Some("unavailable"))
        })
        .await;
    juliet
        .expect("push none", |e| push(e, "romeo@localhost", "none", false))
        .await;
    romeo
        .expect("unsubscribe", |e| {
            presence(e, "juliet@localhost", Some("unsubscribe"))
        })
        .await;
    romeo
        .expect("push none", |e| push(e, "juliet@localhost", "none", false))
        .await;
    server.stop().await;
}

#[tokio::test]
async fn rfc6121_3_1_3_requests_to_offline_contacts_are_delivered_at_every_login_until_answered() {
    let server = support::start(|_| {}).await;
    let mut juliet = online(&server, "juliet").await;
    juliet
        .send("<presence to='nurse@localhost' type='subscribe'><status>hello</status></presence>")
        .await;
    juliet
        .expect("push", |e| push(e, "nurse@localhost", "none", true))
        .await;
    for _ in 0..2 {
        let mut nurse = Peer::login(&server, "nurse").await;
        nurse.send("<presence/>").await;
        let request = nurse
            .expect("stored request", |e| {
                presence(e, "juliet@localhost", Some("subscribe"))
            })
            .await;
        // §3.1.3 rule 4: the complete stanza, extended content included.
        assert_eq!(
            request
                .get_child("status", "jabber:client")
                .map(Element::text)
                .as_deref(),
            Some("hello")
        );
        nurse.logout().await;
    }
    let mut nurse = Peer::login(&server, "nurse").await;
    nurse.send("<presence/>").await;
    nurse
        .expect("stored request", |e| {
            presence(e, "juliet@localhost", Some("subscribe"))
        })
        .await;
    nurse
        .send("<presence to='juliet@localhost' type='subscribed'/>")
        .await;
    juliet
        .expect("push to", |e| push(e, "nurse@localhost", "to", false))
        .await;
    nurse.logout().await;
    let mut nurse = Peer::login(&server, "nurse").await;
    nurse.send("<presence/>").await;
    nurse
        .expect_none("answered request", |e| {
            is(e, "presence", Some("subscribe"), None)
        })
        .await;
    server.stop().await;
}

#[tokio::test]
async fn rfc6121_3_4_pre_approval_answers_the_request_without_asking() {
    let server = support::start(|_| {}).await;
    let mut juliet = online(&server, "juliet").await;
    let mut nurse = online(&server, "nurse").await;
    juliet
        .send("<presence to='nurse@localhost' type='subscribed'/>")
        .await;
    let pushed = juliet
        .expect("push approved", |e| push_for(e, "nurse@localhost"))
        .await;
    let pushed = item(&pushed).unwrap();
    assert_eq!(pushed.attr("approved"), Some("true"));
    assert_eq!(pushed.attr("subscription"), Some("none"));
    // §3.4.2 rule 3: nothing is routed to the contact yet.
    nurse
        .expect_none("pre-approval", |e| {
            is(e, "presence", Some("subscribed"), None)
        })
        .await;
    nurse
        .send("<presence to='juliet@localhost' type='subscribe'/>")
        .await;
    nurse
        .expect("automatic approval", |e| {
            presence(e, "juliet@localhost", Some("subscribed"))
        })
        .await;
    juliet
        .expect("push from", |e| push(e, "nurse@localhost", "from", false))
        .await;
    juliet
        .expect_none("request", |e| is(e, "presence", Some("subscribe"), None))
        .await;
    server.stop().await;
}

#[tokio::test]
async fn rfc6121_4_2_and_4_3_initial_presence_broadcast_and_probes_on_login() {
    let server = support::start(|_| {}).await;
    let mut juliet = online(&server, "juliet").await;
    let mut romeo = online(&server, "romeo").await;
    subscribe(&mut juliet, &mut romeo).await;
    subscribe(&mut romeo, &mut juliet).await;
    juliet
        .send("<presence id='j1'><show>chat</show></presence>")
        .await;
    romeo.drain().await;
    romeo.logout().await;
    juliet.drain().await;
    // A new session of Romeo: its initial presence reaches Juliet (§4.2.2, §4.2.3), and the
    // probe on login brings Juliet's last presence with its 'id' (§4.3.2, §4.3.2.1).
    let mut romeo = Peer::login(&server, "romeo").await;
    romeo.send("<presence/>").await;
    let romeo_full = romeo.jid.clone();
    let seen = juliet
        .expect("initial presence", |e| presence(e, &romeo_full, None))
        .await;
    assert_eq!(seen.attr("to"), Some("juliet@localhost"));
    // §4.2.2: the user's own resources get it too, the sending one included; the probe
    // replies follow.
    romeo
        .expect("own presence", |e| presence(e, &romeo_full, None))
        .await;
    let juliet_full = juliet.jid.clone();
    let probed = romeo
        .expect("probe reply", |e| presence(e, &juliet_full, None))
        .await;
    assert_eq!(probed.attr("id"), Some("j1"));
    assert_eq!(
        probed
            .get_child("show", "jabber:client")
            .map(Element::text)
            .as_deref(),
        Some("chat")
    );
    server.stop().await;
}

#[tokio::test]
async fn rfc6121_4_2_a_second_resource_learns_the_first_and_is_announced_to_it() {
    let server = support::start(|_| {}).await;
    let mut first = online(&server, "juliet").await;
    let mut second = Peer::login(&server, "juliet").await;
    second
        .send("<presence><priority>3</priority></presence>")
        .await;
    let second_full = second.jid.clone();
    first
        .expect("other resource", |e| presence(e, &second_full, None))
        .await;
    let first_full = first.jid.clone();
    second
        .expect("first resource", |e| presence(e, &first_full, None))
        .await;
    server.stop().await;
}

/// Sets up Juliet subscribed to Romeo's presence, both online, and returns them.
async fn juliet_watching_romeo(server: &TestServer) -> (Peer, Peer) {
    let mut juliet = online(server, "juliet").await;
    let mut romeo = online(server, "romeo").await;
    subscribe(&mut juliet, &mut romeo).await;
    (juliet, romeo)
}

#[tokio::test]
async fn rfc6121_4_5_explicit_unavailable_is_broadcast_with_its_full_xml() {
    let server = support::start(|_| {}).await;
    let (mut juliet, mut romeo) = juliet_watching_romeo(&server).await;
    romeo
        .send("<presence type='unavailable'><status>gone home</status></presence>")
        .await;
    let romeo_full = romeo.jid.clone();
    let gone = juliet
        .expect("unavailable", |e| {
            presence(e, &romeo_full, Some("unavailable"))
        })
        .await;
    assert_eq!(
        gone.get_child("status", "jabber:client")
            .map(Element::text)
            .as_deref(),
        Some("gone home")
    );
    // §4.5.2 implementation note: presence after unavailable is initial presence again.
    romeo.send("<presence/>").await;
    juliet
        .expect("available again", |e| presence(e, &romeo_full, None))
        .await;
    server.stop().await;
}

#[tokio::test]
async fn rfc6121_4_5_2_stream_close_generates_unavailable() {
    let server = support::start(|_| {}).await;
    let (mut juliet, romeo) = juliet_watching_romeo(&server).await;
    let romeo_full = romeo.jid.clone();
    romeo.logout().await;
    juliet
        .expect("generated unavailable", |e| {
            presence(e, &romeo_full, Some("unavailable"))
        })
        .await;
    server.stop().await;
}

#[tokio::test]
async fn rfc6121_4_5_2_tcp_drop_generates_unavailable() {
    let server = support::start(|_| {}).await;
    let mut juliet = online(&server, "juliet").await;
    // Romeo on a raw stream, so that the connection can be cut without closing the stream.
    let (mut raw, romeo_jid) = xmpp_stream::client::ClientStream::login(
        server.addr,
        DOMAIN,
        "romeo",
        support::PASSWORD,
        Some("orchard"),
        Some(support::tls_any()),
    )
    .await
    .unwrap();
    let mut romeo_peer = online(&server, "romeo").await;
    subscribe(&mut juliet, &mut romeo_peer).await;
    romeo_peer.logout().await;
    juliet.drain().await;
    raw.send(&xmpp_core::Element::new("presence", "jabber:client"))
        .await
        .unwrap();
    let romeo_full = romeo_jid.to_string();
    juliet
        .expect("available", |e| presence(e, &romeo_full, None))
        .await;
    drop(raw);
    juliet
        .expect("generated unavailable", |e| {
            presence(e, &romeo_full, Some("unavailable"))
        })
        .await;
    server.stop().await;
}

#[tokio::test]
async fn rfc6121_4_6_directed_presence_and_its_unavailable_at_the_end() {
    let server = support::start(|_| {}).await;
    let mut juliet = online(&server, "juliet").await;
    let mut nurse = online(&server, "nurse").await;
    let mut romeo = online(&server, "romeo").await;
    // §4.6.3 rule 2: no subscription; the full XML is delivered.
    juliet
        .send("<presence to='nurse@localhost'><show>xa</show></presence>")
        .await;
    let juliet_full = juliet.jid.clone();
    let directed = nurse
        .expect("directed presence", |e| presence(e, &juliet_full, None))
        .await;
    assert_eq!(directed.attr("to"), Some("nurse@localhost"));
    // Not added to later broadcasts.
    juliet.send("<presence><show>away</show></presence>").await;
    nurse
        .expect_none("broadcast", |e| presence(e, &juliet_full, None))
        .await;
    // Directed to Romeo, then withdrawn with directed unavailable.
    juliet.send("<presence to='romeo@localhost'/>").await;
    romeo
        .expect("directed presence", |e| presence(e, &juliet_full, None))
        .await;
    juliet
        .send("<presence to='romeo@localhost' type='unavailable'/>")
        .await;
    romeo
        .expect("directed unavailable", |e| {
            presence(e, &juliet_full, Some("unavailable"))
        })
        .await;
    // Presence to a full JID reaches that resource only (§4.6.2, §8.5.3.1).
    let mut romeo_too = online(&server, "romeo").await;
    romeo.drain().await;
    juliet
        .send(&format!(
            "<presence to='{}'><show>dnd</show></presence>",
            romeo.jid
        ))
        .await;
    romeo
        .expect("directed to the full JID", |e| {
            presence(e, &juliet_full, None)
        })
        .await;
    romeo_too
        .expect_none("directed to the other resource", |e| {
            presence(e, &juliet_full, None)
        })
        .await;
    juliet
        .send(&format!(
            "<presence to='{}' type='unavailable'/>",
            romeo.jid
        ))
        .await;
    romeo
        .expect("directed unavailable", |e| {
            presence(e, &juliet_full, Some("unavailable"))
        })
        .await;
    // Going offline: the Nurse, still on the list, gets unavailable; Romeo does not again.
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
    server.stop().await;
}

#[tokio::test]
async fn rfc6121_4_6_6_probe_of_a_directed_presence_gets_mere_presence() {
    let server = support::start(|_| {}).await;
    let mut juliet = online(&server, "juliet").await;
    let mut nurse = online(&server, "nurse").await;
    juliet
        .send("<presence to='nurse@localhost'><show>xa</show></presence>")
        .await;
    let juliet_full = juliet.jid.clone();
    nurse
        .expect("directed presence", |e| presence(e, &juliet_full, None))
        .await;
    nurse
        .send(&format!("<presence to='{juliet_full}' type='probe'/>"))
        .await;
    let reply = nurse
        .expect("probe reply", |e| presence(e, &juliet_full, None))
        .await;
    // The client library adds a default <priority>0</priority> when it parses presence;
    // what matters is that neither show nor status came through.
    assert!(
        reply
            .children()
            .all(|c| c.name() == "priority" && c.text() == "0"),
        "only availability: {}",
        String::from(&reply)
    );
    server.stop().await;
}
