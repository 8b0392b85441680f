//! Every stream error the reader produces, from literal bytes.

use xmpp_core::StreamErrorCondition::{
    self, BadNamespacePrefix, InvalidNamespace, NotWellFormed, RestrictedXml, UnsupportedEncoding,
};

use crate::ReaderLimits;
use crate::test_util::{Ending, HEADER, parse_chunked};

const STREAM_NS: &str = "xmlns:stream='http://etherx.jabber.org/streams'";

async fn ending(input: &[u8]) -> Ending {
    parse_chunked(
        input,
        vec![usize::MAX],
        false,
        &ReaderLimits::default(),
        &[],
    )
    .await
    .1
}

async fn assert_cases(condition: StreamErrorCondition, cases: &[&str]) {
    for case in cases {
        assert_eq!(
            ending(case.as_bytes()).await,
            Ending::Stream(condition),
            "{case}"
        );
    }
}

/// `body` inside an open client stream.
fn in_stream(body: &str) -> String {
    format!("{HEADER}{body}")
}

#[tokio::test]
async fn unsupported_encoding() {
    assert_cases(
        UnsupportedEncoding,
        &[
            "<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream/>",
            "<?xml version='1.0' encoding='UTF-16'?><stream:stream/>",
        ],
    )
    .await;
    // UTF-16 with byte order marks, UTF-16LE and UTF-16BE without.
    let utf16: Vec<u8> = "<stream:stream>"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    for input in [
        [&[0xFF, 0xFE][..], &utf16].concat(),
        [&[0xFE, 0xFF][..], &utf16].concat(),
        utf16.clone(),
        [&[0][..], &utf16[..utf16.len() - 1]].concat(),
    ] {
        assert_eq!(
            ending(&input).await,
            Ending::Stream(UnsupportedEncoding),
            "{input:?}"
        );
    }
}

#[tokio::test]
async fn a_leading_u_feff_is_not_a_byte_order_mark() {
    // RFC 6120 §11.6.
    let input = [&[0xEF, 0xBB, 0xBF][..], HEADER.as_bytes()].concat();
    assert_eq!(ending(&input).await, Ending::Stream(NotWellFormed));
}

#[tokio::test]
async fn invalid_namespace() {
    assert_cases(
        InvalidNamespace,
        &[
            // §4.9.3.10's example: the stream namespace is wrong.
            "<stream:stream xmlns='jabber:client' xmlns:stream='http://wrong.namespace.example.org/'>",
            // Not a stream element.
            &format!("<stream:features xmlns='jabber:client' {STREAM_NS}>"),
            "<stream xmlns='jabber:client'>",
            // The content namespace is unsupported or missing (§4.8.2).
            &format!("<stream:stream xmlns='jabber:foo' {STREAM_NS}>"),
            &format!("<stream:stream {STREAM_NS}>"),
            &format!("<stream:stream xmlns='' {STREAM_NS}>"),
            // Prefix-free canonicalization (§4.8.2) has no content namespace.
            "<stream xmlns='http://etherx.jabber.org/streams'>",
        ],
    )
    .await;
}

#[tokio::test]
async fn bad_namespace_prefix() {
    assert_cases(
        BadNamespacePrefix,
        &[
            // The stream prefix is never declared.
            "<stream:stream xmlns='jabber:client' to='example.com' version='1.0'>",
            "<?xml version='1.0'?><foo:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
        ],
    )
    .await;
}

#[tokio::test]
async fn restricted_xml() {
    assert_cases(
        RestrictedXml,
        &[
            // §11.1: DTDs, comments, processing instructions, entity references.
            &format!("<?xml version='1.0'?><!DOCTYPE stream:stream>{HEADER}"),
            &format!("<!DOCTYPE stream [<!ENTITY x 'y'>]>{HEADER}"),
            &format!("<!-- hello -->{HEADER}"),
            &format!("<?xml version='1.0'?><?target data?>{HEADER}"),
            &in_stream("<!-- a comment between stanzas -->"),
            &in_stream("<message><!-- a comment in a stanza --></message>"),
            &in_stream("<?php echo 1; ?>"),
            &in_stream("<message><?pi x?></message>"),
            &in_stream("<message><body>&nbsp;</body></message>"),
            &in_stream("<message><body>&xxe;</body></message>"),
            &in_stream("<message to='&xxe;'/>"),
            &in_stream("<message><!DOCTYPE x></message>"),
        ],
    )
    .await;
}

