//! Reader tests: the RFC 6120 examples and the reader's behaviour on valid streams. Errors,
//! limits, chunking and property tests are in the submodules.

mod chunking;
mod errors;
mod limits;
mod proptests;

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use xmpp_core::{Element, Node, ns};

use super::*;
use crate::XmlWriter;
use crate::test_util::{Ending, HEADER, collect, parse};

/// RFC 6120 §9.1: what the client sends, from the first stream header to the close, with the
/// restarts after STARTTLS (§9.1.1 step 7) and SASL (§9.1.2 step 13). The TLS handshake
/// itself is left out; the reader sees the bytes on either side of it.
pub(super) const RFC6120_9_1: &str = r#"<?xml version='1.0'?>
<stream:stream
     from='juliet@im.example.com'
     to='im.example.com'
     version='1.0'
     xml:lang='en'
     xmlns='jabber:client'
     xmlns:stream='http://etherx.jabber.org/streams'>
<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><stream:stream
     from='juliet@im.example.com'
     to='im.example.com'
     version='1.0'
     xml:lang='en'
     xmlns='jabber:client'
     xmlns:stream='http://etherx.jabber.org/streams'>
<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl"
          mechanism="SCRAM-SHA-1">
      biwsbj1qdWxpZXQscj1vTXNUQUF3QUFBQU1BQUFBTlAwVEFBQUFBQUJQVTBBQQ==
    </auth>
<response xmlns="urn:ietf:params:xml:ns:xmpp-sasl">
      Yz1iaXdzLHI9b01zVEFBd0FBQUFNQUFBQU5QMFRBQUFBQUFCUFUwQUFlMTI0N
      jk1Yi02OWE5LTRkZTYtOWMzMC1iNTFiMzgwOGM1OWUscD1VQTU3dE0vU3ZwQV
      RCa0gyRlhzMFdEWHZKWXc9
    </response><stream:stream
     from='juliet@im.example.com'
     to='im.example.com'
     version='1.0'
     xml:lang='en'
     xmlns='jabber:client'
     xmlns:stream='http://etherx.jabber.org/streams'>
<iq id='yhc13a95' type='set'>
      <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>
        <resource>balcony</resource>
      </bind>
    </iq>
<message from='juliet@im.example.com/balcony'
             id='ju2ba41c'
             to='romeo@example.net'
             type='chat'
             xml:lang='en'>
      <body>Art thou not Romeo, and a Montague?</body>
    </message>
</stream:stream>"#;

/// Where the §9.1 client stream restarts.
pub(super) const RFC6120_9_1_RESTARTS: &[&str] = &["starttls", "response"];

fn element(event: &StreamEvent) -> &Element {
    match event {
        StreamEvent::Element(e) => e,
        other => panic!("expected an element, got {other:?}"),
    }
}

fn header(event: &StreamEvent) -> &StreamHeader {
    match event {
        StreamEvent::Open(h) => h,
        other => panic!("expected a stream header, got {other:?}"),
    }
}

/// The events without keepalives.
fn significant(events: &[StreamEvent]) -> Vec<&StreamEvent> {
    events
        .iter()
        .filter(|e| **e != StreamEvent::Keepalive)
        .collect()
}

/// The elements of `<stream>…</stream>` around `body`, or the error.
async fn elements(body: &str) -> Result<Vec<Element>, Ending> {
    let (events, ending) = parse(&format!("{HEADER}{body}")).await;
    if ending != Ending::Eof || events.last() != Some(&StreamEvent::Close) {
        return Err(ending);
    }
    Ok(events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Element(e) => Some(e.clone()),
            _ => None,
        })
        .collect())
}

async fn one(body: &str) -> Element {
    let mut all = elements(&format!("{body}</stream:stream>"))
        .await
        .unwrap_or_else(|e| panic!("{body}: {e:?}"));
    assert_eq!(all.len(), 1, "{body}");
    all.remove(0)
}

