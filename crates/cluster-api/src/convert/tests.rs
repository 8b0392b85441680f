use super::*;

fn jid(s: &str) -> Jid {
    Jid::new(s).unwrap()
}

fn message() -> Stanza {
    let element = Element::new("message", ns::JABBER_CLIENT)
        .with_attr("from", "juliet@example.com/balcony")
        .with_attr("to", "romeo@example.net")
        .with_attr("type", "chat")
        .with_attr("id", "m&1'\"")
        .with_child(Element::new("body", ns::JABBER_CLIENT).with_text("a < b & 'c'\r\n]]>"))
        .with_child(
            Element::new("x", "urn:example:ext")
                .with_attr("v", "<tab>\t</tab>")
                .with_child(Element::new("plain", "")),
        );
    Stanza::from_element(element).unwrap()
}

fn origin() -> v1::SessionAddress {
    v1::SessionAddress {
        node: "c2s-0".into(),
        id: 7,
        jid: "juliet@example.com/balcony".into(),
    }
}

#[test]
fn envelope_carries_routing_fields_and_the_xml_round_trips() {
    let stanza = message();
    let env = envelope(&stanza, Some(origin()));
    assert_eq!(env.from, "juliet@example.com/balcony");
    assert_eq!(env.to, "romeo@example.net");
    assert_eq!(env.kind(), v1::StanzaKind::Message);
    assert_eq!(env.r#type, "chat");
    assert_eq!(env.id, "m&1'\"");
    assert_eq!(env.origin, Some(origin()));
    // jabber:client is implied: the top element declares no namespace.
    assert!(env.xml.starts_with(b"<message from="));
    assert_eq!(stanza_of(&env), Ok(stanza));
}

#[test]
fn absent_attributes_are_empty_strings() {
    let stanza = Stanza::from_element(Element::new("presence", ns::JABBER_CLIENT)).unwrap();
    let env = envelope(&stanza, None);
    assert_eq!(
        (
            env.from.as_str(),
            env.to.as_str(),
            env.r#type.as_str(),
            env.id.as_str()
        ),
        ("", "", "", "")
    );
    assert_eq!(env.kind(), v1::StanzaKind::Presence);
    assert_eq!(env.origin, None);
    assert_eq!(&env.xml[..], b"<presence/>");
}

#[test]
fn a_stanza_in_another_content_namespace_keeps_it() {
    let stanza = Stanza::from_element(Element::new("iq", ns::JABBER_SERVER)).unwrap();
    let env = envelope(&stanza, None);
    assert_eq!(&env.xml[..], b"<iq xmlns='jabber:server'/>");
    assert_eq!(stanza_of(&env), Ok(stanza));
}

#[test]
fn stanza_of_rejects_what_is_not_the_enveloped_stanza() {
    let mut env = envelope(&message(), None);
    env.kind = v1::StanzaKind::Iq.into();
    assert_eq!(
        stanza_of(&env),
        Err(ConvertError::KindMismatch {
            envelope: v1::StanzaKind::Iq,
            xml: xmpp_core::StanzaKind::Message,
        })
    );
    env.kind = 42;
    assert!(matches!(
        stanza_of(&env),
        Err(ConvertError::KindMismatch {
            envelope: v1::StanzaKind::Unspecified,
            ..
        })
    ));
    env.xml = Bytes::from_static(b"<features xmlns='http://etherx.jabber.org/streams'/>");
    assert!(matches!(
        stanza_of(&env),
        Err(ConvertError::NotAStanza { .. })
    ));
    env.xml = Bytes::from_static(b"<message>");
    assert!(matches!(stanza_of(&env), Err(ConvertError::Xml(_))));
    env.xml = Bytes::from_static(b"<message>\xff</message>");
    assert_eq!(stanza_of(&env), Err(ConvertError::NotUtf8));
}

/// A `StanzaIn` request for `stanza`'s envelope, with `attached` attached to it.
fn request_with(stanza: &Stanza, attached: Stanza) -> tonic::Request<v1::StanzaInRequest> {
    let mut request = tonic::Request::new(v1::StanzaInRequest {
        stanza: Some(envelope(stanza, None)),
        direction: v1::Direction::Inbound.into(),
    });
    attach_stanza(&mut request, attached);
    request
}

#[test]
fn an_attached_stanza_is_taken_instead_of_the_xml_once() {
    // The attached stanza differs from the envelope's XML only so that the test tells which
    // one the shard got; a caller attaches the stanza it made the envelope from.
    let attached =
        Stanza::from_element(message().element().clone().with_attr("id", "kept")).unwrap();
    let (_, mut extensions, request) = request_with(&message(), attached.clone()).into_parts();
    let env = request.stanza.unwrap();
    assert_eq!(stanza_in(&mut extensions, &env), Ok(attached));
    // Taken out: a second read parses the XML.
    assert_eq!(stanza_in(&mut extensions, &env), Ok(message()));
}

#[test]
fn an_attached_stanza_of_another_kind_than_the_envelope_is_refused() {
    let presence = Stanza::from_element(Element::new("presence", ns::JABBER_CLIENT)).unwrap();
    let (_, mut extensions, request) = request_with(&message(), presence).into_parts();
    assert_eq!(
        stanza_in(&mut extensions, &request.stanza.unwrap()),
        Err(ConvertError::KindMismatch {
            envelope: v1::StanzaKind::Message,
            xml: xmpp_core::StanzaKind::Presence,
        })
    );
}

#[test]
fn kinds_convert_both_ways() {
    use xmpp_core::StanzaKind as Kind;
    for (core, wire) in [
        (Kind::Message, v1::StanzaKind::Message),
        (Kind::Presence, v1::StanzaKind::Presence),
        (Kind::Iq, v1::StanzaKind::Iq),
    ] {
        assert_eq!(v1::StanzaKind::from(core), wire);
        assert_eq!(Kind::try_from(wire), Ok(core));
    }
    assert_eq!(
        Kind::try_from(v1::StanzaKind::Unspecified),
        Err(ConvertError::UnspecifiedKind)
    );
}

#[test]
fn deliveries_are_addressed_to_the_bare_jid() {
    let xml = serialize(message().element());
    let d = delivery_to_resources(
        &jid("Romeo@Example.net/orchard"),
        [
            jid("romeo@example.net/orchard"),
            jid("romeo@example.net/garden"),
        ],
        xml.clone(),
    );
    assert_eq!(d.user, "romeo@example.net");
    assert_eq!(
        d.target,
        Some(v1::delivery::Target::Resources(v1::Resources {
            jids: vec![
                "romeo@example.net/orchard".into(),
                "romeo@example.net/garden".into()
            ],
        }))
    );
    assert_eq!(d.xml, xml);

    let d = delivery_to_available(&jid("romeo@example.net"), xml.clone());
    assert_eq!(d.user, "romeo@example.net");
    assert_eq!(
        d.target,
        Some(v1::delivery::Target::Available(v1::AvailableResources {}))
    );
    assert_eq!(d.xml, xml);
}
