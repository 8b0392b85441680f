use bytes::Bytes;
use cluster_api::v1::{AvailableResources, Resources};

use super::*;
use crate::outbox::Outbox;
use crate::registry::{Outbound, SessionControl};

/// A bound session of `jid` in `registry`, available or not, and its queue.
fn bind(registry: &SessionRegistry, jid: &str, available: bool) -> Arc<Outbox> {
    let outbox = Arc::new(Outbox::new(8));
    let control = Arc::new(SessionControl::new(outbox.clone()));
    let handle = SessionHandle::new(Jid::new(jid).unwrap(), control);
    if available {
        handle.set_presence(Some(Bytes::from_static(b"<presence/>")));
    }
    registry.try_bind(handle).unwrap();
    outbox
}

fn delivery(target: Target, xml: &str) -> Delivery {
    Delivery {
        user: "juliet@example.com".to_owned(),
        target: Some(target),
        xml: Bytes::from(xml.to_owned()),
        ..Default::default()
    }
}

/// What a session's queue holds, in order.
fn queued(outbox: &Outbox) -> Vec<String> {
    std::iter::from_fn(|| outbox.try_pop())
        .map(|item| match item {
            Outbound::Serialized(xml) => String::from_utf8(xml.to_vec()).unwrap(),
            other => panic!("not a delivery: {other:?}"),
        })
        .collect()
}

/// RFC 6121 §4.2.2 and §8.5.3.1: a delivery to "available resources" reaches every session of
/// the user that sent available presence, each with the whole stanza (the last one takes the
/// bytes, the others a copy), and no other; one to named resources reaches those.
#[test]
fn a_delivery_reaches_exactly_its_targets_each_with_the_whole_stanza() {
    let registry = SessionRegistry::new();
    let balcony = bind(&registry, "juliet@example.com/balcony", true);
    let hall = bind(&registry, "juliet@example.com/hall", false);
    let garden = bind(&registry, "juliet@example.com/garden", true);
    let romeo = bind(&registry, "romeo@example.net/orchard", true);
    let metrics = Metrics::new();
    let presence = "<presence from='romeo@example.net/orchard'/>";

    deliver(
        &registry,
        &metrics,
        delivery(Target::Available(AvailableResources {}), presence),
    );
    assert_eq!(queued(&balcony), [presence]);
    assert_eq!(queued(&garden), [presence]);
    assert!(queued(&hall).is_empty(), "not available");
    assert!(queued(&romeo).is_empty(), "another user");

    let message = "<message to='juliet@example.com/hall'/>";
    let to_hall = Resources {
        jids: vec!["juliet@example.com/hall".to_owned()],
    };
    deliver(
        &registry,
        &metrics,
        delivery(Target::Resources(to_hall), message),
    );
    assert_eq!(queued(&hall), [message]);
    assert!(queued(&balcony).is_empty() && queued(&garden).is_empty());
}
