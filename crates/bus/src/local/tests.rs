use std::time::Duration;

use bytes::Bytes;
use cluster_api::v1::delivery::Target as DeliveryTarget;
use cluster_api::v1::{AvailableResources, Delivery};

use super::*;

const TIMEOUT: Duration = Duration::from_millis(50);

fn bus() -> LocalBus {
    LocalBus::new(LocalBusConfig {
        publish_timeout: TIMEOUT,
    })
}

/// A bus whose publishes wait long enough that a busy machine never makes them drop.
fn patient_bus() -> LocalBus {
    LocalBus::new(LocalBusConfig {
        publish_timeout: Duration::from_secs(30),
    })
}

fn delivery(user: &str, xml: &str) -> Delivery {
    Delivery {
        user: user.to_owned(),
        target: Some(DeliveryTarget::Available(AvailableResources {})),
        xml: Bytes::copy_from_slice(xml.as_bytes()),
        ..Delivery::default()
    }
}

/// An inbox of `node` subscribed to juliet@example.com.
async fn juliets_inbox(bus: &LocalBus, node: &str, capacity: usize) -> Inbox {
    let inbox = bus.open_inbox(node, capacity).await.unwrap();
    inbox
        .subscriptions()
        .subscribe("juliet@example.com")
        .await
        .unwrap();
    inbox
}

/// Two of juliet@example.com's inboxes: one with room for one delivery, one for eight.
async fn slow_and_fast(bus: &LocalBus) -> (Inbox, Inbox) {
    (
        juliets_inbox(bus, "c2s-slow", 1).await,
        juliets_inbox(bus, "c2s-fast", 8).await,
    )
}

/// The delivery already queued in `inbox`, if any, without waiting.
async fn queued(inbox: &mut Inbox) -> Option<Delivery> {
    tokio::time::timeout(Duration::ZERO, inbox.recv())
        .await
        .ok()
        .flatten()
}

#[tokio::test]
async fn publishing_to_nobody_succeeds_and_drops_the_delivery() {
    let bus = bus();
    let mut inbox = bus.open_inbox("c2s-0", 8).await.unwrap();
    inbox
        .subscriptions()
        .subscribe("romeo@example.net")
        .await
        .unwrap();
    bus.publish(delivery("juliet@example.com", "<message/>"))
        .await
        .unwrap();
    assert_eq!(queued(&mut inbox).await, None);
    // Dropped for lack of subscribers, which is not an overflow.
    assert_eq!(bus.dropped(), 0);
}

#[tokio::test]
async fn every_subscribed_inbox_receives_the_delivery() {
    let bus = bus();
    let mut a = bus.open_inbox("c2s-0", 8).await.unwrap();
    let mut b = bus.open_inbox("c2s-1", 8).await.unwrap();
    for inbox in [&a, &b] {
        let subscriptions = inbox.subscriptions();
        subscriptions.subscribe("juliet@example.com").await.unwrap();
        // Idempotent: a second subscription does not deliver twice.
        subscriptions.subscribe("juliet@example.com").await.unwrap();
    }
    let sent = delivery("juliet@example.com", "<presence/>");
    bus.publish(sent.clone()).await.unwrap();
    for inbox in [&mut a, &mut b] {
        assert_eq!(queued(inbox).await, Some(sent.clone()));
        assert_eq!(queued(inbox).await, None);
    }
}

#[tokio::test]
async fn unsubscribing_stops_delivery() {
    let bus = bus();
    let mut inbox = bus.open_inbox("c2s-0", 8).await.unwrap();
    let subscriptions = inbox.subscriptions();
    subscriptions.subscribe("juliet@example.com").await.unwrap();
    subscriptions.subscribe("romeo@example.net").await.unwrap();
    subscriptions
        .unsubscribe("juliet@example.com")
        .await
        .unwrap();
    // Idempotent.
    subscriptions
        .unsubscribe("juliet@example.com")
        .await
        .unwrap();
    bus.publish(delivery("juliet@example.com", "<message/>"))
        .await
        .unwrap();
    let to_romeo = delivery("romeo@example.net", "<message/>");
    bus.publish(to_romeo.clone()).await.unwrap();
    assert_eq!(queued(&mut inbox).await, Some(to_romeo));
    assert_eq!(queued(&mut inbox).await, None);
}

