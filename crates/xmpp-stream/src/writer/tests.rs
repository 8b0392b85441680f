use xmpp_core::{Element, StreamError, StreamErrorCondition, ns};

use super::*;

fn header() -> StreamHeader {
    StreamHeader {
        to: Some("juliet@im.example.com".into()),
        from: Some("im.example.com".into()),
        id: Some("t7AMCin9zjMNwQKDnplntZPIDEI=".into()),
        version: Some("1.0".into()),
        lang: Some("en".into()),
        content_ns: ns::JABBER_CLIENT.into(),
    }
}

fn written(w: &XmlWriter<Vec<u8>>) -> &str {
    std::str::from_utf8(w.get_ref()).unwrap()
}

#[tokio::test]
async fn header_is_queued_not_flushed() {
    let mut w = XmlWriter::new(Vec::new(), ns::JABBER_CLIENT);
    w.write_header(&header()).await.unwrap();
    assert_eq!(written(&w), "");
    assert!(w.has_queued_data());
    w.flush().await.unwrap();
    assert_eq!(
        written(&w),
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
         xmlns:stream='http://etherx.jabber.org/streams' to='juliet@im.example.com' \
         from='im.example.com' id='t7AMCin9zjMNwQKDnplntZPIDEI=' version='1.0' xml:lang='en'>"
    );
}

#[tokio::test]
async fn header_leaves_out_absent_attributes_and_escapes_values() {
    let mut w = XmlWriter::new(Vec::new(), ns::JABBER_CLIENT);
    let h = StreamHeader {
        to: Some("a'b&c".into()),
        content_ns: ns::JABBER_SERVER.into(),
        ..StreamHeader::default()
    };
    w.write_header(&h).await.unwrap();
    w.write_element(&Element::new("message", ns::JABBER_SERVER))
        .await
        .unwrap();
    assert_eq!(
        written(&w),
        "<?xml version='1.0'?><stream:stream xmlns='jabber:server' \
         xmlns:stream='http://etherx.jabber.org/streams' to='a&apos;b&amp;c'><message/>"
    );
}

#[tokio::test]
async fn queued_elements_go_out_together_on_flush() {
    let mut w = XmlWriter::new(Vec::new(), ns::JABBER_CLIENT);
    w.queue_element(&Element::new("presence", ns::JABBER_CLIENT));
    w.queue_element(
        &Element::new("features", ns::STREAM).with_child(Element::new("bind", ns::BIND)),
    );
    assert_eq!(written(&w), "");
    w.flush().await.unwrap();
    assert_eq!(
        written(&w),
        "<presence/><stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"
    );
    assert!(!w.has_queued_data());
}

#[tokio::test]
async fn stream_error_then_close() {
    // RFC 6120 §4.9.1.1 and the example of §4.9.3.13.
    let mut w = XmlWriter::new(Vec::new(), ns::JABBER_CLIENT);
    w.write_error_and_close(&StreamError::new(StreamErrorCondition::NotWellFormed))
        .await
        .unwrap();
    assert_eq!(
        written(&w),
        "<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\
         </stream:error></stream:stream>"
    );
}

#[tokio::test]
async fn raw_and_close() {
    let mut w = XmlWriter::new(Vec::new(), ns::JABBER_CLIENT);
    w.write_raw(" ").await.unwrap();
    w.write_close().await.unwrap();
    assert_eq!(written(&w), " </stream:stream>");
    assert_eq!(w.into_inner(), b" </stream:stream>");
}

#[tokio::test]
async fn a_large_batch_is_written_out_before_the_flush() {
    let mut w = XmlWriter::new(Vec::new(), ns::JABBER_CLIENT);
    let big = Element::new("message", ns::JABBER_CLIENT).with_text("x".repeat(HIGH_WATER));
    w.queue_element(&big);
    w.write_header(&header()).await.unwrap();
    assert!(
        w.get_ref().len() > HIGH_WATER,
        "written out at the high-water mark"
    );
}

