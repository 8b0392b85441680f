//! Property tests: generated stanza trees survive write → chunked read unchanged, and no
//! input makes the reader panic or depend on how the input was split.

use proptest::prelude::*;
use xmpp_core::{Element, ns};

use crate::test_util::{Ending, HEADER, merge_keepalives, parse_chunked, runtime};
use crate::{ReaderLimits, StreamEvent, StreamHeader, XmlWriter};

fn name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(
        &[
            "message",
            "body",
            "x",
            "item",
            "c",
            "query",
            "a-b",
            "n.1",
            "_u",
            "\u{e9}t\u{e9}",
        ][..],
    )
}

fn namespace() -> impl Strategy<Value = &'static str> {
    prop::sample::select(
        &[
            ns::JABBER_CLIENT,
            "urn:a",
            "urn:b:c",
            "",
            "http://jabber.org/protocol/caps",
        ][..],
    )
}

/// Attribute values: printable text plus tabs and line ends, which survive attribute-value
/// normalization (XML §3.3.3) only because the writer escapes them.
fn value() -> impl Strategy<Value = String> {
    "[\\PC\t\n\r]{0,12}"
}

/// Character data: printable text, whitespace including carriage returns (escaped by the
/// writer against line-end normalization, XML §2.11), and markup characters.
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
            // A prefixed attribute travels with its binding (see reader::tree).
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

fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..64, 1..32)
}

fn serialize(elements: &[Element], separators: &[bool]) -> Vec<u8> {
    runtime().block_on(async {
        let mut out = Vec::new();
        let mut writer = XmlWriter::new(&mut out, ns::JABBER_CLIENT);
        let header = StreamHeader {
            to: Some("example.com".into()),
            version: Some("1.0".into()),
            content_ns: ns::JABBER_CLIENT.into(),
            ..StreamHeader::default()
        };
        writer.write_header(&header).await.unwrap();
        for (i, e) in elements.iter().enumerate() {
            if separators.get(i).copied().unwrap_or(false) {
                writer.write_raw("\n ").await.unwrap();
            }
            writer.queue_element(e);
        }
        writer.write_close().await.unwrap();
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn written_trees_read_back_equal(
        elements in prop::collection::vec(tree(), 1..6),
        separators in prop::collection::vec(any::<bool>(), 0..6),
        sizes in chunk_sizes(),
        pending in any::<bool>(),
    ) {
        let bytes = serialize(&elements, &separators);
        let (events, ending) = runtime().block_on(parse_chunked(
            &bytes, sizes, pending, &ReaderLimits::default(), &[],
        ));
        prop_assert_eq!(ending, Ending::Eof);
        let read: Vec<Element> = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::Element(e) => Some(e.clone()),
                _ => None,
            })
            .collect();
        prop_assert_eq!(read, elements);
        prop_assert!(matches!(events.first(), Some(StreamEvent::Open(_))));
        prop_assert_eq!(events.last(), Some(&StreamEvent::Close));
    }

    #[test]
    fn random_bytes_never_panic(
        with_header in any::<bool>(),
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        sizes in chunk_sizes(),
        pending in any::<bool>(),
    ) {
        let input = if with_header { [HEADER.as_bytes(), &bytes].concat() } else { bytes };
        runtime().block_on(parse_chunked(&input, sizes, pending, &ReaderLimits::default(), &[]));
    }

    #[test]
    fn damaged_streams_read_the_same_at_any_chunking(
        elements in prop::collection::vec(tree(), 1..4),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4),
        sizes in chunk_sizes(),
        pending in any::<bool>(),
    ) {
        let mut bytes = serialize(&elements, &[true, false, true]);
        for (at, byte, kind) in edits {
            let at = at.index(bytes.len());
            match kind {
                0 => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ => { bytes.remove(at); }
            }
        }
        let limits = ReaderLimits::default();
        let rt = runtime();
        let whole = rt.block_on(parse_chunked(&bytes, vec![usize::MAX], false, &limits, &[]));
        let (events, ending) = rt.block_on(parse_chunked(&bytes, sizes, pending, &limits, &[]));
        prop_assert_eq!(
            (merge_keepalives(events), ending),
            (merge_keepalives(whole.0), whole.1)
        );
    }
}
