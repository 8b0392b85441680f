//! [`Element::from_xml`] on the stanza a roster-presence shard parses out of every envelope it
//! is sent: a presence of 308 bytes with a status and entity capabilities (XEP-0115),
//! as a connection manager serializes it.
//!
//! Run with `cargo bench -p xmpp-core --bench from_xml`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use xmpp_core::element::Element;

const PRESENCE: &str = "<presence xmlns='jabber:client' from='juliet@im.example.com/balcony' \
    id='pres-00000042'><show>away</show><status>Out for lunch &amp; back soon</status>\
    <priority>5</priority><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' \
    node='https://conversations.im' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>";

fn from_xml(c: &mut Criterion) {
    let mut group = c.benchmark_group("from_xml");
    group.throughput(Throughput::Bytes(PRESENCE.len() as u64));
    group.bench_function("presence", |b| {
        b.iter(|| Element::from_xml(black_box(PRESENCE), "jabber:client").unwrap())
    });
    group.finish();
}

criterion_group!(benches, from_xml);
criterion_main!(benches);