#[tokio::test]
async fn rfc6120_9_1_client_stream_parses() {
    let mut reader = XmlReader::new(RFC6120_9_1.as_bytes(), ReaderLimits::default());
    let (events, ending) = collect(&mut reader, RFC6120_9_1_RESTARTS).await;
    assert_eq!(ending, Ending::Eof);
    let events = significant(&events);
    assert_eq!(events.len(), 9, "{events:#?}");

    let h = header(events[0]);
    assert_eq!(h.from.as_deref(), Some("juliet@im.example.com"));
    assert_eq!(h.to.as_deref(), Some("im.example.com"));
    assert_eq!(h.version.as_deref(), Some("1.0"));
    assert_eq!(h.lang.as_deref(), Some("en"));
    assert_eq!(h.id, None);
    assert_eq!(h.content_ns, ns::JABBER_CLIENT);
    assert!(h.check_version().is_ok());

    assert!(element(events[1]).is("starttls", ns::TLS));
    assert_eq!(header(events[2]), h);
    let auth = element(events[3]);
    assert!(auth.is("auth", ns::SASL));
    assert_eq!(auth.attr("mechanism"), Some("SCRAM-SHA-1"));
    assert_eq!(
        auth.text().trim(),
        "biwsbj1qdWxpZXQscj1vTXNUQUF3QUFBQU1BQUFBTlAwVEFBQUFBQUJQVTBBQQ=="
    );
    assert!(element(events[4]).is("response", ns::SASL));
    assert_eq!(header(events[5]), h);

    let iq = element(events[6]);
    assert!(iq.is("iq", ns::JABBER_CLIENT));
    assert_eq!(iq.attr("id"), Some("yhc13a95"));
    let resource = iq
        .get_child("bind", ns::BIND)
        .and_then(|b| b.get_child("resource", ns::BIND))
        .expect("bind/resource");
    assert_eq!(resource.text(), "balcony");

    let message = element(events[7]);
    assert!(message.is("message", ns::JABBER_CLIENT));
    assert_eq!(message.attr("type"), Some("chat"));
    assert_eq!(message.attr("xml:lang"), Some("en"));
    let body = message.get_child("body", ns::JABBER_CLIENT).expect("body");
    assert_eq!(body.text(), "Art thou not Romeo, and a Montague?");
    assert_eq!(events[8], &StreamEvent::Close);
}

#[tokio::test]
async fn server_stream_and_its_header_attributes() {
    let (events, ending) = parse(
        "<stream:stream from='im.example.com' to='example.net' id='t7AMCin9zjMNwQKDnplntZPIDEI=' \
         version='1.0' xml:lang='en' xmlns='jabber:server' \
         xmlns:stream='http://etherx.jabber.org/streams'>",
    )
    .await;
    assert_eq!(ending, Ending::Eof);
    assert_eq!(
        events,
        [StreamEvent::Open(StreamHeader {
            to: Some("example.net".into()),
            from: Some("im.example.com".into()),
            id: Some("t7AMCin9zjMNwQKDnplntZPIDEI=".into()),
            version: Some("1.0".into()),
            lang: Some("en".into()),
            content_ns: ns::JABBER_SERVER.into(),
        })]
    );
}

#[tokio::test]
async fn xml_declarations_that_are_accepted() {
    for decl in [
        "<?xml version='1.0'?>",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
        "<?xml version='1.0' encoding='utf-8' standalone='yes'?>",
        "<?xml version='1.1'?>",
        "",
    ] {
        let input = format!("{decl}\n{}", &HEADER["<?xml version='1.0'?>".len()..]);
        let (events, ending) = parse(&input).await;
        assert!(matches!(events[..], [StreamEvent::Open(_)]), "{decl}");
        assert_eq!(ending, Ending::Eof, "{decl}");
    }
}

#[tokio::test]
async fn any_bound_prefix_for_the_stream_namespace() {
    let (events, _) = parse(
        "<s:stream xmlns='jabber:client' xmlns:s='http://etherx.jabber.org/streams'>\
         <s:features/><message/></s:stream>",
    )
    .await;
    assert!(element(&events[1]).is("features", ns::STREAM));
    assert!(element(&events[2]).is("message", ns::JABBER_CLIENT));
    assert_eq!(events[3], StreamEvent::Close);
}