#[tokio::test]
async fn not_well_formed() {
    assert_cases(
        NotWellFormed,
        &[
            // XML declarations anywhere but at the very start.
            &format!(" {HEADER}"),
            &format!("<?xml version='1.0'?>{HEADER}"),
            &in_stream("<?xml version='1.0'?>"),
            &in_stream("<message><?xml version='1.0'?></message>"),
            "<?xml encoding='UTF-8'?><stream:stream/>",
            "<?xml version='2.0'?><stream:stream/>",
            // Text outside elements.
            &format!("hello{HEADER}"),
            &in_stream("hello"),
            &in_stream("<message/>hello"),
            &in_stream("&amp;"),
            &in_stream("<![CDATA[x]]>"),
            // Tags.
            &in_stream("<message><body></message>"),
            &in_stream("<message></body></message>"),
            &in_stream("<message <body>"),
            &in_stream("<message to=romeo/>"),
            &in_stream("<message to='a' to='b'/>"),
            &in_stream("<message to/>"),
            &in_stream("<message to='a'from='b'/>"),
            &in_stream("<1message/>"),
            &in_stream("<mes\"sage\"/>"),
            &in_stream("<a:b:c xmlns:a='urn:a'/>"),
            &in_stream("<xmlns:x xmlns:xmlns='urn:x'/>"),
            &in_stream("<message 1to='a'/>"),
            &in_stream("<message to='a<b'/>"),
            &in_stream("</stream:features>"),
            &in_stream("</stream>"),
            &in_stream("<>"),
            // Namespace well-formedness (§11.3; §4.9.3.13's example).
            &in_stream("<message><foo:body>What is this foo?</foo:body></message>"),
            &in_stream("<message foo:to='x'/>"),
            &in_stream("<message xmlns:a='urn:x' xmlns:b='urn:x' a:to='1' b:to='2'/>"),
            &in_stream("<message xmlns:xml='urn:not-xml'/>"),
            &in_stream("<xml:lang/>"),
            &in_stream("<message xmlns='http://www.w3.org/XML/1998/namespace'/>"),
            // References and characters.
            &in_stream("<message><body>a & b</body></message>"),
            &in_stream("<message><body>&#0;</body></message>"),
            &in_stream("<message><body>&#1;</body></message>"),
            &in_stream("<message><body>&#xFFFE;</body></message>"),
            &in_stream("<message><body>&#xD800;</body></message>"),
            &in_stream("<message><body>&#x110000;</body></message>"),
            &in_stream("<message><body>&#xZZ;</body></message>"),
            &in_stream("<message to='&#2;'/>"),
            &in_stream("<message to='a&b'/>"),
            &in_stream("<message><body>&;</body></message>"),
            &in_stream("<message><body>&a b;</body></message>"),
            &in_stream("<message><body>\u{1}</body></message>"),
            &in_stream("<message><body>\u{0}</body></message>"),
            &in_stream("<message><body>\u{FFFF}</body></message>"),
            &in_stream("<message to='\u{FFFE}'/>"),
            &in_stream("<message><body>a ]]> b</body></message>"),
        ],
    )
    .await;
    // Invalid UTF-8 in a name, an attribute, text, and between elements.
    for bad in [
        &b"<mess\xffage/>"[..],
        b"<message to='\xc3\x28'/>",
        b"<message><body>\xe2\x82</body></message>",
        b"<message><body>\xed\xa0\x80</body></message>",
        b"\xff",
    ] {
        let input = [HEADER.as_bytes(), bad].concat();
        assert_eq!(
            ending(&input).await,
            Ending::Stream(NotWellFormed),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[tokio::test]
async fn a_nul_in_the_first_bytes_means_utf16_but_later_it_is_not_well_formed() {
    assert_eq!(
        ending(b"<\0s\0t\0").await,
        Ending::Stream(UnsupportedEncoding)
    );
    let later = in_stream("<message>\0</message>");
    assert_eq!(
        ending(later.as_bytes()).await,
        Ending::Stream(NotWellFormed)
    );
}

#[tokio::test]
async fn errors_are_reported_with_descriptive_text() {
    let input = in_stream("<message><foo:body/></message>");
    let mut reader = crate::XmlReader::new(input.as_bytes(), ReaderLimits::default());
    reader.next().await.unwrap();
    let Err(crate::ReadError::Stream(error)) = reader.next().await else {
        panic!("expected a stream error");
    };
    assert_eq!(error.condition, NotWellFormed);
    assert!(error.text.unwrap().contains("foo"));
}
