//! Property test: `from_xml` is the inverse of `write_to` for any tree, whatever the default
//! namespace it is written under.

use proptest::prelude::*;

use super::*;

fn name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(
        &[
            "message",
            "body",
            "x",
            "item",
            "a-b",
            "n.1",
            "_u",
            "\u{e9}t\u{e9}",
        ][..],
    )
}

fn namespace() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&[ns::JABBER_CLIENT, ns::JABBER_SERVER, "urn:a", "urn:b:c", ""][..])
}

/// Attribute values: printable text plus tabs and line ends, which survive attribute-value
/// normalization (XML §3.3.3) only because the writer escapes them.
fn value() -> impl Strategy<Value = String> {
    "[\\PC\t\n\r<>&'\"]{0,12}"
}

/// Character data, including carriage returns (escaped against line-end normalization,
/// XML §2.11) and markup characters.
fn text() -> impl Strategy<Value = String> {
    "[\\PC\t\n\r<>&'\"]{0,20}"
}

fn leaf() -> impl Strategy<Value = Element> {
    (
        name(),
        namespace(),
        prop::collection::vec(
            (
                prop::sample::select(&["to", "from", "id", "type", "xml:lang", "v"][..]),
                value(),
            ),
            0..4,
        ),
        prop::option::of(value()),
    )
        .prop_map(|(name, ns, attrs, prefixed)| {
            let mut e = Element::new(name, ns);
            for (k, v) in attrs {
                e.set_attr(k, v);
            }
            // A prefixed attribute travels with its binding, as the parser builds it.
            if let Some(v) = prefixed {
                e.set_attr("p:attr", v);
                e.set_attr("xmlns:p", "urn:prefixed");
            }
            e
        })
}

fn tree() -> impl Strategy<Value = Element> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        (
            leaf(),
            prop::collection::vec(prop_oneof![inner.prop_map(Ok), text().prop_map(Err)], 0..6),
        )
            .prop_map(|(mut e, children)| {
                for child in children {
                    match child {
                        Ok(element) => e.push_child(element),
                        Err(text) => e.push_text(text),
                    }
                }
                e
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn written_trees_read_back_equal(e in tree(), default_ns in namespace()) {
        let mut xml = String::new();
        e.write_to(&mut xml, default_ns);
        prop_assert_eq!(Element::from_xml(&xml, default_ns), Ok(e));
    }

    #[test]
    fn arbitrary_input_never_panics(s in "[<>/='\"a-c:&;# \\PC]{0,64}") {
        let _ = Element::from_xml(&s, ns::JABBER_CLIENT);
    }
}