#[tokio::test]
async fn empty_stream_header_opens_and_closes() {
    let (events, ending) = parse(
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'/>",
    )
    .await;
    assert!(matches!(
        events[..],
        [StreamEvent::Open(_), StreamEvent::Close]
    ));
    assert_eq!(ending, Ending::Eof);
}

#[tokio::test]
async fn text_is_unescaped_and_cdata_is_text() {
    let body = one(
        "<message><body>&lt;&gt;&amp;&apos;&quot; &#65;&#x42;&#x1F600; \
         <![CDATA[<b>bold</b> & ]]>end</body></message>",
    )
    .await;
    let body = body.get_child("body", ns::JABBER_CLIENT).unwrap();
    assert_eq!(body.text(), "<>&'\" AB\u{1F600} <b>bold</b> & end");
    assert_eq!(body.nodes().len(), 1, "adjacent text is one node");
}

#[tokio::test]
async fn line_ends_are_normalized() {
    // XML §2.11: CR LF and lone CR become LF in character data; XML §3.3.3: white space in
    // attribute values becomes a space.
    let e = one("<message a='x\ty\r\nz'><body>a\r\nb\rc</body></message>").await;
    assert_eq!(e.attr("a"), Some("x y z"));
    assert_eq!(
        e.get_child("body", ns::JABBER_CLIENT).unwrap().text(),
        "a\nb\nc"
    );
}

#[tokio::test]
async fn attributes_are_unescaped_and_declarations_dropped() {
    let e = one("<message xmlns:x='urn:x' to='a&amp;b&#64;c' id=\"&quot;q&apos;\" xml:lang='de'/>")
        .await;
    assert_eq!(e.attr("to"), Some("a&b@c"));
    assert_eq!(e.attr("id"), Some("\"q'"));
    assert_eq!(e.attr("xml:lang"), Some("de"));
    assert_eq!(e.attr("xmlns:x"), None);
    assert_eq!(e.attrs().len(), 3);
}

#[tokio::test]
async fn namespaces_are_resolved_per_element() {
    let e = one("<message xmlns:foo='urn:a'>\
           <foo:x><y/><bar:z xmlns:bar='urn:b'/></foo:x>\
           <x xmlns='urn:c'><foo:y/></x>\
           <none xmlns=''/>\
         </message>")
    .await;
    assert!(e.is("message", ns::JABBER_CLIENT));
    let kids: Vec<_> = e.children().collect();
    assert!(kids[0].is("x", "urn:a"));
    let grandkids: Vec<_> = kids[0].children().collect();
    assert!(
        grandkids[0].is("y", ns::JABBER_CLIENT),
        "default namespace is inherited"
    );
    assert!(grandkids[1].is("z", "urn:b"));
    assert!(kids[1].is("x", "urn:c"));
    assert!(kids[1].children().next().unwrap().is("y", "urn:a"));
    assert!(kids[2].is("none", ""));
}

#[tokio::test]
async fn prefixes_declared_on_the_stream_header_apply() {
    let input = "<stream:stream xmlns='jabber:server' xmlns:db='jabber:server:dialback' \
                 xmlns:stream='http://etherx.jabber.org/streams'>\
                 <db:result from='a.example' to='b.example'>key</db:result>";
    let (events, _) = parse(input).await;
    let result = element(&events[1]);
    assert!(result.is("result", "jabber:server:dialback"));
    assert_eq!(result.text(), "key");
}

#[tokio::test]
async fn prefixed_attributes_keep_their_binding() {
    let e = one("<message xmlns:p='urn:p'><x p:a='1' b='2' xml:lang='en'/></message>").await;
    let x = e.children().next().unwrap();
    let attrs: Vec<_> = x.attrs().iter().map(|a| (&*a.name, &*a.value)).collect();
    assert_eq!(
        attrs,
        [
            ("p:a", "1"),
            ("b", "2"),
            ("xml:lang", "en"),
            ("xmlns:p", "urn:p")
        ]
    );
}

#[tokio::test]
async fn whitespace_inside_elements_is_kept() {
    let e = one("<iq>\n  <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>\n</iq>").await;
    assert!(matches!(&e.nodes()[0], Node::Text(t) if t == "\n  "));
    assert!(matches!(&e.nodes()[2], Node::Text(t) if t == "\n"));
}

