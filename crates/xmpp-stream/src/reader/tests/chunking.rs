//! The reader gives the same result at any chunk boundary: one byte per read, with and
//! without `Pending` in between, and every split of a two-chunk read.

use super::{RFC6120_9_1, RFC6120_9_1_RESTARTS};
use crate::ReaderLimits;
use crate::test_util::{HEADER, merge_keepalives, parse_chunked};

struct Case {
    name: &'static str,
    input: Vec<u8>,
    limits: ReaderLimits,
    restarts: &'static [&'static str],
}

fn case(name: &'static str, input: impl Into<Vec<u8>>) -> Case {
    Case {
        name,
        input: input.into(),
        limits: ReaderLimits::default(),
        restarts: &[],
    }
}

fn corpus() -> Vec<Case> {
    let small = ReaderLimits {
        max_stanza_bytes: 120,
        max_depth: 4,
        max_attributes: 4,
    };
    vec![
        Case {
            restarts: RFC6120_9_1_RESTARTS,
            ..case("rfc6120 §9.1", RFC6120_9_1)
        },
        case(
            "rich stanzas",
            format!(
                "{HEADER}\n  <message to='romeo@example.net' xml:lang='en' xmlns:x='urn:x' x:a='&amp;'>\
                 <body>caf\u{e9} \u{1F600} &lt;&#x1F600;&gt; <![CDATA[<raw> ]]]]></body>\
                 <x:data><x:item/><y xmlns='urn:y'>\r\n</y></x:data></message> \t\n\
                 <presence/><iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>\n\
                 </stream:stream>"
            ),
        ),
        case(
            "empty header",
            "<?xml version='1.0'?>\n<stream:stream xmlns='jabber:client' \
             xmlns:stream='http://etherx.jabber.org/streams'/>",
        ),
        case("comment", format!("{HEADER}<message><!-- x --></message>")),
        case("entity", format!("{HEADER}<message>&ent;</message>")),
        case("mismatched", format!("{HEADER}<message><body></message>")),
        case(
            "unbound prefix",
            format!("{HEADER}<message><f:b/></message>"),
        ),
        case("late declaration", format!("{HEADER}<?xml version='1.0'?>")),
        case("top-level text", format!("{HEADER}<a/> x <b/>")),
        case(
            "bad encoding",
            "<?xml version='1.0' encoding='latin1'?><stream:stream/>",
        ),
        case(
            "byte order mark",
            [&b"\xEF\xBB\xBF"[..], HEADER.as_bytes()].concat(),
        ),
        case(
            "invalid UTF-8 inside a character",
            [HEADER.as_bytes(), b"<a>\xE2\x82</a>"].concat(),
        ),
        case("U+FFFF", format!("{HEADER}<a>x\u{FFFF}y</a>")),
        case("truncated", format!("{HEADER}<message><body>hi")),
        Case {
            limits: small.clone(),
            ..case(
                "limits, within",
                "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>\
                 <a b='1' c='2'><b><c><d/></c></b></a> <x>0123456789</x></stream:stream>",
            )
        },
        Case {
            limits: small.clone(),
            ..case(
                "limits, too large",
                format!(
                    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>\
                     <a>{}</a>",
                    "x".repeat(120)
                ),
            )
        },
        Case {
            limits: small,
            ..case(
                "limits, too deep",
                "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>\
                 <a><b><c><d><e/></d></c></b></a>",
            )
        },
    ]
}

#[tokio::test]
async fn one_byte_at_a_time() {
    for c in corpus() {
        let whole = parse_chunked(&c.input, vec![usize::MAX], false, &c.limits, c.restarts).await;
        let ready = parse_chunked(&c.input, vec![1], false, &c.limits, c.restarts).await;
        assert_eq!(ready, whole, "{}: one byte per read", c.name);
        let (events, ending) = parse_chunked(&c.input, vec![1], true, &c.limits, c.restarts).await;
        assert_eq!(
            (merge_keepalives(events), ending),
            (merge_keepalives(whole.0), whole.1),
            "{}: one byte per read, pending in between",
            c.name
        );
    }
}

#[tokio::test]
async fn every_split_into_two_chunks() {
    for c in corpus() {
        let whole = parse_chunked(&c.input, vec![usize::MAX], false, &c.limits, c.restarts).await;
        for split in 1..c.input.len() {
            let sizes = vec![split, usize::MAX];
            let got = parse_chunked(&c.input, sizes.clone(), false, &c.limits, c.restarts).await;
            assert_eq!(got, whole, "{}: split at {split}", c.name);
            let (events, ending) =
                parse_chunked(&c.input, sizes, true, &c.limits, c.restarts).await;
            assert_eq!(
                (merge_keepalives(events), ending),
                (merge_keepalives(whole.0.clone()), whole.1.clone()),
                "{}: split at {split}, pending in between",
                c.name
            );
        }
    }
}
