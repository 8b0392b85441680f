//! RFC 6121 §2 (roster management) and §8 (server rules for messages and IQs) against the
//! real server, driven by a client library we did not write (tokio-xmpp).
//!
//! Every test starts its own server and checks exact protocol outcomes: element names,
//! types, addresses, roster item attributes and error conditions. Where §8 lets the server
//! choose, the tests check the choice documented in the roster-presence `delivery` and
//! `roster` modules.

mod support;

use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use support::peer::{Peer, error_condition, is, item, presence, push_for};
use support::{DOMAIN, TestServer};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::date::DateTime;

const ROSTER: &str = "jabber:iq:roster";
const CLIENT: &str = "jabber:client";
const DELAY: &str = "urn:xmpp:delay";
const DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Sends available presence (with `priority` when given) and waits for the server's echo
/// to this resource, which it sends once the shard has recorded the presence (§4.2.2).
async fn available(peer: &mut Peer, priority: Option<i8>) {
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
async fn online(server: &TestServer, user: &str, priority: Option<i8>) -> Peer {
    let mut peer = Peer::login(server, user).await;
    available(&mut peer, priority).await;
    peer
}

/// The `<query xmlns='jabber:iq:roster'/>` of a roster result or push.
fn query(e: &Element) -> Option<&Element> {
    e.get_child("query", ROSTER)
}

/// The items of a roster result.
fn items(e: &Element) -> Vec<&Element> {
    query(e)
        .expect("a roster query")
        .children()
        .filter(|c| c.is("item", ROSTER))
        .collect()
}

/// The group names of a roster item, in document order.
fn groups(item: &Element) -> Vec<String> {
    item.children()
        .filter(|c| c.is("group", ROSTER))
        .map(Element::text)
        .collect()
}

/// The `ver` of a roster result or push.
fn ver(e: &Element) -> String {
    query(e)
        .and_then(|q| q.attr("ver"))
        .unwrap_or_else(|| panic!("no ver in {}", String::from(e)))
        .to_owned()
}

/// `<iq type='set'>` with a roster `<item/>` (XML of the item's attributes and children).
fn roster_set(id: &str, item: &str) -> String {
    format!("<iq type='set' id='{id}'><query xmlns='{ROSTER}'>{item}</query></iq>")
}

/// The body text of a message, if any.
fn body(e: &Element) -> Option<String> {
    e.get_child("body", CLIENT).map(Element::text)
}

/// A `<message/>` (of any type but error) whose body is `text`.
fn message_with(e: &Element, text: &str) -> bool {
    e.name() == "message" && e.attr("type") != Some("error") && body(e).as_deref() == Some(text)
}

/// An error reply of element `name` to the stanza with id `id`.
fn error_reply(e: &Element, name: &str, id: &str) -> bool {
    is(e, name, Some("error"), Some(id))
}

/// Waits for the reply with element `name` and `id` and asserts that it is a stanza error
/// with `condition` (RFC 6120 §8.3); returns it for further checks.
async fn expect_error(peer: &mut Peer, name: &str, id: &str, condition: &str) -> Element {
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
fn ping_iq(id: &str, to: &str) -> String {
    format!("<iq to='{to}' type='get' id='{id}'><ping xmlns='urn:xmpp:ping'/></iq>")
}

/// Any IQ request (get or set) carrying `id`.
fn iq_request(e: &Element, id: &str) -> bool {
    e.name() == "iq" && matches!(e.attr("type"), Some("get" | "set")) && e.attr("id") == Some(id)
}

/// Waits for two stanzas that may come in either order; returns them as (`a`, `b`).
async fn expect_both(
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
async fn set_and_push(peer: &mut Peer, id: &str, jid: &str, item_xml: &str) -> (Element, Element) {
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
fn assert_push(push: &Element, to: &str, user: &str) {
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
async fn with_server<F, Fut>(shard: impl FnOnce(&mut roster_presence::ShardConfig), body: F)
where
    F: FnOnce(TestServer) -> Fut,
    Fut: Future<Output = TestServer>,
{
    let server = support::start_with(|_| {}, shard).await;
    let server = body(server).await;
    server.stop().await;
}

fn full(user: &str, resource: &str) -> String {
    format!("{user}@{DOMAIN}/{resource}")
}

// ---------------------------------------------------------------------------------------
// §2 Roster management
// ---------------------------------------------------------------------------------------

/// RFC 6121 §2.1.4 (an empty roster is an empty query, not an error), §2.3.2 (adding an item:
/// a push to the setting resource and a result), §2.2 (a later get returns what was stored).
#[tokio::test]
async fn rfc6121_2_1_4_and_2_3_empty_roster_add_item_push_and_get() {
    with_server(
        |_| {},
        |server| async move {
            let mut juliet = Peer::login(&server, "juliet").await;
            let result = juliet.roster().await;
            assert!(is(&result, "iq", Some("result"), Some("roster-get")));
            assert_eq!(result.attr("to"), Some(juliet.jid.as_str()));
            let q = query(&result).expect("§2.1.4: an empty roster is an empty query");
            assert_eq!(q.children().count(), 0, "{}", String::from(&result));
            assert!(
                q.attr("ver").is_some(),
                "§2.6.3: the server SHOULD include 'ver' on all roster results"
            );

            let (push, result) = set_and_push(
                &mut juliet,
                "add1",
                "nurse@localhost",
                "<item jid='nurse@localhost' name='Nurse'>\
                 <group>Servants</group><group>Friends</group></item>",
            )
            .await;
            assert_push(&push, &juliet.jid, "juliet@localhost");
            let pushed = item(&push).unwrap();
            assert_eq!(pushed.attr("jid"), Some("nurse@localhost"));
            assert_eq!(pushed.attr("name"), Some("Nurse"));
            assert_eq!(pushed.attr("subscription"), Some("none"));
            assert_eq!(pushed.attr("ask"), None);
            assert_eq!(pushed.attr("approved"), None);
            assert_eq!(groups(pushed), ["Servants", "Friends"]);
            assert!(
                query(&push).and_then(|q| q.attr("ver")).is_some(),
                "§2.6.3: every push carries the roster version"
            );
            assert_eq!(result.attr("to"), Some(juliet.jid.as_str()));
            assert_eq!(result.children().count(), 0, "§2.3.2: an empty result");

            // §2.6.2 example: a roster get may be addressed to the user's own bare JID.
            juliet
                .send(
                    "<iq type='get' id='get2' to='juliet@localhost'>\
                     <query xmlns='jabber:iq:roster'/></iq>",
                )
                .await;
            let result = juliet
                .expect("roster result", |e| {
                    is(e, "iq", Some("result"), Some("get2"))
                })
                .await;
            assert_eq!(result.attr("from"), Some("juliet@localhost"));
            let listed = items(&result);
            assert_eq!(listed.len(), 1);
            assert_eq!(listed[0], pushed, "the stored item is returned unmodified");
            juliet.logout().await;
            server
        },
    )
    .await;
}

/// RFC 6121 §2.1.6, §2.2: roster pushes go to interested resources (those that requested
/// the roster) only, including the one that made the change.
#[tokio::test]
async fn rfc6121_2_1_6_pushes_go_to_interested_resources_only() {
    with_server(
        |_| {},
        |server| async move {
            let mut interested = Peer::login(&server, "juliet").await;
            let mut other = Peer::login(&server, "juliet").await;
            assert_ne!(interested.jid, other.jid);
            interested.roster().await;

            let (push, _) = set_and_push(
                &mut interested,
                "s1",
                "nurse@localhost",
                "<item jid='nurse@localhost'/>",
            )
            .await;
            assert_push(&push, &interested.jid, "juliet@localhost");
            other
                .expect_none(
                    "roster push to a resource that never asked for the roster",
                    |e| is(e, "iq", Some("set"), None),
                )
                .await;

            // A change made by the uninterested resource: it gets its result but no push;
            // the interested one gets the push.
            other
                .send(&roster_set("s2", "<item jid='romeo@localhost'/>"))
                .await;
            other
                .expect("roster set result", |e| {
                    is(e, "iq", Some("result"), Some("s2"))
                })
                .await;
            let push = interested
                .expect("push for romeo", |e| push_for(e, "romeo@localhost"))
                .await;
            assert_push(&push, &interested.jid, "juliet@localhost");
            other
                .expect_none("roster push", |e| is(e, "iq", Some("set"), None))
                .await;
            interested.logout().await;
            other.logout().await;
            server
        },
    )
    .await;
}

/// RFC 6121 §2.4: an update replaces the item exactly as given: a new name, groups not
/// listed are gone, and an empty name is no name (§2.4.1 implementation note).
#[tokio::test]
async fn rfc6121_2_4_update_replaces_the_item_exactly() {
    with_server(
        |_| {},
        |server| async move {
            let mut juliet = Peer::login(&server, "juliet").await;
            juliet.roster().await;
            set_and_push(
                &mut juliet,
                "u1",
                "romeo@localhost",
                "<item jid='romeo@localhost' name='Romeo'>\
                 <group>Friends</group><group>Lovers</group></item>",
            )
            .await;

            let (push, _) = set_and_push(
                &mut juliet,
                "u2",
                "romeo@localhost",
                "<item jid='romeo@localhost' name='MyRomeo'/>",
            )
            .await;
            let pushed = item(&push).unwrap();
            assert_eq!(pushed.attr("name"), Some("MyRomeo"));
            assert_eq!(pushed.attr("subscription"), Some("none"));
            assert!(groups(pushed).is_empty(), "{}", String::from(&push));
            let result = juliet.roster().await;
            let listed = items(&result);
            assert_eq!(listed.len(), 1);
            assert_eq!(listed[0].attr("name"), Some("MyRomeo"));
            assert!(groups(listed[0]).is_empty());

            // The same contact written differently is the same item (JIDs are compared
            // after normalization).
            let (push, _) = set_and_push(
                &mut juliet,
                "u3",
                "romeo@localhost",
                "<item jid='Romeo@LocalHost' name=''><group>Lovers</group></item>",
            )
            .await;
            let pushed = item(&push).unwrap();
            assert_eq!(pushed.attr("name"), None, "an empty name is no name");
            assert_eq!(groups(pushed), ["Lovers"]);
            let result = juliet.roster().await;
            assert_eq!(items(&result), [pushed]);
            juliet.logout().await;
            server
        },
    )
    .await;
}

/// RFC 6121 §2.1.2.5, §2.1.5 rule 2: the server ignores a client-set 'subscription' other
/// than "remove" (and the 'ask' and 'approved' a client must not send, §2.1.2.1-2).
#[tokio::test]
async fn rfc6121_2_1_2_5_client_set_subscription_is_ignored() {
    with_server(
        |_| {},
        |server| async move {
            let mut juliet = Peer::login(&server, "juliet").await;
            juliet.roster().await;
            let (push, _) = set_and_push(
                &mut juliet,
                "b1",
                "nurse@localhost",
                "<item jid='nurse@localhost' subscription='both' ask='subscribe' \
                 approved='true'/>",
            )
            .await;
            let pushed = item(&push).unwrap();
            assert_eq!(pushed.attr("subscription"), Some("none"));
            assert_eq!(pushed.attr("ask"), None);
            assert_eq!(pushed.attr("approved"), None);
            let result = juliet.roster().await;
            let listed = items(&result);
            assert_eq!(listed.len(), 1);
            assert_eq!(listed[0].attr("subscription"), Some("none"));
            juliet.logout().await;
            server
        },
    )
    .await;
}

/// RFC 6121 §2.5: removal pushes `subscription='remove'` and returns a result (§2.5.2);
/// removing an item that is not there is `<item-not-found/>` (§2.5.3).
#[tokio::test]
async fn rfc6121_2_5_remove_and_remove_unknown() {
    with_server(
        |_| {},
        |server| async move {
            let mut juliet = Peer::login(&server, "juliet").await;
            juliet.roster().await;
            set_and_push(
                &mut juliet,
                "r1",
                "nurse@localhost",
                "<item jid='nurse@localhost' name='Nurse'><group>Servants</group></item>",
            )
            .await;

            let (push, result) = set_and_push(
                &mut juliet,
                "r2",
                "nurse@localhost",
                "<item jid='nurse@localhost' subscription='remove'/>",
            )
            .await;
            assert_push(&push, &juliet.jid, "juliet@localhost");
            let pushed = item(&push).unwrap();
            assert_eq!(pushed.attr("subscription"), Some("remove"));
            assert_eq!(pushed.attr("name"), None);
            assert!(groups(pushed).is_empty());
            assert_eq!(result.children().count(), 0);
            let result = juliet.roster().await;
            assert!(items(&result).is_empty(), "{}", String::from(&result));

            juliet
                .send(&roster_set(
                    "r3",
                    "<item jid='nurse@localhost' subscription='remove'/>",
                ))
                .await;
            expect_error(&mut juliet, "iq", "r3", "item-not-found").await;
            juliet
                .expect_none("a push for a failed removal", |e| {
                    is(e, "iq", Some("set"), None)
                })
                .await;
            juliet.logout().await;
            server
        },
    )
    .await;
}

/// RFC 6121 §2.3.3 error cases (and §2.1.3, §2.1.2.3 for malformed requests): none of them
/// changes the roster or sends a push.
#[tokio::test]
async fn rfc6121_2_3_3_roster_set_error_cases() {
    with_server(
        |_| {},
        |server| async move {
            let mut juliet = Peer::login(&server, "juliet").await;
            juliet.roster().await;
            let long = "x".repeat(1024);
            let cases = [
                (
                    "e1",
                    // §2.3.3 bad-request 1 (and §2.1.5 rule 1).
                    "<item jid='nurse@localhost' name='Nurse'><group>Servants</group></item>\
                     <item jid='romeo@localhost' name='Romeo'><group>Family</group></item>"
                        .to_owned(),
                    "bad-request",
                ),
                (
                    "e2",
                    // §2.3.3 bad-request 2.
                    "<item jid='nurse@localhost'><group>Servants</group>\
                     <group>Servants</group></item>"
                        .to_owned(),
                    "bad-request",
                ),
                (
                    "e3",
                    // §2.3.3 not-acceptable 1: longer than the server's limit.
                    format!("<item jid='nurse@localhost' name='{long}'/>"),
                    "not-acceptable",
                ),
                (
                    "e4",
                    // §2.3.3 not-acceptable 2.
                    "<item jid='nurse@localhost'><group></group></item>".to_owned(),
                    "not-acceptable",
                ),
                (
                    "e5",
                    // §2.3.3 not-acceptable 3.
                    format!("<item jid='nurse@localhost'><group>{long}</group></item>"),
                    "not-acceptable",
                ),
                (
                    "e6",
                    // §2.1.2.3: 'jid' is required.
                    "<item name='Nobody'/>".to_owned(),
                    "bad-request",
                ),
                (
                    "e7",
                    // Roster items are bare JIDs (§3.1.1).
                    "<item jid='nurse@localhost/station'/>".to_owned(),
                    "bad-request",
                ),
                (
                    "e8",
                    // Not an address (RFC 6120 §8.3.3.8).
                    "<item jid='@localhost'/>".to_owned(),
                    "jid-malformed",
                ),
                (
                    "e9",
                    // §2.1.5 rule 1: exactly one item, so none is an error too.
                    String::new(),
                    "bad-request",
                ),
            ];
            for (id, item_xml, condition) in &cases {
                juliet.send(&roster_set(id, item_xml)).await;
                let reply = expect_error(&mut juliet, "iq", id, condition).await;
                assert_eq!(reply.attr("to"), Some(juliet.jid.as_str()));
            }
            // §2.1.3: a roster get carries no item.
            juliet
                .send(
                    "<iq type='get' id='g1'><query xmlns='jabber:iq:roster'>\
                     <item jid='nurse@localhost'/></query></iq>",
                )
                .await;
            expect_error(&mut juliet, "iq", "g1", "bad-request").await;

            juliet
                .expect_none("a push after a refused roster set", |e| {
                    is(e, "iq", Some("set"), None)
                })
                .await;
            let result = juliet.roster().await;
            assert!(items(&result).is_empty(), "{}", String::from(&result));
            juliet.logout().await;
            server
        },
    )
    .await;
}

/// RFC 6121 §2.3.3 ("other stanza errors can occur"): the shard's `max_roster_items` refuses
/// a roster set adding one item too many with `<not-allowed/>`; updating an existing item
/// and removing one still work.
#[tokio::test]
async fn rfc6121_2_3_3_roster_size_limit_is_not_allowed() {
    with_server(
        |c| c.max_roster_items = 2,
        |server| async move {
            let mut juliet = Peer::login(&server, "juliet").await;
            juliet.roster().await;
            set_and_push(
                &mut juliet,
                "l1",
                "nurse@localhost",
                "<item jid='nurse@localhost'/>",
            )
            .await;
            set_and_push(
                &mut juliet,
                "l2",
                "romeo@localhost",
                "<item jid='romeo@localhost'/>",
            )
            .await;

            juliet
                .send(&roster_set("l3", "<item jid='benvolio@localhost'/>"))
                .await;
            expect_error(&mut juliet, "iq", "l3", "not-allowed").await;
            juliet
                .expect_none("a push for the refused item", |e| {
                    push_for(e, "benvolio@localhost")
                })
                .await;

            // Updating an item already there does not grow the roster.
            let (push, _) = set_and_push(
                &mut juliet,
                "l4",
                "romeo@localhost",
                "<item jid='romeo@localhost' name='Romeo'/>",
            )
            .await;
            assert_eq!(item(&push).unwrap().attr("name"), Some("Romeo"));
            // Room again after a removal.
            set_and_push(
                &mut juliet,
                "l5",
                "nurse@localhost",
                "<item jid='nurse@localhost' subscription='remove'/>",
            )
            .await;
            set_and_push(
                &mut juliet,
                "l6",
                "benvolio@localhost",
                "<item jid='benvolio@localhost'/>",
            )
            .await;
            let result = juliet.roster().await;
            let jids: Vec<_> = items(&result).iter().map(|i| i.attr("jid")).collect();
            assert_eq!(
                jids,
                [Some("benvolio@localhost"), Some("romeo@localhost")],
                "{}",
                String::from(&result)
            );
            juliet.logout().await;
            server
        },
    )
    .await;
}

/// RFC 6121 §2.6: ver='' bootstraps with the full roster and its version; a known older
/// version gets the empty result of §2.6.3 then interim pushes, the last with the latest
/// version; the current version gets the empty result and no pushes; a version the server
/// never issued gets the full roster.
#[tokio::test]
async fn rfc6121_2_6_roster_versioning() {
    with_server(
        |_| {},
        |server| async move {
            let get = |id: &str, ver: &str| {
                format!("<iq type='get' id='{id}'><query xmlns='{ROSTER}' ver='{ver}'/></iq>")
            };
            let mut juliet = Peer::login(&server, "juliet").await;
            juliet.send(&get("v0", "")).await;
            let result = juliet
                .expect("roster result", |e| is(e, "iq", Some("result"), Some("v0")))
                .await;
            let empty_ver = ver(&result);
            assert!(
                !empty_ver.is_empty(),
                "§2.6.3: the result carries a version"
            );
            assert!(items(&result).is_empty());

            let (push, _) = set_and_push(
                &mut juliet,
                "v1",
                "nurse@localhost",
                "<item jid='nurse@localhost' name='Nurse'/>",
            )
            .await;
            let v1 = ver(&push);
            let (push, _) = set_and_push(
                &mut juliet,
                "v2",
                "romeo@localhost",
                "<item jid='romeo@localhost' name='Romeo'><group>Friends</group></item>",
            )
            .await;
            let v2 = ver(&push);
            let romeo_item = item(&push).unwrap().clone();
            assert!(
                v1 != empty_ver && v2 != v1,
                "§2.6.3: each push has its own version"
            );
            juliet.logout().await;
            server.wait_for_sessions(0).await;

            // A new session with the roster cached at v1: only romeo changed since.
            let mut juliet = Peer::login(&server, "juliet").await;
            juliet.send(&get("c1", &v1)).await;
            let first = juliet
                .expect("result or push", |e| {
                    is(e, "iq", Some("result"), Some("c1")) || is(e, "iq", Some("set"), None)
                })
                .await;
            assert!(
                is(&first, "iq", Some("result"), Some("c1")),
                "§2.6.3: the empty result comes before the interim pushes: {}",
                String::from(&first)
            );
            assert_eq!(
                first.children().count(),
                0,
                "§2.6.3: an empty IQ-result, not an empty query: {}",
                String::from(&first)
            );
            let push = juliet
                .expect("interim push", |e| is(e, "iq", Some("set"), None))
                .await;
            assert_push(&push, &juliet.jid, "juliet@localhost");
            assert_eq!(item(&push).unwrap(), &romeo_item);
            assert_eq!(
                ver(&push),
                v2,
                "the last interim push has the latest version"
            );
            juliet
                .expect_none("a push for an unchanged item", |e| {
                    is(e, "iq", Some("set"), None)
                })
                .await;

            // The current version: an empty result and no pushes.
            juliet.send(&get("c2", &v2)).await;
            let result = juliet
                .expect("result", |e| is(e, "iq", Some("result"), Some("c2")))
                .await;
            assert_eq!(result.children().count(), 0, "{}", String::from(&result));
            juliet
                .expect_none("a push for an up-to-date roster", |e| {
                    is(e, "iq", Some("set"), None)
                })
                .await;

            // Versions this server never issued: the whole roster at the latest version.
            for (id, bogus) in [
                ("c3", "bogus"),
                ("c4", "999999999999999999"),
                ("c5", "0042"),
            ] {
                juliet.send(&get(id, bogus)).await;
                let result = juliet
                    .expect("result", |e| is(e, "iq", Some("result"), Some(id)))
                    .await;
                assert_eq!(ver(&result), v2, "{bogus}");
                let jids: Vec<_> = items(&result).iter().map(|i| i.attr("jid")).collect();
                assert_eq!(jids, [Some("nurse@localhost"), Some("romeo@localhost")]);
            }

            // A removal since the cached version is pushed as subscription='remove'.
            let (push, _) = set_and_push(
                &mut juliet,
                "v3",
                "nurse@localhost",
                "<item jid='nurse@localhost' subscription='remove'/>",
            )
            .await;
            let v3 = ver(&push);
            juliet.logout().await;
            server.wait_for_sessions(0).await;
            let mut juliet = Peer::login(&server, "juliet").await;
            juliet.send(&get("c6", &v2)).await;
            let result = juliet
                .expect("result", |e| is(e, "iq", Some("result"), Some("c6")))
                .await;
            assert_eq!(result.children().count(), 0);
            let push = juliet
                .expect("interim push", |e| is(e, "iq", Some("set"), None))
                .await;
            let pushed = item(&push).unwrap();
            assert_eq!(pushed.attr("jid"), Some("nurse@localhost"));
            assert_eq!(pushed.attr("subscription"), Some("remove"));
            assert_eq!(ver(&push), v3);
            juliet
                .expect_none("another push", |e| is(e, "iq", Some("set"), None))
                .await;

            // Two changes since v1 (romeo updated, nurse removed): the store cannot order
            // them, and interim pushes "MUST occur in order of modification", so the whole
            // roster comes back at the latest version, with no pushes.
            juliet.send(&get("c7", &v1)).await;
            let result = juliet
                .expect("result", |e| is(e, "iq", Some("result"), Some("c7")))
                .await;
            assert_eq!(ver(&result), v3);
            let jids: Vec<_> = items(&result).iter().map(|i| i.attr("jid")).collect();
            assert_eq!(jids, [Some("romeo@localhost")]);
            juliet
                .expect_none("an interim push", |e| is(e, "iq", Some("set"), None))
                .await;
            juliet.logout().await;
            server
        },
    )
    .await;
}

/// RFC 6121 §2 security warning, §2.1.5, §2.3.3: only the account itself may read or
/// change its roster; a roster get or set to another user's bare JID is `<forbidden/>`.
#[tokio::test]
async fn rfc6121_2_1_5_roster_of_another_user_is_forbidden() {
    with_server(
        |_| {},
        |server| async move {
            let mut juliet = Peer::login(&server, "juliet").await;
            let mut romeo = online(&server, "romeo", None).await;
            romeo.roster().await;
            juliet
                .send(
                    "<iq type='get' id='f1' to='romeo@localhost'>\
                     <query xmlns='jabber:iq:roster'/></iq>",
                )
                .await;
            juliet
                .send(
                    "<iq type='set' id='f2' to='romeo@localhost'><query xmlns='jabber:iq:roster'>\
                     <item jid='nurse@localhost'/></query></iq>",
                )
                .await;
            for id in ["f1", "f2"] {
                let reply = expect_error(&mut juliet, "iq", id, "forbidden").await;
                assert_eq!(reply.attr("from"), Some("romeo@localhost"));
                assert_eq!(reply.attr("to"), Some(juliet.jid.as_str()));
            }
            romeo
                .expect_none("juliet's roster request or a push", |e| e.name() == "iq")
                .await;
            let result = romeo.roster().await;
            assert!(items(&result).is_empty(), "romeo's roster is unchanged");
            juliet.logout().await;
            romeo.logout().await;
            server
        },
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// §8 Server rules for messages and IQs
// ---------------------------------------------------------------------------------------

/// RFC 6121 §8.5.1: a message (of type normal or chat, to a bare or full JID) or an IQ to a
/// user that does not exist is bounced with `<service-unavailable/>` (the server chose (b)
/// for messages); a headline is silently ignored (table 1).
#[tokio::test]
async fn rfc6121_8_5_1_no_such_user() {
    with_server(
        |_| {},
        |server| async move {
            let mut juliet = online(&server, "juliet", None).await;
            let sends = [
                (
                    "n1",
                    "message",
                    "<message to='nobody@localhost' type='chat' id='n1'><body>hi</body></message>",
                    "nobody@localhost",
                ),
                (
                    "n2",
                    "message",
                    "<message to='nobody@localhost' id='n2'><body>hi</body></message>",
                    "nobody@localhost",
                ),
                (
                    "n3",
                    "message",
                    "<message to='nobody@localhost/x' type='chat' id='n3'><body>hi</body></message>",
                    "nobody@localhost/x",
                ),
                (
                    "n4",
                    "iq",
                    "<iq to='nobody@localhost' type='get' id='n4'>\
                     <ping xmlns='urn:xmpp:ping'/></iq>",
                    "nobody@localhost",
                ),
            ];
            for (id, name, xml, to) in sends {
                juliet.send(xml).await;
                let reply = expect_error(&mut juliet, name, id, "service-unavailable").await;
                assert_eq!(reply.attr("from"), Some(to));
                assert_eq!(reply.attr("to"), Some(juliet.jid.as_str()));
            }
            juliet
                .send(
                    "<message to='nobody@localhost' type='headline' id='n5'>\
                     <body>news</body></message>",
                )
                .await;
            juliet
                .expect_none("a bounce for a headline", |e| e.attr("id") == Some("n5"))
                .await;
            juliet.logout().await;
            server
        },
    )
    .await;
}

/// RFC 6121 §8.5.2.1.1: a normal or chat message to a bare JID goes to the highest-priority
/// resource when priorities differ (the "most available" choice), with 'to' left as the bare
/// JID.
#[tokio::test]
async fn rfc6121_8_5_2_1_1_bare_jid_message_goes_to_highest_priority() {
    with_server(
        |_| {},
        |server| async move {
            let mut low = online(&server, "juliet", Some(1)).await;
            let mut high = online(&server, "juliet", Some(5)).await;
            let mut romeo = online(&server, "romeo", None).await;

            romeo
                .send("<message to='juliet@localhost' type='chat' id='c1'><body>chat</body></message>")
                .await;
            romeo
                .send("<message to='juliet@localhost' id='c2'><body>normal</body></message>")
                .await;
            for text in ["chat", "normal"] {
                let got = high.expect(text, |e| message_with(e, text)).await;
                assert_eq!(
                    got.attr("to"),
                    Some("juliet@localhost"),
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
            low.logout().await;
            high.logout().await;
            romeo.logout().await;
            server
        },
    )
    .await;
}

/// RFC 6121 §8.5.2.1.1: resources sharing the highest priority all get a message to the
/// bare JID.
#[tokio::test]
async fn rfc6121_8_5_2_1_1_equal_priorities_all_get_the_message() {
    with_server(
        |_| {},
        |server| async move {
            let mut one = online(&server, "juliet", Some(3)).await;
            let mut two = online(&server, "juliet", Some(3)).await;
            let mut lower = online(&server, "juliet", Some(2)).await;
            let mut romeo = online(&server, "romeo", None).await;
            romeo
                .send("<message to='juliet@localhost' type='chat'><body>both</body></message>")
                .await;
            for peer in [&mut one, &mut two] {
                let got = peer.expect("message", |e| message_with(e, "both")).await;
                assert_eq!(got.attr("to"), Some("juliet@localhost"));
            }
            lower
                .expect_none("a message", |e| e.name() == "message")
                .await;
            for peer in [one, two, lower, romeo] {
                peer.logout().await;
            }
            server
        },
    )
    .await;
}

/// RFC 6121 §8.5.2.1.1: a headline to a bare JID goes to every non-negative resource, and a
/// resource with a negative priority gets no message of any type.
#[tokio::test]
async fn rfc6121_8_5_2_1_1_headline_to_all_non_negative_and_none_to_negative() {
    with_server(
        |_| {},
        |server| async move {
            let mut a = online(&server, "juliet", Some(1)).await;
            let mut b = online(&server, "juliet", Some(5)).await;
            let mut negative = online(&server, "juliet", Some(-1)).await;
            let mut romeo = online(&server, "romeo", None).await;
            romeo
                .send("<message to='juliet@localhost' type='headline'><body>news</body></message>")
                .await;
            romeo
                .send("<message to='juliet@localhost' type='chat'><body>chat</body></message>")
                .await;
            for peer in [&mut a, &mut b] {
                let got = peer.expect("headline", |e| message_with(e, "news")).await;
                assert_eq!(got.attr("type"), Some("headline"));
                assert_eq!(got.attr("to"), Some("juliet@localhost"));
            }
            b.expect("chat", |e| message_with(e, "chat")).await;
            a.expect_none("a chat for the most available", |e| message_with(e, "chat"))
                .await;
            negative
                .expect_none("a message to a negative-priority resource", |e| {
                    e.name() == "message"
                })
                .await;
            for peer in [a, b, negative, romeo] {
                peer.logout().await;
            }
            server
        },
    )
    .await;
}

/// RFC 6121 §8.5.2.1.1: a groupchat message to a bare JID is bounced with
/// `<service-unavailable/>` and delivered to no resource; a message of type error is
/// silently ignored.
#[tokio::test]
async fn rfc6121_8_5_2_1_1_groupchat_bounced_error_ignored() {
    with_server(
        |_| {},
        |server| async move {
            let mut juliet = online(&server, "juliet", None).await;
            let mut romeo = online(&server, "romeo", None).await;
            romeo
                .send(
                    "<message to='juliet@localhost' type='groupchat' id='g1'>\
                     <body>room</body></message>",
                )
                .await;
            let reply = expect_error(&mut romeo, "message", "g1", "service-unavailable").await;
            assert_eq!(reply.attr("from"), Some("juliet@localhost"));

            romeo
                .send(
                    "<message to='juliet@localhost' type='error' id='e1'><body>oops</body>\
                     <error type='cancel'><item-not-found \
                     xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>",
                )
                .await;
            juliet
                .expect_none("a groupchat or error message", |e| e.name() == "message")
                .await;
            romeo
                .expect_none("a reply to an error", |e| e.attr("id") == Some("e1"))
                .await;
            juliet.logout().await;
            romeo.logout().await;
            server
        },
    )
    .await;
}

/// RFC 6121 §8.5.3: a message to an existing full JID goes to that resource only, whatever
/// its priority (§8.5.3.1); a chat to an unknown resource goes to the most available
/// resource, while a normal, headline or groupchat message to one is bounced with
/// `<service-unavailable/>` and delivered nowhere (§8.5.3.2.1).
#[tokio::test]
async fn rfc6121_8_5_3_full_jid_messages() {
    with_server(
        |_| {},
        |server| async move {
            let mut high = online(&server, "juliet", Some(5)).await;
            let mut low = online(&server, "juliet", Some(1)).await;
            let mut romeo = online(&server, "romeo", None).await;

            romeo
                .send(&format!(
                    "<message to='{}' id='d1'><body>direct</body></message>",
                    low.jid
                ))
                .await;
            let got = low.expect("direct", |e| message_with(e, "direct")).await;
            assert_eq!(got.attr("to"), Some(low.jid.as_str()));
            high.expect_none("a message for the other resource", |e| {
                message_with(e, "direct")
            })
            .await;

            let nosuch = full("juliet", "nosuch");
            romeo
                .send(&format!(
                    "<message to='{nosuch}' type='chat' id='d2'><body>redirected</body></message>"
                ))
                .await;
            let got = high
                .expect("redirected chat", |e| message_with(e, "redirected"))
                .await;
            assert_eq!(got.attr("from"), Some(romeo.jid.as_str()));
            low.expect_none("a chat for the most available", |e| {
                message_with(e, "redirected")
            })
            .await;

            for (id, kind) in [("d3", "normal"), ("d4", "headline"), ("d5", "groupchat")] {
                romeo
                    .send(&format!(
                        "<message to='{nosuch}' type='{kind}' id='{id}'><body>lost</body></message>"
                    ))
                    .await;
                let reply = expect_error(&mut romeo, "message", id, "service-unavailable").await;
                assert_eq!(reply.attr("from"), Some(nosuch.as_str()));
            }
            for peer in [&mut high, &mut low] {
                peer.expect_none("a message to an unknown resource", |e| {
                    message_with(e, "lost")
                })
                .await;
            }
            for peer in [high, low, romeo] {
                peer.logout().await;
            }
            server
        },
    )
    .await;
}

/// RFC 6121 §8.5.2.2.1 (option (a), offline storage): a chat for an offline user is kept
/// and delivered, with an XEP-0203 delay stamp, at the next available presence with a
/// non-negative priority; a login with a negative priority gets nothing and leaves it
/// stored (§8.5.2.1.1 last rule); delivered messages are gone.
#[tokio::test]
async fn rfc6121_8_5_2_2_1_offline_storage_and_delivery() {
    with_server(
        |_| {},
        |server| async move {
            let mut juliet = online(&server, "juliet", None).await;
            juliet
                .send(
                    "<message to='romeo@localhost' type='chat' id='o1'>\
                     <body>wherefore</body></message>",
                )
                .await;
            juliet
                .send("<message to='romeo@localhost' id='o2'><body>normal</body></message>")
                .await;

            // Only a negative priority: nothing is delivered, and a chat sent now is kept
            // too (no non-negative resource: as if none were available).
            let mut shy = online(&server, "romeo", Some(-1)).await;
            juliet
                .send(
                    "<message to='romeo@localhost' type='chat' id='o3'>\
                     <body>while shy</body></message>",
                )
                .await;
            shy.expect_none("a message at a negative priority", |e| {
                e.name() == "message"
            })
            .await;
            shy.logout().await;
            server.wait_for_sessions(1).await;

            let mut romeo = Peer::login(&server, "romeo").await;
            romeo
                .send("<presence ><priority>0</priority></presence>")
                .await;
            let mut got = Vec::new();
            for text in ["wherefore", "normal", "while shy"] {
                got.push(romeo.expect(text, |e| message_with(e, text)).await);
            }
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let now = i64::try_from(now).unwrap();
            for message in &got {
                assert_eq!(message.attr("from"), Some(juliet.jid.as_str()));
                assert_eq!(message.attr("to"), Some("romeo@localhost"));
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
            juliet
                .expect_none("a bounce for a stored message", |e| {
                    e.attr("type") == Some("error")
                })
                .await;
            romeo.logout().await;
            server.wait_for_sessions(1).await;

            let mut again = online(&server, "romeo", Some(1)).await;
            again
                .expect_none("an offline message delivered twice", |e| {
                    e.name() == "message"
                })
                .await;
            again.logout().await;
            juliet.logout().await;
            server
        },
    )
    .await;
}

/// RFC 6121 §8.5.2.2.1: past the per-user offline quota a message is bounced with
/// `<service-unavailable/>` (option (b)); a headline for an offline user is silently
/// dropped.
#[tokio::test]
async fn rfc6121_8_5_2_2_1_offline_quota_and_headline() {
    with_server(
        |c| c.offline_quota = 1,
        |server| async move {
            let mut juliet = online(&server, "juliet", None).await;
            juliet
                .send("<message to='romeo@localhost' type='chat' id='q1'><body>first</body></message>")
                .await;
            juliet
                .send("<message to='romeo@localhost' type='chat' id='q2'><body>second</body></message>")
                .await;
            juliet
                .send(
                    "<message to='romeo@localhost' type='headline' id='q3'>\
                     <body>news</body></message>",
                )
                .await;
            let reply = expect_error(&mut juliet, "message", "q2", "service-unavailable").await;
            assert_eq!(reply.attr("from"), Some("romeo@localhost"));
            assert_eq!(body(&reply).as_deref(), Some("second"));
            juliet
                .expect_none("another bounce", |e| e.attr("type") == Some("error"))
                .await;

            let mut romeo = online(&server, "romeo", None).await;
            let got = romeo.expect("stored", |e| e.name() == "message").await;
            assert_eq!(body(&got).as_deref(), Some("first"));
            romeo
                .expect_none("a bounced or headline message", |e| e.name() == "message")
                .await;
            romeo.logout().await;
            juliet.logout().await;
            server
        },
    )
    .await;
}

/// RFC 6121 §8.5.2.1.3 and §8.5.2.2.3: an IQ to a user's bare JID is answered by the server
/// on the user's behalf (XEP-0199 ping, XEP-0030 disco#info with identity
/// account/registered, `<service-unavailable/>` for anything else) and never delivered to
/// the user's resources.
#[tokio::test]
async fn rfc6121_8_5_2_1_3_iq_to_bare_jid_answered_by_the_server() {
    with_server(
        |_| {},
        |server| async move {
            let mut juliet = online(&server, "juliet", None).await;

            // §8.5.2.2.3: romeo offline.
            juliet
                .send(
                    "<iq to='romeo@localhost' type='get' id='p0'>\
                     <ping xmlns='urn:xmpp:ping'/></iq>",
                )
                .await;
            let reply = juliet
                .expect("ping result", |e| {
                    e.name() == "iq" && e.attr("id") == Some("p0")
                })
                .await;
            assert!(
                is(&reply, "iq", Some("result"), Some("p0")),
                "{}",
                String::from(&reply)
            );
            assert_eq!(reply.attr("from"), Some("romeo@localhost"));

            // §8.5.2.1.3: romeo online.
            let mut romeo = online(&server, "romeo", None).await;
            juliet
                .send(
                    "<iq to='romeo@localhost' type='get' id='p1'>\
                     <ping xmlns='urn:xmpp:ping'/></iq>",
                )
                .await;
            let reply = juliet
                .expect("ping result", |e| {
                    e.name() == "iq" && e.attr("id") == Some("p1")
                })
                .await;
            assert!(
                is(&reply, "iq", Some("result"), Some("p1")),
                "{}",
                String::from(&reply)
            );
            assert_eq!(reply.attr("from"), Some("romeo@localhost"));
            assert_eq!(reply.attr("to"), Some(juliet.jid.as_str()));

            juliet
                .send(&format!(
                    "<iq to='romeo@localhost' type='get' id='p2'><query xmlns='{DISCO_INFO}'/></iq>"
                ))
                .await;
            let reply = juliet
                .expect("disco#info", |e| {
                    e.name() == "iq" && e.attr("id") == Some("p2")
                })
                .await;
            assert!(
                is(&reply, "iq", Some("result"), Some("p2")),
                "{}",
                String::from(&reply)
            );
            assert_eq!(reply.attr("from"), Some("romeo@localhost"));
            let info = reply
                .get_child("query", DISCO_INFO)
                .expect("a disco#info query");
            let identity = info.get_child("identity", DISCO_INFO).expect("an identity");
            assert_eq!(identity.attr("category"), Some("account"));
            assert_eq!(identity.attr("type"), Some("registered"));
            let features: Vec<_> = info
                .children()
                .filter(|c| c.is("feature", DISCO_INFO))
                .filter_map(|f| f.attr("var"))
                .collect();
            assert!(features.contains(&DISCO_INFO), "{features:?}");
            assert!(features.contains(&"urn:xmpp:ping"), "{features:?}");

            for (id, kind) in [("p3", "get"), ("p4", "set")] {
                juliet
                    .send(&format!(
                        "<iq to='romeo@localhost' type='{kind}' id='{id}'>\
                         <query xmlns='urn:example:unknown'/></iq>"
                    ))
                    .await;
                let reply = expect_error(&mut juliet, "iq", id, "service-unavailable").await;
                assert_eq!(reply.attr("from"), Some("romeo@localhost"));
            }

            // Responses to a bare JID are not delivered either.
            juliet
                .send("<iq to='romeo@localhost' type='result' id='p5'/>")
                .await;
            romeo
                .expect_none("an IQ for the bare JID", |e| e.name() == "iq")
                .await;
            juliet
                .expect_none("a reply to an IQ response", |e| e.attr("id") == Some("p5"))
                .await;
            juliet.logout().await;
            romeo.logout().await;
            server
        },
    )
    .await;
}

/// RFC 6121 §8.5.3.1: an IQ request to a full JID is delivered only if the resource shares
/// presence with the requester (here by directed presence, §4.6); otherwise, and for a full
/// JID with no such resource (§8.5.3.2.3), the sender gets `<service-unavailable/>`. The
/// response is delivered back.
#[tokio::test]
async fn rfc6121_8_5_3_1_iq_to_full_jid_needs_presence_sharing() {
    with_server(
        |_| {},
        |server| async move {
            let mut juliet = online(&server, "juliet", None).await;
            let mut romeo = online(&server, "romeo", None).await;

            juliet.send(&ping_iq("i1", &romeo.jid)).await;
            let reply = expect_error(&mut juliet, "iq", "i1", "service-unavailable").await;
            assert_eq!(reply.attr("from"), Some(romeo.jid.as_str()));
            romeo
                .expect_none("an IQ without presence sharing", |e| iq_request(e, "i1"))
                .await;

            // Directed presence from romeo's resource to juliet.
            romeo.send("<presence to='juliet@localhost'/>").await;
            let romeo_jid = romeo.jid.clone();
            juliet
                .expect("directed presence", |e| presence(e, &romeo_jid, None))
                .await;

            juliet.send(&ping_iq("i2", &romeo.jid)).await;
            let request = romeo.expect("ping", |e| iq_request(e, "i2")).await;
            assert_eq!(request.attr("type"), Some("get"));
            assert_eq!(request.attr("from"), Some(juliet.jid.as_str()));
            assert_eq!(request.attr("to"), Some(romeo.jid.as_str()));
            assert!(request.get_child("ping", "urn:xmpp:ping").is_some());
            romeo
                .send(&format!("<iq to='{}' type='result' id='i2'/>", juliet.jid))
                .await;
            let response = juliet
                .expect("result", |e| e.name() == "iq" && e.attr("id") == Some("i2"))
                .await;
            assert!(is(&response, "iq", Some("result"), Some("i2")));
            assert_eq!(response.attr("from"), Some(romeo.jid.as_str()));
            assert_eq!(response.attr("to"), Some(juliet.jid.as_str()));

            // §8.5.3.2.3: no such resource.
            let nosuch = full("romeo", "nosuch");
            juliet.send(&ping_iq("i3", &nosuch)).await;
            let reply = expect_error(&mut juliet, "iq", "i3", "service-unavailable").await;
            assert_eq!(reply.attr("from"), Some(nosuch.as_str()));
            romeo
                .expect_none("an IQ for another resource", |e| iq_request(e, "i3"))
                .await;
            juliet.logout().await;
            romeo.logout().await;
            server
        },
    )
    .await;
}

/// RFC 6121 §8.5.3.1: a presence subscription of type "from" shares presence too, so the
/// subscriber's IQ requests reach the user's full JID; the other direction ("to" only, no
/// directed presence) still gets `<service-unavailable/>`.
#[tokio::test]
async fn rfc6121_8_5_3_1_iq_to_full_jid_with_a_subscription() {
    with_server(
        |_| {},
        |server| async move {
            let mut juliet = online(&server, "juliet", None).await;
            let mut romeo = online(&server, "romeo", None).await;

            // juliet subscribes to romeo's presence (§3.1); romeo approves.
            juliet
                .send("<presence to='romeo@localhost' type='subscribe'/>")
                .await;
            romeo
                .expect("subscription request", |e| {
                    presence(e, "juliet@localhost", Some("subscribe"))
                })
                .await;
            romeo
                .send("<presence to='juliet@localhost' type='subscribed'/>")
                .await;
            juliet
                .expect("approval", |e| {
                    presence(e, "romeo@localhost", Some("subscribed"))
                })
                .await;

            juliet.send(&ping_iq("s1", &romeo.jid)).await;
            let request = romeo.expect("ping", |e| iq_request(e, "s1")).await;
            assert_eq!(request.attr("from"), Some(juliet.jid.as_str()));
            romeo
                .send(&format!("<iq to='{}' type='result' id='s1'/>", juliet.jid))
                .await;
            let response = juliet
                .expect("result", |e| e.name() == "iq" && e.attr("id") == Some("s1"))
                .await;
            assert!(is(&response, "iq", Some("result"), Some("s1")));
            assert_eq!(response.attr("from"), Some(romeo.jid.as_str()));

            // juliet's subscription is "to" romeo: she does not share her presence with him.
            romeo.send(&ping_iq("s2", &juliet.jid)).await;
            let reply = expect_error(&mut romeo, "iq", "s2", "service-unavailable").await;
            assert_eq!(reply.attr("from"), Some(juliet.jid.as_str()));
            juliet
                .expect_none("an IQ without presence sharing", |e| iq_request(e, "s2"))
                .await;
            juliet.logout().await;
            romeo.logout().await;
            server
        },
    )
    .await;
}

/// RFC 6120 §10.3.3 (RFC 6121 §8.4): an IQ to the server's own domain is answered by the
/// server, and one with no 'to' by the user's own account.
#[tokio::test]
async fn rfc6121_8_4_iq_to_the_server_domain() {
    with_server(
        |_| {},
        |server| async move {
            let mut juliet = Peer::login(&server, "juliet").await;
            juliet
                .send("<iq to='localhost' type='get' id='s1'><ping xmlns='urn:xmpp:ping'/></iq>")
                .await;
            let reply = juliet
                .expect("ping result", |e| {
                    e.name() == "iq" && e.attr("id") == Some("s1")
                })
                .await;
            assert!(
                is(&reply, "iq", Some("result"), Some("s1")),
                "{}",
                String::from(&reply)
            );
            assert_eq!(reply.attr("from"), Some(DOMAIN));
            assert_eq!(reply.attr("to"), Some(juliet.jid.as_str()));

            juliet
                .send("<iq type='get' id='s2'><ping xmlns='urn:xmpp:ping'/></iq>")
                .await;
            let reply = juliet
                .expect("ping result", |e| {
                    e.name() == "iq" && e.attr("id") == Some("s2")
                })
                .await;
            assert!(
                is(&reply, "iq", Some("result"), Some("s2")),
                "{}",
                String::from(&reply)
            );
            juliet.logout().await;
            server
        },
    )
    .await;
}

/// RFC 6121 §8.5.2.2.1: a resource that comes online with a negative priority gets the
/// stored messages once it raises its priority to a non-negative one.
#[tokio::test]
async fn rfc6121_8_5_2_2_1_offline_messages_follow_a_raised_priority() {
    with_server(
        |_| {},
        |server| async move {
            let mut juliet = online(&server, "juliet", None).await;
            juliet
                .send(
                    "<message to='romeo@localhost' type='chat' id='o1'><body>later</body>\
                     </message>",
                )
                .await;
            juliet
                .expect_none("a bounce", |e| e.attr("type") == Some("error"))
                .await;
            let mut romeo = online(&server, "romeo", Some(-1)).await;
            romeo
                .expect_none("a message at priority -1", |e| e.name() == "message")
                .await;
            romeo
                .send("<presence><priority>1</priority></presence>")
                .await;
            let stored = romeo
                .expect("the stored message", |e| {
                    e.name() == "message" && e.attr("id") == Some("o1")
                })
                .await;
            assert!(stored.get_child("delay", DELAY).is_some());
            juliet.logout().await;
            romeo.logout().await;
            server
        },
    )
    .await;
}
