//! A bound session: addressing checks (RFC 6120 §8.1), IQs the server answers, delivery
//! between sessions, and every limit (idle, handshake deadline, rate, queue, connections,
//! shutdown).

mod support;

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use xmpp_core::{Element, StanzaErrorCondition, StreamErrorCondition, ns};
use xmpp_stream::StreamEvent;
use xmpp_stream::client::{ClientError, ClientStream};

use support::{OPEN, plain_login, start_plain};

fn iq(id: &str, kind: &str, to: Option<&str>, payload: Element) -> Element {
    let mut e = Element::new("iq", ns::JABBER_CLIENT)
        .with_attr("id", id)
        .with_attr("type", kind);
    if let Some(to) = to {
        e.set_attr("to", to);
    }
    e.with_child(payload)
}

fn stanza_error(reply: &Element) -> StanzaErrorCondition {
    assert_eq!(reply.attr("type"), Some("error"), "{reply}");
    xmpp_core::StanzaError::from_element(reply.get_child("error", ns::JABBER_CLIENT).unwrap())
        .unwrap()
        .condition
}

async fn expect_stream_error(stream: &mut ClientStream, condition: StreamErrorCondition) {
    loop {
        match stream.next_element().await {
            Err(ClientError::Stream(e)) => {
                assert_eq!(e.condition, condition);
                return;
            }
            Ok(_) => {}
            Err(other) => panic!("expected {condition}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn iqs_the_server_answers() {
    let server = start_plain(|_| {}).await;
    let (mut c, jid) = plain_login(&server, "juliet", Some("balcony")).await;

    // Legacy session establishment is a no-op result (RFC 6121 Appendix E).
    c.send(&iq("s1", "set", None, Element::new("session", ns::SESSION)))
        .await
        .unwrap();
    let r = c.next_element().await.unwrap();
    assert_eq!((r.attr("type"), r.attr("id")), (Some("result"), Some("s1")));

    // XEP-0030 on the account itself: identity account/registered.
    c.send(&iq(
        "d1",
        "get",
        Some("juliet@localhost"),
        Element::new("query", ns::DISCO_INFO),
    ))
    .await
    .unwrap();
    let r = c.next_element().await.unwrap();
    let identity = r
        .get_child("query", ns::DISCO_INFO)
        .unwrap()
        .get_child("identity", ns::DISCO_INFO)
        .unwrap();
    assert_eq!(
        (identity.attr("category"), identity.attr("type")),
        (Some("account"), Some("registered"))
    );
    assert_eq!(r.attr("from"), Some("juliet@localhost"));
    assert_eq!(r.attr("to"), Some(jid.as_str()));

    // disco#items of the server: empty.
    c.send(&iq(
        "d2",
        "get",
        Some("localhost"),
        Element::new("query", ns::DISCO_ITEMS),
    ))
    .await
    .unwrap();
    let r = c.next_element().await.unwrap();
    assert_eq!(r.attr("type"), Some("result"));
    assert_eq!(
        r.get_child("query", ns::DISCO_ITEMS)
            .unwrap()
            .children()
            .count(),
        0
    );

    // A node the server does not have: item-not-found (XEP-0030 §3.1).
    let q = Element::new("query", ns::DISCO_INFO).with_attr("node", "urn:nope");
    c.send(&iq("d3", "get", Some("localhost"), q))
        .await
        .unwrap();
    assert_eq!(
        stanza_error(&c.next_element().await.unwrap()),
        StanzaErrorCondition::ItemNotFound
    );

    // RFC 6120 §8.4: a namespace the server does not implement.
    c.send(&iq(
        "u1",
        "get",
        Some("localhost"),
        Element::new("query", "urn:example:unknown"),
    ))
    .await
    .unwrap();
    let r = c.next_element().await.unwrap();
    assert_eq!(r.attr("id"), Some("u1"));
    assert_eq!(stanza_error(&r), StanzaErrorCondition::ServiceUnavailable);

    // §8.2.3: a get with two payloads is a bad request.
    let two = iq(
        "b1",
        "get",
        Some("localhost"),
        Element::new("ping", ns::PING),
    )
    .with_child(Element::new("ping", ns::PING));
    c.send(&two).await.unwrap();
    assert_eq!(
        stanza_error(&c.next_element().await.unwrap()),
        StanzaErrorCondition::BadRequest
    );

    // An IQ result to the server is not answered: the next reply is the next ping's.
    c.send(
        &Element::new("iq", ns::JABBER_CLIENT)
            .with_attr("type", "result")
            .with_attr("id", "r1"),
    )
    .await
    .unwrap();
    c.send(&iq("p1", "get", None, Element::new("ping", ns::PING)))
        .await
        .unwrap();
    assert_eq!(c.next_element().await.unwrap().attr("id"), Some("p1"));
    server.stop().await;
}

#[tokio::test]
async fn addressing_errors_section_8_1() {
    let server = start_plain(|_| {}).await;
    let (mut c, _) = plain_login(&server, "juliet", Some("balcony")).await;

    // §8.3.3.8: a 'to' that is not a JID.
    let m = Element::new("message", ns::JABBER_CLIENT)
        .with_attr("to", "a@b@c")
        .with_attr("id", "j1");
    c.send(&m).await.unwrap();
    let r = c.next_element().await.unwrap();
    assert_eq!(r.attr("id"), Some("j1"));
    assert_eq!(stanza_error(&r), StanzaErrorCondition::JidMalformed);

    // No session at that full JID: service-unavailable for messages and IQ requests.
    let m = Element::new("message", ns::JABBER_CLIENT)
        .with_attr("to", "romeo@localhost/nowhere")
        .with_attr("id", "j2");
    c.send(&m).await.unwrap();
    assert_eq!(
        stanza_error(&c.next_element().await.unwrap()),
        StanzaErrorCondition::ServiceUnavailable
    );

    // Presence to nobody is dropped silently; the ping after it is the next answer.
    c.send(&Element::new("presence", ns::JABBER_CLIENT).with_attr("to", "romeo@localhost/nowhere"))
        .await
        .unwrap();
    c.send(&iq("p1", "get", None, Element::new("ping", ns::PING)))
        .await
        .unwrap();
    assert_eq!(c.next_element().await.unwrap().attr("id"), Some("p1"));

    // §4.9.3.9: claiming another 'from' ends the stream.
    let m = Element::new("message", ns::JABBER_CLIENT)
        .with_attr("from", "romeo@localhost/x")
        .with_attr("to", "localhost");
    c.send(&m).await.unwrap();
    expect_stream_error(&mut c, StreamErrorCondition::InvalidFrom).await;
    server.stop().await;
}

#[tokio::test]
async fn unknown_first_level_element_is_unsupported_stanza_type_section_4_9_3_24() {
    let server = start_plain(|_| {}).await;
    let (mut c, _) = plain_login(&server, "juliet", None).await;
    c.send(&Element::new("shout", ns::JABBER_CLIENT))
        .await
        .unwrap();
    expect_stream_error(&mut c, StreamErrorCondition::UnsupportedStanzaType).await;
    server.stop().await;
}

#[tokio::test]
async fn full_jid_delivery_keeps_unknown_extensions() {
    let server = start_plain(|_| {}).await;
    let (mut juliet, juliet_jid) = plain_login(&server, "juliet", Some("balcony")).await;
    let (mut romeo, romeo_jid) = plain_login(&server, "romeo", Some("orchard")).await;
    let ext = Element::new("x", "urn:example:unknown")
        .with_attr("a", "1")
        .with_child(Element::new("y", "urn:example:unknown").with_text("z"));
    let m = Element::new("message", ns::JABBER_CLIENT)
        .with_attr("to", romeo_jid.as_str())
        .with_attr("type", "chat")
        .with_attr("id", "k1")
        .with_child(Element::new("body", ns::JABBER_CLIENT).with_text("O Romeo"))
        .with_child(ext.clone());
    juliet.send(&m).await.unwrap();
    let got = romeo.next_element().await.unwrap();
    assert_eq!(got.attr("from"), Some(juliet_jid.as_str()));
    assert_eq!(got.get_child("x", "urn:example:unknown"), Some(&ext));
    assert_eq!(
        got.get_child("body", ns::JABBER_CLIENT).unwrap().text(),
        "O Romeo"
    );
    server.stop().await;
}

#[tokio::test]
async fn client_close_is_answered_with_a_close_section_4_4() {
    let server = start_plain(|_| {}).await;
    let (mut c, _) = plain_login(&server, "juliet", None).await;
    server.wait_for_sessions(1).await;
    c.close().await.unwrap();
    loop {
        match c.next_event().await.unwrap() {
            StreamEvent::Close => break,
            StreamEvent::Keepalive => {}
            other => panic!("{other:?}"),
        }
    }
    server.wait_for_sessions(0).await;
    server.stop().await;
}

#[tokio::test]
async fn tcp_drop_ends_the_session() {
    let server = start_plain(|_| {}).await;
    let (c, _) = plain_login(&server, "juliet", None).await;
    server.wait_for_sessions(1).await;
    drop(c);
    server.wait_for_sessions(0).await;
    server.stop().await;
}

#[tokio::test]
async fn handshake_deadline_is_connection_timeout() {
    let server = start_plain(|c| c.limits.handshake_timeout_secs = 1).await;
    // Open the stream, then say nothing more.
    let t = support::raw_exchange(server.addr, OPEN.as_bytes()).await;
    assert_eq!(
        t.stream_error(),
        Some(StreamErrorCondition::ConnectionTimeout),
        "{t:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn idle_session_is_closed_with_connection_timeout_section_4_6() {
    let server = start_plain(|c| {
        c.limits.idle_timeout_secs = 1;
        c.limits.keepalive_secs = 0;
    })
    .await;
    let (mut c, _) = plain_login(&server, "juliet", None).await;
    expect_stream_error(&mut c, StreamErrorCondition::ConnectionTimeout).await;
    server.stop().await;
}

#[tokio::test]
async fn whitespace_keepalives_keep_an_idle_client_alive_section_4_6_1() {
    let server = start_plain(|c| {
        c.limits.idle_timeout_secs = 2;
        c.limits.keepalive_secs = 1;
    })
    .await;
    let (mut c, _) = plain_login(&server, "juliet", None).await;
    // The server sends whitespace when quiet...
    match tokio::time::timeout(Duration::from_secs(5), c.next_event())
        .await
        .unwrap()
        .unwrap()
    {
        StreamEvent::Keepalive => {}
        other => panic!("expected a keepalive, got {other:?}"),
    }
    // ...and the client's whitespace resets the idle timer: 4 s of keepalives, no timeout.
    for _ in 0..8 {
        c.send_raw(" ").await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    c.send(&iq("alive", "get", None, Element::new("ping", ns::PING)))
        .await
        .unwrap();
    loop {
        let e = c.next_element().await.unwrap();
        if e.attr("id") == Some("alive") {
            break;
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn shutdown_closes_streams_with_system_shutdown() {
    let server = start_plain(|_| {}).await;
    let (mut bound, _) = plain_login(&server, "juliet", None).await;
    let mut negotiating = ClientStream::connect(server.addr, "localhost")
        .await
        .unwrap();
    server.begin_shutdown();
    expect_stream_error(&mut bound, StreamErrorCondition::SystemShutdown).await;
    expect_stream_error(&mut negotiating, StreamErrorCondition::SystemShutdown).await;
    server.stop().await;
}

#[tokio::test]
async fn connection_limit_holds_new_connections_back() {
    let server = start_plain(|c| c.limits.max_connections = 1).await;
    let (first, _) = plain_login(&server, "juliet", None).await;
    // The second connection is not served while the first holds the only permit.
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(OPEN.as_bytes()).await.unwrap();
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(
        Duration::from_millis(500),
        tokio::io::AsyncReadExt::read(&mut tcp, &mut buf),
    )
    .await;
    assert!(early.is_err(), "served beyond the connection limit");
    drop(first);
    // Once the first is gone, the waiting one is served.
    let n = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(&mut tcp, &mut buf),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(n > 0);
    server.stop().await;
}

#[tokio::test]
async fn slow_reader_is_closed_with_resource_constraint_and_senders_are_told() {
    let server = start_plain(|c| c.limits.outbound_queue = 8).await;
    let (mut juliet, _) = plain_login(&server, "juliet", None).await;
    let (romeo, romeo_jid) = plain_login(&server, "romeo", Some("asleep")).await;
    // Romeo never reads. Deliveries (what any sender's stanza turns into) fill his socket
    // buffers, then his queue; the next one must not wait but close his session.
    let handle = server.server.sessions.get(&romeo_jid).unwrap();
    let body = "x".repeat(16 * 1024);
    let mut overflowed = false;
    for i in 0..5000 {
        let m = Element::new("message", ns::JABBER_CLIENT)
            .with_attr("to", romeo_jid.as_str())
            .with_attr("id", format!("m{i}"))
            .with_child(Element::new("body", ns::JABBER_CLIENT).with_text(body.clone()));
        if handle.deliver(m).is_err() {
            overflowed = true;
            break;
        }
        if i % 8 == 7 {
            // Let the writer task drain into the socket.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    assert!(overflowed, "the queue never overflowed");
    assert_eq!(
        handle.control().reason().unwrap().condition,
        StreamErrorCondition::ResourceConstraint
    );
    server.wait_for_sessions(1).await;
    // A sender to the closed session is told it is unavailable; its own session is unharmed.
    let m = Element::new("message", ns::JABBER_CLIENT)
        .with_attr("to", romeo_jid.as_str())
        .with_attr("id", "late");
    juliet.send(&m).await.unwrap();
    let reply = juliet.next_element().await.unwrap();
    assert_eq!(reply.attr("id"), Some("late"));
    assert_eq!(
        stanza_error(&reply),
        StanzaErrorCondition::ServiceUnavailable
    );
    drop(romeo);
    server.stop().await;
}

#[tokio::test]
async fn stanza_rate_is_shaped_not_dropped() {
    let server = start_plain(|c| {
        c.limits.stanza_rate = 20;
        c.limits.stanza_burst = 1;
    })
    .await;
    let (mut c, _) = plain_login(&server, "juliet", None).await;
    let start = tokio::time::Instant::now();
    for i in 0..21 {
        c.queue(&iq(
            &format!("p{i}"),
            "get",
            None,
            Element::new("ping", ns::PING),
        ));
    }
    c.flush().await.unwrap();
    for i in 0..21 {
        assert_eq!(
            c.next_element().await.unwrap().attr("id"),
            Some(format!("p{i}").as_str())
        );
    }
    // 20 stanzas beyond the burst at 20/s take at least about a second; all were answered.
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
    server.stop().await;
}

#[tokio::test]
async fn one_shard_call_at_a_time_still_serves_everyone_in_order() {
    // `limits.max_shard_calls` = 1: logins and every routed stanza of three sessions queue
    // for the same slot; everything still arrives, in each sender's order.
    let server = start_plain(|c| c.limits.max_shard_calls = 1).await;
    let (a, b, c) = tokio::join!(
        plain_login(&server, "juliet", None),
        plain_login(&server, "romeo", None),
        plain_login(&server, "nurse", None),
    );
    let mut clients = [a, b, c];
    let jids: Vec<_> = clients.iter().map(|(_, jid)| jid.clone()).collect();
    for (i, (client, _)) in clients.iter_mut().enumerate() {
        let to = &jids[(i + 1) % 3];
        for n in 0..30 {
            client.queue(
                &Element::new("message", ns::JABBER_CLIENT)
                    .with_attr("to", to.as_str())
                    .with_attr("id", format!("{i}-{n}")),
            );
        }
        client.flush().await.unwrap();
    }
    for (i, (client, _)) in clients.iter_mut().enumerate() {
        let from = (i + 2) % 3;
        for n in 0..30 {
            let m = tokio::time::timeout(Duration::from_secs(10), client.next_element())
                .await
                .expect("a message did not arrive")
                .unwrap();
            assert_eq!(m.attr("id"), Some(format!("{from}-{n}").as_str()));
            assert_eq!(m.attr("from"), Some(jids[from].as_str()));
        }
    }
    let metrics = server.server.cluster.metrics().encode();
    assert!(
        metrics
            .lines()
            .any(|l| l == "starling_shard_calls_waiting 0"),
        "every wait ended: {metrics}"
    );
    server.stop().await;
}