#[tokio::test]
async fn keepalives_between_top_level_elements_only() {
    let (events, ending) = parse(&format!(
        "{HEADER} \n\t <presence/>\n\n<presence/><presence/> </stream:stream>"
    ))
    .await;
    assert_eq!(ending, Ending::Eof);
    use StreamEvent::{Close, Keepalive};
    let shape: Vec<_> = events
        .iter()
        .map(|e| match e {
            StreamEvent::Open(_) => "open",
            StreamEvent::Element(_) => "element",
            Keepalive => "keepalive",
            Close => "close",
        })
        .collect();
    assert_eq!(
        shape,
        [
            "open",
            "keepalive",
            "element",
            "keepalive",
            "element",
            "element",
            "keepalive",
            "close"
        ]
    );
}

#[tokio::test]
async fn whitespace_before_the_header_is_not_a_keepalive() {
    let (events, _) = parse(&format!("\n  {}", &HEADER["<?xml version='1.0'?>".len()..])).await;
    assert!(matches!(events[..], [StreamEvent::Open(_)]));
}

#[tokio::test(start_paused = true)]
async fn a_keepalive_is_reported_when_it_arrives() {
    let (mut client, server) = tokio::io::duplex(1024);
    let mut reader = XmlReader::new(server, ReaderLimits::default());
    client.write_all(HEADER.as_bytes()).await.unwrap();
    assert!(matches!(reader.next().await, Ok(StreamEvent::Open(_))));
    client.write_all(b" ").await.unwrap();
    let event = tokio::time::timeout(Duration::from_secs(1), reader.next()).await;
    assert!(matches!(event, Ok(Ok(StreamEvent::Keepalive))), "{event:?}");
    // A partial stanza is not reported until it is complete.
    client.write_all(b"\n<presence").await.unwrap();
    let event = tokio::time::timeout(Duration::from_secs(1), reader.next()).await;
    assert!(matches!(event, Ok(Ok(StreamEvent::Keepalive))), "{event:?}");
    let pending = tokio::time::timeout(Duration::from_secs(1), reader.next()).await;
    assert!(pending.is_err(), "no event for half a stanza");
}

#[tokio::test]
async fn close_then_eof_and_errors_repeat() {
    let (events, ending) = parse(&format!("{HEADER}</stream:stream>")).await;
    assert_eq!(events.last(), Some(&StreamEvent::Close));
    assert_eq!(ending, Ending::Eof);

    let input = format!("{HEADER}<!-- no -->");
    let mut reader = XmlReader::new(input.as_bytes(), ReaderLimits::default());
    assert!(matches!(reader.next().await, Ok(StreamEvent::Open(_))));
    for _ in 0..2 {
        let error = reader.next().await.unwrap_err();
        assert_eq!(
            error.condition(),
            Some(xmpp_core::StreamErrorCondition::RestrictedXml)
        );
    }
}

#[tokio::test]
async fn eof_anywhere_is_eof() {
    for input in [
        String::new(),
        "<?xml version='1.0'?>".to_owned(),
        HEADER[..HEADER.len() - 10].to_owned(),
        HEADER.to_owned(),
        format!("{HEADER}<message><body>hi"),
        format!("{HEADER}<message to='a"),
        format!("{HEADER}<message/>  "),
    ] {
        let (_, ending) = parse(&input).await;
        assert_eq!(ending, Ending::Eof, "{input}");
    }
}

#[tokio::test]
async fn restart_keeps_bytes_already_read() {
    let stream2 = &HEADER["<?xml version='1.0'?>".len()..];
    let input =
        format!("{HEADER}<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>{stream2}<presence/>");
    let mut reader = XmlReader::new(input.as_bytes(), ReaderLimits::default());
    assert!(matches!(reader.next().await, Ok(StreamEvent::Open(_))));
    assert!(matches!(reader.next().await, Ok(StreamEvent::Element(_))));
    assert!(
        reader.has_buffered_data(),
        "the new header is already buffered"
    );
    reader.restart();
    assert!(matches!(reader.next().await, Ok(StreamEvent::Open(_))));
    let presence = reader.next().await.unwrap();
    assert!(element(&presence).is("presence", ns::JABBER_CLIENT));
    assert!(!reader.has_buffered_data());
}

