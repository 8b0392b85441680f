//! RFC 6121 §8 (server rules for messages and IQs) against the real server, driven by a
//! client library we did not write (tokio-xmpp). Where §8 lets the server choose, the tests
//! check the choice documented in the roster-presence `delivery` module.

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use support::DOMAIN;
use support::im::*;
use support::peer::{Peer, is, presence};
use tokio_xmpp::parsers::date::DateTime;

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
