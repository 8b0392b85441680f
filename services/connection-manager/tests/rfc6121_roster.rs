//! RFC 6121 §2 (roster management) against the real server, driven by a client library we
//! did not write (tokio-xmpp). Every test starts its own server and checks exact protocol
//! outcomes: element names, types, addresses, roster item attributes and error conditions.

mod support;

use support::im::*;
use support::peer::{Peer, is, item, push_for};

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