#[tokio::test]
async fn a_channel_keeps_publishing_order() {
    let bus = patient_bus();
    let mut inbox = juliets_inbox(&bus, "c2s-0", 16).await;
    let publisher = {
        let bus = bus.clone();
        tokio::spawn(async move {
            for i in 0..1000 {
                let d = delivery("juliet@example.com", &format!("<message id='{i}'/>"));
                bus.publish(d).await.unwrap();
            }
        })
    };
    for i in 0..1000 {
        let d = inbox.recv().await.unwrap();
        assert_eq!(d.xml, format!("<message id='{i}'/>").as_bytes());
    }
    publisher.await.unwrap();
    assert_eq!(bus.dropped(), 0);
}

/// A batch takes what is queued, in publishing order, up to its limit, and waits only
/// when nothing is.
#[tokio::test]
async fn recv_many_takes_the_queued_deliveries_in_order_up_to_its_limit() {
    let bus = bus();
    let mut inbox = juliets_inbox(&bus, "c2s-0", 8).await;
    for i in 0..3 {
        let d = delivery("juliet@example.com", &format!("<message id='{i}'/>"));
        bus.publish(d).await.unwrap();
    }
    let mut batch = Vec::new();
    assert_eq!(inbox.recv_many(&mut batch, 2).await, 2);
    assert_eq!(inbox.recv_many(&mut batch, 2).await, 1);
    let ids: Vec<&[u8]> = batch.iter().map(|d| &d.xml[..]).collect();
    assert_eq!(
        ids,
        [
            &b"<message id='0'/>"[..],
            b"<message id='1'/>",
            b"<message id='2'/>"
        ]
    );
    let waited = tokio::time::timeout(TIMEOUT, inbox.recv_many(&mut batch, 2)).await;
    assert!(waited.is_err(), "an empty inbox gave {waited:?}");
    bus.publish(delivery("juliet@example.com", "<message id='3'/>"))
        .await
        .unwrap();
    assert_eq!(inbox.recv_many(&mut batch, 2).await, 1);
    assert_eq!(batch[3].xml, "<message id='3'/>".as_bytes());
}

#[tokio::test(start_paused = true)]
async fn a_full_inbox_makes_publish_wait_then_drop() {
    let bus = bus();
    let (mut slow, mut fast) = slow_and_fast(&bus).await;
    let first = delivery("juliet@example.com", "<message id='1'/>");
    let second = delivery("juliet@example.com", "<message id='2'/>");
    bus.publish(first.clone()).await.unwrap();

    let started = Instant::now();
    bus.publish(second.clone()).await.unwrap();
    assert_eq!(started.elapsed(), TIMEOUT);
    assert_eq!(bus.dropped(), 1);

    assert_eq!(queued(&mut slow).await, Some(first.clone()));
    assert_eq!(queued(&mut slow).await, None);
    // The inbox with room got both, without waiting for the full one.
    assert_eq!(queued(&mut fast).await, Some(first));
    assert_eq!(queued(&mut fast).await, Some(second));
}

#[tokio::test(start_paused = true)]
async fn a_full_inbox_that_drains_in_time_loses_nothing() {
    let bus = bus();
    let mut inbox = juliets_inbox(&bus, "c2s-0", 1).await;
    bus.publish(delivery("juliet@example.com", "<message id='1'/>"))
        .await
        .unwrap();
    let publisher = {
        let bus = bus.clone();
        tokio::spawn(async move {
            bus.publish(delivery("juliet@example.com", "<message id='2'/>"))
                .await
        })
    };
    tokio::time::sleep(TIMEOUT / 2).await;
    assert_eq!(inbox.recv().await.unwrap().xml, &b"<message id='1'/>"[..]);
    publisher.await.unwrap().unwrap();
    assert_eq!(inbox.recv().await.unwrap().xml, &b"<message id='2'/>"[..]);
    assert_eq!(bus.dropped(), 0);
}

