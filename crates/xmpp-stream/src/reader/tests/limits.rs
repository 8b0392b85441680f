//! The limits of [`ReaderLimits`], each at its boundary.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};
use xmpp_core::StreamErrorCondition::PolicyViolation;

use crate::test_util::{Ending, HEADER, parse_chunked};
use crate::{ReaderLimits, StreamEvent, XmlReader};

async fn run(input: &str, limits: &ReaderLimits) -> (Vec<StreamEvent>, Ending) {
    parse_chunked(input.as_bytes(), vec![usize::MAX], false, limits, &[]).await
}

/// A message of exactly `len` bytes.
fn message_of(len: usize) -> String {
    let frame = "<message><body></body></message>".len();
    format!(
        "<message><body>{}</body></message>",
        "a".repeat(len - frame)
    )
}

fn elements(events: &[StreamEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, StreamEvent::Element(_)))
        .count()
}

#[tokio::test]
async fn stanza_size_at_the_default_256_kib() {
    let limits = ReaderLimits::default();
    assert_eq!(limits.max_stanza_bytes, 256 * 1024);
    let at = message_of(limits.max_stanza_bytes);
    let (events, ending) = run(&format!("{HEADER}{at}{at}</stream:stream>"), &limits).await;
    assert_eq!(elements(&events), 2);
    assert_eq!(ending, Ending::Eof);

    let over = message_of(limits.max_stanza_bytes + 1);
    let (events, ending) = run(&format!("{HEADER}{at}{over}"), &limits).await;
    assert_eq!(elements(&events), 1);
    assert_eq!(ending, Ending::Stream(PolicyViolation));
}

#[tokio::test]
async fn the_size_is_per_element_and_whitespace_does_not_count() {
    let limits = ReaderLimits {
        max_stanza_bytes: 200,
        ..ReaderLimits::default()
    };
    let header = "<stream:stream xmlns='jabber:client' \
                  xmlns:stream='http://etherx.jabber.org/streams'>";
    let at = message_of(200);
    let input = format!("{header}\n{at}\n\n{at}{at} </stream:stream>");
    let (events, ending) = run(&input, &limits).await;
    assert_eq!(elements(&events), 3);
    assert_eq!(ending, Ending::Eof);

    let long_header = format!("{}{header}", " ".repeat(200 - header.len() + 1));
    let (_, ending) = run(&long_header, &limits).await;
    assert_eq!(
        ending,
        Ending::Stream(PolicyViolation),
        "the header is limited too"
    );

    let spaces = " ".repeat(201);
    let (_, ending) = run(&format!("{header}{spaces}<presence/>"), &limits).await;
    assert_eq!(
        ending,
        Ending::Stream(PolicyViolation),
        "so is a whitespace run"
    );
}

#[tokio::test]
async fn depth() {
    let limits = ReaderLimits {
        max_depth: 3,
        ..ReaderLimits::default()
    };
    let (events, _) = run(
        &format!("{HEADER}<a><b><c/></b></a><a><b><c></c></b></a>"),
        &limits,
    )
    .await;
    assert_eq!(elements(&events), 2);
    for deep in ["<a><b><c><d/></c></b></a>", "<a><b><c><d></d></c></b></a>"] {
        let (_, ending) = run(&format!("{HEADER}{deep}"), &limits).await;
        assert_eq!(ending, Ending::Stream(PolicyViolation), "{deep}");
    }
}

#[tokio::test]
async fn attributes() {
    let limits = ReaderLimits {
        max_attributes: 2,
        ..ReaderLimits::default()
    };
    let header = "<stream:stream xmlns='jabber:client' \
                  xmlns:stream='http://etherx.jabber.org/streams'>";
    let (events, _) = run(
        &format!("{header}<a x='1' y='2'/><a xmlns='urn:a' y='2'/>"),
        &limits,
    )
    .await;
    assert_eq!(elements(&events), 2);
    for many in ["<a x='1' y='2' z='3'/>", "<a xmlns='urn:a' x='1' y='2'/>"] {
        let (_, ending) = run(&format!("{header}{many}"), &limits).await;
        assert_eq!(ending, Ending::Stream(PolicyViolation), "{many}");
    }
    let (_, ending) = run(
        "<stream:stream a='1' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
        &limits,
    )
    .await;
    assert_eq!(ending, Ending::Stream(PolicyViolation), "on the header too");
}

/// A stream header, then an opening tag that never ends: `len` bytes in all, handed out as
/// fast as they are asked for. Counts what was read from it.
struct Endless {
    prefix: Vec<u8>,
    len: usize,
    served: usize,
}

impl AsyncRead for Endless {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let n = buf.remaining().min(this.len - this.served);
        for i in this.served..this.served + n {
            buf.put_slice(&[this.prefix.get(i).copied().unwrap_or(b'a')]);
        }
        this.served += n;
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn a_ten_mib_tag_without_a_closing_bracket_is_not_buffered() {
    let source = Endless {
        prefix: format!("{HEADER}<message to='").into_bytes(),
        len: 10 * 1024 * 1024,
        served: 0,
    };
    let limits = ReaderLimits::default();
    let mut reader = XmlReader::new(source, limits.clone());
    assert!(matches!(reader.next().await, Ok(StreamEvent::Open(_))));
    let error = reader.next().await.unwrap_err();
    assert_eq!(error.condition(), Some(PolicyViolation));
    let served = reader.get_ref().served;
    assert!(
        served <= HEADER.len() + limits.max_stanza_bytes + 8192,
        "read {served} bytes"
    );
}