#[tokio::test]
async fn a_flushed_writer_holds_no_buffer() {
    let mut w = XmlWriter::new(Vec::new(), ns::JABBER_CLIENT);
    for _ in 0..20 {
        w.queue_serialized(Bytes::from_static(
            b"<presence from='a@example.com/r' to='b@example.com'/>",
        ))
        .unwrap();
    }
    assert!(w.buf.capacity() >= 20 * 50);
    w.flush().await.unwrap();
    assert_eq!(w.buf.capacity(), 0, "an idle stream keeps no write buffer");
    assert_eq!(written(&w).matches("<presence").count(), 20);
}

/// A stream header and features, as a login writes them, fit in the room the buffer gets
/// at once: it is not grown step by step.
#[tokio::test]
async fn the_first_thing_queued_makes_room_for_a_batch_at_once() {
    let mut w = XmlWriter::new(Vec::new(), ns::JABBER_CLIENT);
    w.write_header(&header()).await.unwrap();
    assert_eq!(w.buf.capacity(), FIRST_CAPACITY);
    let mut features = Element::new("features", ns::STREAM);
    let mut mechanisms = Element::new("mechanisms", ns::SASL);
    for m in [
        "SCRAM-SHA-256-PLUS",
        "SCRAM-SHA-256",
        "SCRAM-SHA-1-PLUS",
        "SCRAM-SHA-1",
    ] {
        mechanisms.push_child(Element::new("mechanism", ns::SASL).with_text(m));
    }
    features.push_child(mechanisms);
    w.queue_element(&features);
    assert!(w.buf.len() > 400, "{}", w.buf.len());
    assert_eq!(w.buf.capacity(), FIRST_CAPACITY, "not grown");
    w.flush().await.unwrap();
    assert_eq!(w.buf.capacity(), 0);
}

#[tokio::test]
async fn a_stanza_queued_alone_is_written_from_its_own_buffer() {
    let mut w = XmlWriter::new(Vec::new(), ns::JABBER_CLIENT);
    let xml = "<presence from='a@example.com/r' to='b@example.com'/>";
    w.queue_serialized(Bytes::from_static(xml.as_bytes()))
        .unwrap();
    assert!(w.has_queued_data());
    assert_eq!(w.buf.capacity(), 0, "not copied into the writer's buffer");
    w.flush().await.unwrap();
    assert_eq!(written(&w), xml);
    assert!(!w.has_queued_data());
    assert_eq!(w.buf.capacity(), 0);
}

#[tokio::test]
async fn what_is_queued_after_a_stanza_alone_follows_it_in_order() {
    let mut w = XmlWriter::new(Vec::new(), ns::JABBER_CLIENT);
    w.queue_serialized(Bytes::from_static(b"<presence id='1'/>"))
        .unwrap();
    w.queue_element(&Element::new("message", ns::JABBER_CLIENT).with_attr("id", "2"));
    w.queue_serialized(Bytes::from_static(b"<presence id='3'/>"))
        .unwrap();
    w.flush().await.unwrap();
    w.queue_serialized(Bytes::from_static(b"<presence id='4'/>"))
        .unwrap();
    w.write_close().await.unwrap();
    assert_eq!(
        written(&w),
        "<presence id='1'/><message id='2'/><presence id='3'/><presence id='4'/></stream:stream>"
    );
}

/// RFC 6120 §11.6: a stream is UTF-8; bytes that are not are refused, not written.
#[tokio::test]
async fn serialized_bytes_that_are_not_utf8_are_refused() {
    let mut w = XmlWriter::new(Vec::new(), ns::JABBER_CLIENT);
    assert!(
        w.queue_serialized(Bytes::from_static(b"<presence>\xff</presence>"))
            .is_err()
    );
    assert!(!w.has_queued_data());
    w.flush().await.unwrap();
    assert_eq!(written(&w), "");
}