#[tokio::test]
async fn dropping_an_inbox_removes_its_subscriptions() {
    let bus = bus();
    let inbox = bus.open_inbox("c2s-0", 8).await.unwrap();
    let subscriptions = inbox.subscriptions();
    subscriptions.subscribe("juliet@example.com").await.unwrap();
    subscriptions.subscribe("romeo@example.net").await.unwrap();
    drop(inbox);
    {
        let state = bus.shared.lock();
        assert!(state.channels.is_empty());
        assert!(state.inboxes.is_empty());
    }
    assert_eq!(
        subscriptions.subscribe("juliet@example.com").await,
        Err(BusError::Closed)
    );
    assert_eq!(
        subscriptions.unsubscribe("juliet@example.com").await,
        Ok(())
    );
    bus.publish(delivery("juliet@example.com", "<message/>"))
        .await
        .unwrap();
    assert_eq!(bus.dropped(), 0);
}

#[tokio::test]
async fn publish_all_publishes_each_in_order() {
    let bus = bus();
    let mut inbox = bus.open_inbox("c2s-0", 8).await.unwrap();
    for user in ["juliet@example.com", "romeo@example.net"] {
        inbox.subscriptions().subscribe(user).await.unwrap();
    }
    let sent = vec![
        delivery("juliet@example.com", "<presence id='1'/>"),
        delivery("romeo@example.net", "<presence id='1'/>"),
        delivery("juliet@example.com", "<presence id='2'/>"),
        delivery("nobody@example.org", "<presence id='1'/>"),
    ];
    bus.publish_all(sent.clone()).await.unwrap();
    bus.publish_all(Vec::new()).await.unwrap();
    for expected in &sent[..3] {
        assert_eq!(queued(&mut inbox).await.as_ref(), Some(expected));
    }
    assert_eq!(queued(&mut inbox).await, None);
}

/// A batch to an inbox that stays full waits one timeout in all, not one per delivery, and
/// the inbox with room gets the whole batch at once, in order.
#[tokio::test(start_paused = true)]
async fn a_batch_waits_once_for_a_full_inbox() {
    let bus = bus();
    let (mut slow, mut fast) = slow_and_fast(&bus).await;
    let batch: Vec<Delivery> = (1..=3)
        .map(|i| delivery("juliet@example.com", &format!("<presence id='{i}'/>")))
        .collect();
    let started = Instant::now();
    bus.publish_all(batch.clone()).await.unwrap();
    assert_eq!(started.elapsed(), TIMEOUT);
    assert_eq!(bus.dropped(), 2);
    assert_eq!(queued(&mut slow).await.as_ref(), Some(&batch[0]));
    assert_eq!(queued(&mut slow).await, None);
    for expected in &batch {
        assert_eq!(queued(&mut fast).await.as_ref(), Some(expected));
    }
}

/// Deliveries of a batch behind one that waits for room wait behind it: the channel's
/// order holds and nothing is lost when the inbox drains in time.
#[tokio::test(start_paused = true)]
async fn a_batch_waiting_for_room_keeps_the_channel_order() {
    let bus = bus();
    let mut inbox = juliets_inbox(&bus, "c2s-0", 1).await;
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        for _ in 0..5 {
            tokio::time::sleep(TIMEOUT / 5).await;
            got.push(inbox.recv().await.unwrap().xml);
        }
        got
    });
    let batch: Vec<Delivery> = (1..=5)
        .map(|i| delivery("juliet@example.com", &format!("<presence id='{i}'/>")))
        .collect();
    bus.publish_all(batch.clone()).await.unwrap();
    let got = reader.await.unwrap();
    assert_eq!(got, batch.into_iter().map(|d| d.xml).collect::<Vec<_>>());
    assert_eq!(bus.dropped(), 0);
}

#[tokio::test]
async fn a_zero_capacity_inbox_holds_one_delivery() {
    let bus = bus();
    let mut inbox = juliets_inbox(&bus, "c2s-0", 0).await;
    let sent = delivery("juliet@example.com", "<message/>");
    bus.publish(sent.clone()).await.unwrap();
    assert_eq!(queued(&mut inbox).await, Some(sent));
}

#[test]
fn the_bus_is_usable_as_a_trait_object() {
    let bus: Arc<dyn Bus> = Arc::new(bus());
    assert!(format!("{bus:?}").starts_with("LocalBus"));
}
