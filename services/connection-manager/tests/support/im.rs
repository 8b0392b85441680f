//! Helpers shared by the RFC 6121 roster (§2) and delivery-rule (§8) tests: servers with
//! shard settings, available resources, roster and error assertions.

use std::future::Future;

use tokio_xmpp::minidom::Element;

use super::peer::{Peer, error_condition, is, presence, push_for};
use super::{DOMAIN, TestServer};

/// The roster namespace.
pub const ROSTER: &str = "jabber:iq:roster";
/// The client namespace.
pub const CLIENT: &str = "jabber:client";
/// XEP-0203 delayed delivery.
pub const DELAY: &str = "urn:xmpp:delay";
/// XEP-0030 disco#info.
pub const DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";

/// Sends available presence (with `priority` when given) and waits for the server's echo
/// to this resource, which it sends once the shard has recorded the presence (§4.2.2).
pub async fn available(peer: &mut Peer, priority: Option<i8>) {
    match priority {
        None => peer.send("<presence />").await,
        Some(p) => {
            peer.send(&format!("<presence ><priority>{p}</priority></presence>"))
                .await;
        }
    }
    let jid = peer.jid.clone();
    peer.expect("own presence", |e| presence(e, &jid, None))
        .await;
}

/// Logs `user` in and makes the resource available with `priority`.
pub async fn online(server: &TestServer, user: &str, priority: Option<i8>) -> Peer {
    let mut peer = Peer::login(server, user).await;
    available(&mut peer, priority).await;
    peer
}

/// The `<query xmlns='jabber:iq:roster'/>` of a roster result or push.
pub fn query(e: &Element) -> Option<&Element> {
    e.get_child("query", ROSTER)
}

/// The items of a roster result.
pub fn items(e: &Element) -> Vec<&Element> {
    query(e)
        .expect("a roster query")
        .children()
        .filter(|c| c.is("item", ROSTER))
        .collect()
}

/// The group names of a roster item, in document order.
pub fn groups(item: &Element) -> Vec<String> {
    item.children()
        .filter(|c| c.is("group", ROSTER))
        .map(Element::text)
        .collect()
}

/// The `ver` of a roster result or push.
pub fn ver(e: &Element) -> String {
    query(e)
        .and_then(|q| q.attr("ver"))
        .unwrap_or_else(|| panic!("no ver in {}", String::from(e)))
        .to_owned()
}

/// `<iq type='set'>` with a roster `<item/>` (XML of the item's attributes and children).
pub fn roster_set(id: &str, item: &str) -> String {
    format!("<iq type='set' id='{id}'><query xmlns='{ROSTER}'>{item}</query></iq>")
}

/// The body text of a message, if any.
pub fn body(e: &Element) -> Option<String> {
    e.get_child("body", CLIENT).map(Element::text)
}

/// A `<message/>` (of any type but error) whose body is `text`.
pub fn message_with(e: &Element, text: &str) -> bool {
    e.name() == "message" && e.attr("type") != Some("error") && body(e).as_deref() == Some(text)
}

/// An error reply of element `name` to the stanza with id `id`.
pub fn error_reply(e: &Element, name: &str, id: &str) -> bool {
    is(e, name, Some("error"), Some(id))
}

/// Waits for the reply with element `name` and `id` and asserts that it is a stanza error
/// with `condition` (RFC 6120 §8.3); returns it for further checks.
pub async fn expect_error(peer: &mut Peer, name: &str, id: &str, condition: &str) -> Element {
    let reply = peer
        .expect("error reply", |e| {
            e.name() == name && e.attr("id") == Some(id)
        })
        .await;
    assert!(error_reply(&reply, name, id), "{}", String::from(&reply));
    assert_eq!(
        error_condition(&reply).as_deref(),
        Some(condition),
        "{}",
        String::from(&reply)
    );
    reply
}

/// An XEP-0199 ping to `to` with `id`.
pub fn ping_iq(id: &str, to: &str) -> String {
    format!("<iq to='{to}' type='get' id='{id}'><ping xmlns='urn:xmpp:ping'/></iq>")
}

/// Any IQ request (get or set) carrying `id`.
pub fn iq_request(e: &Element, id: &str) -> bool {
    e.name() == "iq" && matches!(e.attr("type"), Some("get" | "set")) && e.attr("id") == Some(id)
}

/// Waits for two stanzas that may come in either order; returns them as (`a`, `b`).
pub async fn expect_both(
    peer: &mut Peer,
    what: &str,
    a: impl Fn(&Element) -> bool,
    b: impl Fn(&Element) -> bool,
) -> (Element, Element) {
    let first = peer.expect(what, |e| a(e) || b(e)).await;
    if a(&first) {
        let second = peer.expect(what, &b).await;
        (first, second)
    } else {
        let second = peer.expect(what, &a).await;
        (second, first)
    }
}

/// Sends a roster set and returns (push to this resource, iq result).
pub async fn set_and_push(
    peer: &mut Peer,
    id: &str,
    jid: &str,
    item_xml: &str,
) -> (Element, Element) {
    peer.send(&roster_set(id, item_xml)).await;
    expect_both(
        peer,
        "roster push and result",
        |e| push_for(e, jid),
        |e| is(e, "iq", Some("result"), Some(id)),
    )
    .await
}

/// Checks a roster push addressed to `to` (§2.1.6): type set, no 'from' (or the user's bare
/// JID), exactly one item.
pub fn assert_push(push: &Element, to: &str, user: &str) {
    assert!(is(push, "iq", Some("set"), None), "{}", String::from(push));
    assert_eq!(push.attr("to"), Some(to), "a push goes to one resource");
    assert!(
        push.attr("from").is_none_or(|f| f == user),
        "§2.1.6 rule 2: a push comes from the user's own account: {}",
        String::from(push)
    );
    assert!(push.attr("id").is_some_and(|id| !id.is_empty()));
    assert_eq!(items(push).len(), 1, "§2.1.6 rule 1: exactly one item");
}

/// Runs a test body with a fresh server, then stops it.
pub async fn with_server<F, Fut>(shard: impl FnOnce(&mut roster_presence::ShardConfig), body: F)
where
    F: FnOnce(TestServer) -> Fut,
    Fut: Future<Output = TestServer>,
{
    let server = super::start_with(|_| {}, shard).await;
    let server = body(server).await;
    server.stop().await;
}

pub fn full(user: &str, resource: &str) -> String {
    format!("{user}@{DOMAIN}/{resource}")
}
