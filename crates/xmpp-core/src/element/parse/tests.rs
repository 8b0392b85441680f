mod properties;

use super::*;

fn parse(xml: &str) -> Result<Element, XmlParseError> {
    Element::from_xml(xml, ns::JABBER_CLIENT)
}

#[test]
fn presence_with_show_status_and_an_extension() {
    let xml = "<presence from='juliet@example.com/balcony' id='p1'>\
               <show>away</show><status xml:lang='en'>be right back</status>\
               <c xmlns='http://jabber.org/protocol/caps' hash='sha-1' \
               node='http://example.com/client' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/>\
               </presence>";
    let expected = Element::new("presence", ns::JABBER_CLIENT)
        .with_attr("from", "juliet@example.com/balcony")
        .with_attr("id", "p1")
        .with_child(Element::new("show", ns::JABBER_CLIENT).with_text("away"))
        .with_child(
            Element::new("status", ns::JABBER_CLIENT)
                .with_attr("xml:lang", "en")
                .with_text("be right back"),
        )
        .with_child(
            Element::new("c", "http://jabber.org/protocol/caps")
                .with_attr("hash", "sha-1")
                .with_attr("node", "http://example.com/client")
                .with_attr("ver", "QgayPKawpkPSDYmwT/WM94uAlu0="),
        );
    assert_eq!(parse(xml), Ok(expected));
}

#[test]
fn default_namespace_is_the_callers_until_declared() {
    let e = Element::from_xml("<x/>", "jabber:server").unwrap();
    assert_eq!(e.ns(), "jabber:server");
    let e = parse(
        "<iq type='get'><query xmlns='jabber:iq:roster'><item/><group xmlns=''/></query></iq>",
    )
    .unwrap();
    assert_eq!(e.ns(), ns::JABBER_CLIENT);
    let query = e.get_child("query", ns::ROSTER).unwrap();
    assert!(query.get_child("item", ns::ROSTER).is_some());
    assert!(query.get_child("group", "").is_some());
    // An empty declaration on the top element takes it out of every namespace.
    assert_eq!(
        parse("<x xmlns=''><y/></x>")
            .unwrap()
            .children()
            .next()
            .unwrap()
            .ns(),
        ""
    );
}

#[test]
fn prefixes_resolve_and_prefixed_attributes_keep_their_binding() {
    let xml = "<message xmlns:e='urn:example:e' e:flag='on' to='romeo@example.net'>\
               <e:data e:n='1'>d</e:data><stream:x xmlns:stream='urn:other'/></message>";
    let expected = Element::new("message", ns::JABBER_CLIENT)
        .with_attr("e:flag", "on")
        .with_attr("to", "romeo@example.net")
        .with_attr("xmlns:e", "urn:example:e")
        .with_child(
            Element::new("data", "urn:example:e")
                .with_attr("e:n", "1")
                .with_attr("xmlns:e", "urn:example:e")
                .with_text("d"),
        )
        .with_child(Element::new("x", "urn:other"));
    assert_eq!(parse(xml), Ok(expected));
}

#[test]
fn entities_references_and_cdata_are_unescaped() {
    let xml = "<message id='a&amp;b&#10;c&apos;&quot;\td'>\
               <body>1 &lt; 2 &amp;&amp; 3 &gt; 2 &#x1F600;&#65;<![CDATA[<raw & ok>]]></body>\
               </message>";
    let e = parse(xml).unwrap();
    // The literal tab is normalized to a space (XML §3.3.3); the reference is not.
    assert_eq!(e.attr("id"), Some("a&b\nc'\" d"));
    assert_eq!(
        e.get_child("body", ns::JABBER_CLIENT).unwrap().text(),
        "1 < 2 && 3 > 2 \u{1F600}A<raw & ok>"
    );
}

#[test]
fn white_space_is_kept_inside_and_ignored_around() {
    let e = parse("\n  <message>\r\n <body> a </body></message>\t\n").unwrap();
    assert_eq!(e.text(), "\n ");
    assert_eq!(
        e.get_child("body", ns::JABBER_CLIENT).unwrap().text(),
        " a "
    );
}

#[test]
fn rejects_anything_but_one_element() {
    use XmlParseError::*;
    let restricted = |e: &Result<Element, XmlParseError>| matches!(e, Err(Restricted(_)));
    let malformed = |e: &Result<Element, XmlParseError>| matches!(e, Err(Malformed(_)));
    assert_eq!(parse(""), Err(NoElement));
    assert_eq!(parse(" \n"), Err(NoElement));
    assert_eq!(parse("<a/><b/>"), Err(SeveralElements));
    assert_eq!(parse("<a/> <b>x</b>"), Err(SeveralElements));
    assert_eq!(parse("x<a/>"), Err(TextOutsideElement));
    assert_eq!(parse("<a/>x"), Err(TextOutsideElement));
    assert_eq!(parse("<a/>&#32;"), Err(TextOutsideElement));
    assert_eq!(parse("<![CDATA[ ]]><a/>"), Err(TextOutsideElement));
    assert!(restricted(&parse("<!DOCTYPE a><a/>")));
    assert!(restricted(&parse("<?pi x?><a/>")));
    assert!(restricted(&parse("<a><?pi x?></a>")));
    assert!(restricted(&parse("<a><!-- c --></a>")));
    assert!(restricted(&parse("<a>&nbsp;</a>")));
    assert!(restricted(&parse("<a b='&nbsp;'/>")));
    assert_eq!(parse("<foo:body/>"), Err(UnboundPrefix("foo".into())));
    assert_eq!(
        parse("<a><foo:body/></a>"),
        Err(UnboundPrefix("foo".into()))
    );
    assert_eq!(parse("<a foo:x='1'/>"), Err(UnboundPrefix("foo".into())));
    for bad in [
        "<a>",
        "<a><b></a>",
        "<a></b>",
        "</a>",
        "<a b='1'c='2'/>",
        "<a b='1' b='2'/>",
        "<a xmlns:p='urn:p' xmlns:q='urn:p' p:x='1' q:x='2'/>",
        "<a b='<'/>",
        "<a b=1/>",
        "<a>\u{1}</a>",
        "<a>\u{1F}</a>",
        "<a>\u{FFFF}</a>",
        "<a b='\u{FFFE}'/>",
        "<a>&#0;</a>",
        "<a>&#xFFFE;</a>",
        "<a b='&#1;'/>",
        "<a>]]></a>",
        "<a>&amp</a>",
        "<?xml version='1.0'?><a/>",
        "<1a/>",
        "<a xml:b:c='1'/>",
        "<xml:a/>",
        "<a xmlns:p=''/>",
    ] {
        let result = parse(bad);
        assert!(malformed(&result), "{bad:?} gave {result:?}");
    }
    // XML §2.2: allowed, though encoded with the bytes U+FFFE and U+FFFF start with.
    for good in ["<a>\u{F000}\u{FFFD}\t\r\n</a>", "<a b='\u{EFFF}'/>"] {
        assert!(parse(good).is_ok(), "{good:?}");
    }
}

#[test]
fn errors_read_well() {
    assert_eq!(
        XmlParseError::UnboundPrefix("foo".into()).to_string(),
        "namespace prefix 'foo' is not bound"
    );
    assert_eq!(
        XmlParseError::Restricted("a comment").to_string(),
        "a comment is not allowed (RFC 6120 §11.1)"
    );
}