#[tokio::test]
async fn restart_forgets_the_old_header_bindings_and_allows_a_declaration() {
    let first = "<stream:stream xmlns='jabber:client' xmlns:foo='urn:foo' \
                 xmlns:stream='http://etherx.jabber.org/streams'><success/>";
    let input = format!("{first}{HEADER}<foo:x/>");
    let mut reader = XmlReader::new(input.as_bytes(), ReaderLimits::default());
    let (events, ending) = collect(&mut reader, &["success"]).await;
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(
        ending,
        Ending::Stream(xmpp_core::StreamErrorCondition::NotWellFormed)
    );
}

#[tokio::test]
async fn read_write_read_round_trips() {
    let input = format!(
        "{HEADER}<message to='romeo@example.net' xmlns:foo='urn:a' xmlns:p='urn:p'>\
         <body>a &lt; b &amp;&amp; c &gt; d 'q' \"dq\"</body>\
         <foo:x p:attr='v'><foo:y>t</foo:y><z xmlns=''/></foo:x>\
         <stream:features/>\
         </message><iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>"
    );
    let (events, _) = parse(&input).await;
    let originals: Vec<Element> = events[1..].iter().map(|e| element(e).clone()).collect();
    assert_eq!(originals.len(), 2);

    let mut out = Vec::new();
    let mut writer = XmlWriter::new(&mut out, ns::JABBER_CLIENT);
    let h = header(&events[0]).clone();
    writer.write_header(&h).await.unwrap();
    for e in &originals {
        writer.queue_element(e);
    }
    writer.write_close().await.unwrap();

    let (again, ending) = parse(std::str::from_utf8(&out).unwrap()).await;
    assert_eq!(ending, Ending::Eof);
    assert_eq!(header(&again[0]), &h);
    let copies: Vec<Element> = again[1..3].iter().map(|e| element(e).clone()).collect();
    assert_eq!(copies, originals);
    assert_eq!(again[3], StreamEvent::Close);
}

#[tokio::test]
async fn into_inner_and_accessors() {
    let reader = XmlReader::new(&b"rest"[..], ReaderLimits::default());
    assert_eq!(*reader.get_ref(), b"rest");
    assert!(!reader.has_buffered_data());
    assert_eq!(reader.into_inner(), b"rest");
}

#[tokio::test(start_paused = true)]
async fn an_idle_reader_holds_no_buffers() {
    let (mut client, server) = tokio::io::duplex(1024);
    let mut reader = XmlReader::new(server, ReaderLimits::default());
    client.write_all(HEADER.as_bytes()).await.unwrap();
    assert!(matches!(reader.next().await, Ok(StreamEvent::Open(_))));
    for body in ["hi", "again"] {
        let stanza = format!("<message to='romeo@example.net'><body>{body}</body></message>");
        client.write_all(stanza.as_bytes()).await.unwrap();
        let event = reader.next().await.unwrap();
        assert_eq!(
            element(&event)
                .get_child("body", ns::JABBER_CLIENT)
                .unwrap()
                .text(),
            body
        );
        assert!(reader.holds_buffers());
        let idle = tokio::time::timeout(Duration::from_secs(1), reader.next()).await;
        assert!(idle.is_err(), "nothing to read");
        assert!(
            !reader.holds_buffers(),
            "waiting between stanzas holds no buffer"
        );
    }
}

/// What arrived behind the last element the reader returned comes back with the transport,
/// so a caller that reads on by itself loses nothing.
#[tokio::test]
async fn into_parts_hands_over_the_unread_bytes() {
    let input = format!("{HEADER}<presence/><message><body>next</body></message>tail");
    let mut reader = XmlReader::new(input.as_bytes(), ReaderLimits::default());
    assert!(matches!(reader.next().await, Ok(StreamEvent::Open(_))));
    assert_eq!(element(&reader.next().await.unwrap()).name(), "presence");
    let (rest, unread) = reader.into_parts();
    let mut all = unread;
    all.extend_from_slice(rest);
    assert_eq!(all, b"<message><body>next</body></message>tail");
}
