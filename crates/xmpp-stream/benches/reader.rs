//! Throughput of [`XmlReader`] on realistic client traffic: a buffer of 10,000 presence
//! stanzas with entity capabilities (XEP-0115) and a status, and one of 10,000 chat messages
//! of about 300 bytes with a body, a chat marker (XEP-0333) and an origin id (XEP-0359).
//!
//! For scale, `tokenize-only/presence` runs quick-xml's namespace-aware tokenizer alone over
//! the presence buffer (iterating attributes, building nothing): the floor under the reader.
//!
//! Run with `cargo bench -p xmpp-stream --bench reader`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quick_xml::events::Event;
use xmpp_stream::{ReaderLimits, StreamEvent, XmlReader};

const STANZAS: usize = 10_000;

const HEADER: &str = "<?xml version='1.0'?><stream:stream from='juliet@im.example.com' \
    to='im.example.com' version='1.0' xml:lang='en' xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams'>";

fn presence(i: usize) -> String {
    format!(
        "<presence from='juliet@im.example.com/balcony-{i}' id='pres-{i:08}'>\
         <show>away</show><status>Out for lunch &amp; back soon</status><priority>5</priority>\
         <c xmlns='http://jabber.org/protocol/caps' hash='sha-1' \
         node='https://conversations.im' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>"
    )
}

fn message(i: usize) -> String {
    format!(
        "<message from='juliet@im.example.com/balcony' to='romeo@example.net' type='chat' \
         id='{i:08}-5e1c-4c1f-9b8e-2d4f'><body>Art thou not Romeo, and a Montague? \
         Neither, fair saint, if either thee dislike.</body>\
         <markable xmlns='urn:xmpp:chat-markers:0'/>\
         <origin-id xmlns='urn:xmpp:sid:0' id='{i:08}-5e1c-4c1f-9b8e-2d4f'/></message>"
    )
}

/// A whole client stream: header, the stanzas one per line, close.
fn stream(stanza: fn(usize) -> String) -> Vec<u8> {
    let mut s = String::from(HEADER);
    for i in 0..STANZAS {
        s.push_str(&stanza(i));
        s.push('\n');
    }
    s.push_str("</stream:stream>");
    s.into_bytes()
}

/// Reads the whole stream and returns how many elements it held.
async fn read_all(input: &[u8]) -> usize {
    let mut reader = XmlReader::new(input, ReaderLimits::default());
    let mut elements = 0;
    loop {
        match reader.next().await {
            Ok(StreamEvent::Element(e)) => {
                black_box(&e);
                elements += 1;
            }
            Ok(StreamEvent::Close) => return elements,
            Ok(_) => {}
            Err(e) => panic!("benchmark input failed to parse: {e}"),
        }
    }
}

/// quick-xml alone: events and attributes, no checks, no tree. Returns the element count.
async fn tokenize_only(input: &[u8]) -> usize {
    let mut parser = quick_xml::NsReader::from_reader(tokio::io::BufReader::new(input));
    let mut buf = Vec::new();
    let mut elements = 0;
    loop {
        buf.clear();
        match parser.read_resolved_event_into_async(&mut buf).await {
            Ok((_, Event::Start(tag) | Event::Empty(tag))) => {
                for attr in tag.attributes() {
                    black_box(attr.expect("valid attribute"));
                }
                elements += 1;
            }
            Ok((_, Event::Eof)) => return elements,
            Ok(_) => {}
            Err(e) => panic!("benchmark input failed to tokenize: {e}"),
        }
    }
}

fn reader(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    let mut group = c.benchmark_group("reader");
    for (name, stanza) in [
        ("presence", presence as fn(usize) -> String),
        ("message", message),
    ] {
        let input = stream(stanza);
        assert_eq!(runtime.block_on(read_all(&input)), STANZAS);
        group.throughput(Throughput::ElementsAndBytes {
            elements: STANZAS as u64,
            bytes: input.len() as u64,
        });
        group.bench_function(name, |b| {
            b.iter(|| runtime.block_on(read_all(black_box(&input))));
        });
        if name == "presence" {
            group.bench_function("tokenize-only/presence", |b| {
                b.iter(|| runtime.block_on(tokenize_only(black_box(&input))));
            });
        }
    }
    group.finish();
}

criterion_group!(benches, reader);
criterion_main!(benches);
