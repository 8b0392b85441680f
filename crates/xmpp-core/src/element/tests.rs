use super::*;

#[test]
fn writes_namespace_only_where_it_changes() {
    let msg = Element::new("message", ns::JABBER_CLIENT)
        .with_attr("to", "juliet@example.com")
        .with_child(Element::new("body", ns::JABBER_CLIENT).with_text("a < b & 'c'"))
        .with_child(Element::new("x", "urn:example:ext").with_attr("v", "\"q\""));
    let mut out = String::new();
    msg.write_to(&mut out, ns::JABBER_CLIENT);
    assert_eq!(
        out,
        "<message to='juliet@example.com'><body>a &lt; b &amp; 'c'</body>\
         <x xmlns='urn:example:ext' v='&quot;q&quot;'/></message>"
    );
}

#[test]
fn stream_namespace_uses_the_stream_prefix() {
    let features = Element::new("features", ns::STREAM)
        .with_child(Element::new("bind", ns::BIND))
        .with_child(Element::new("ver", "urn:xmpp:features:rosterver"));
    let mut out = String::new();
    features.write_to(&mut out, ns::JABBER_CLIENT);
    assert_eq!(
        out,
        "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>\
         <ver xmlns='urn:xmpp:features:rosterver'/></stream:features>"
    );
}

#[test]
fn text_nodes_merge_and_attributes_replace() {
    let mut e = Element::new("status", ns::JABBER_CLIENT);
    e.push_text("away ");
    e.push_text("now");
    e.set_attr("xml:lang", "en");
    e.set_attr("xml:lang", "de");
    assert_eq!(e.text(), "away now");
    assert_eq!(e.nodes().len(), 1);
    assert_eq!(e.attr("xml:lang"), Some("de"));
    assert_eq!(e.remove_attr("xml:lang").as_deref(), Some("de"));
    assert_eq!(e.attr("xml:lang"), None);
}

#[test]
fn set_ns_deep_moves_only_same_namespace_descendants() {
    let mut e = Element::new("message", ns::JABBER_SERVER)
        .with_child(Element::new("body", ns::JABBER_SERVER))
        .with_child(Element::new("x", "urn:example:ext"));
    e.set_ns_deep(ns::JABBER_CLIENT);
    assert_eq!(e.ns(), ns::JABBER_CLIENT);
    assert!(e.get_child("body", ns::JABBER_CLIENT).is_some());
    assert!(e.get_child("x", "urn:example:ext").is_some());
}

#[test]
fn whitespace_that_parsers_normalize_is_escaped() {
    let e = Element::new("x", "urn:a")
        .with_attr("v", "a\tb\nc\rd")
        .with_text("l1\r\nl2");
    assert_eq!(
        e.to_xml(),
        "<x xmlns='urn:a' v='a&#9;b&#10;c&#13;d'>l1&#13;\nl2</x>"
    );
}

#[test]
fn escaping_keeps_the_characters_around_each_reference() {
    // Multi-byte characters next to escaped ones, at both ends and in a row.
    let s = "é<ü&'\"漢\t>\n\rz";
    let mut text = String::new();
    escape_into(&mut text, s, false);
    assert_eq!(text, "é&lt;ü&amp;'\"漢\t&gt;\n&#13;z");
    let mut attr = String::new();
    escape_into(&mut attr, s, true);
    assert_eq!(attr, "é&lt;ü&amp;&apos;&quot;漢&#9;&gt;&#10;&#13;z");
    let mut plain = String::from("kept:");
    escape_into(&mut plain, "juliet@example.com/balcony", true);
    assert_eq!(plain, "kept:juliet@example.com/balcony");
}

#[test]
fn an_addressable_element_writes_what_setting_to_would() {
    let ns_client = ns::JABBER_CLIENT;
    let with_children = Element::new("presence", ns_client)
        .with_attr("from", "romeo@example.net/orchard")
        .with_attr("id", "p&1")
        .with_child(Element::new("show", ns_client).with_text("away"))
        .with_child(Element::new("c", "http://jabber.org/protocol/caps").with_attr("ver", "q'"));
    let directed = Element::new("presence", ns_client)
        .with_attr("to", "old@example.net")
        .with_attr("type", "unavailable");
    let empty = Element::new("presence", ns_client);
    for element in [with_children, directed, empty] {
        for parent_ns in [ns_client, ""] {
            let template = element.addressable(parent_ns);
            for to in ["juliet@example.com", "o'brien@example.com/<r>"] {
                let mut expected = String::new();
                element
                    .clone()
                    .with_attr("to", to)
                    .write_to(&mut expected, parent_ns);
                assert_eq!(template.addressed_to(to), expected);
            }
        }
    }
}
