//! Publishing and subscribing, the same in both modes.

use super::*;

in_both_modes!(
    a_delivery_makes_the_round_trip,
    a_channel_keeps_publishing_order,
    publish_all_keeps_order_per_channel,
    unsubscribing_stops_delivery,
    every_subscribed_node_receives_the_delivery,
    dropping_an_inbox_unsubscribes_it,
    publishing_to_nobody_succeeds,
    what_is_not_a_delivery_for_the_channel_is_skipped,
    a_full_inbox_drops_without_blocking_the_others,
);

async fn a_delivery_makes_the_round_trip(config: RedisBusConfig) {
    let bus = RedisBus::connect(config).await.unwrap();
    let mut inbox = bus.open_inbox("c2s-0", 8).await.unwrap();
    let subscriptions = inbox.subscriptions();
    subscriptions.subscribe("juliet@example.com").await.unwrap();
    // Idempotent: a second subscription does not deliver twice.
    subscriptions.subscribe("juliet@example.com").await.unwrap();
    let mut sent = delivery("juliet@example.com", "<message><body>hi</body></message>");
    sent.trace_context
        .insert("traceparent".to_owned(), "00-01-02-01".to_owned());
    sent.published_unix_micros = 1_700_000_000_000_000;
    bus.publish(sent.clone()).await.unwrap();
    assert_eq!(next(&mut inbox).await, sent);
    nothing_more(&mut inbox).await;
    assert_eq!((bus.dropped(), bus.malformed()), (0, 0));
}

async fn a_channel_keeps_publishing_order(config: RedisBusConfig) {
    let bus = RedisBus::connect(config).await.unwrap();
    let mut inbox = bus.open_inbox("c2s-0", 2048).await.unwrap();
    inbox
        .subscriptions()
        .subscribe("juliet@example.com")
        .await
        .unwrap();
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
        let d = next(&mut inbox).await;
        assert_eq!(d.xml, format!("<message id='{i}'/>").as_bytes());
    }
    publisher.await.unwrap();
    assert_eq!(bus.dropped(), 0);
}

async fn publish_all_keeps_order_per_channel(config: RedisBusConfig) {
    let bus = RedisBus::connect(config).await.unwrap();
    let users: Vec<String> = (0..20).map(|u| format!("user{u}@example.com")).collect();
    let mut inbox = bus.open_inbox("c2s-0", 1024).await.unwrap();
    for user in &users {
        inbox.subscriptions().subscribe(user).await.unwrap();
    }
    // Interleaved: ten rounds of one delivery per user.
    let deliveries: Vec<Delivery> = (0..10)
        .flat_map(|round| {
            users
                .iter()
                .map(move |user| delivery(user, &format!("<presence id='{round}'/>")))
        })
        .collect();
    bus.publish_all(deliveries).await.unwrap();
    bus.publish_all(Vec::new()).await.unwrap();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for _ in 0..200 {
        let d = next(&mut inbox).await;
        let round = seen.entry(d.user.clone()).or_default();
        assert_eq!(d.xml, format!("<presence id='{round}'/>").as_bytes());
        *round += 1;
    }
    assert!(seen.values().all(|&rounds| rounds == 10), "{seen:?}");
    nothing_more(&mut inbox).await;
}

async fn unsubscribing_stops_delivery(config: RedisBusConfig) {
    let bus = RedisBus::connect(config).await.unwrap();
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
    assert_eq!(subscribers(&bus, "juliet@example.com").await, 0);
    bus.publish(delivery("juliet@example.com", "<message/>"))
        .await
        .unwrap();
    let to_romeo = delivery("romeo@example.net", "<message/>");
    bus.publish(to_romeo.clone()).await.unwrap();
    assert_eq!(next(&mut inbox).await, to_romeo);
    nothing_more(&mut inbox).await;
}

async fn every_subscribed_node_receives_the_delivery(config: RedisBusConfig) {
    let bus = RedisBus::connect(config).await.unwrap();
    let mut a = bus.open_inbox("c2s-0", 8).await.unwrap();
    let mut b = bus.open_inbox("c2s-1", 8).await.unwrap();
    for inbox in [&a, &b] {
        inbox
            .subscriptions()
            .subscribe("juliet@example.com")
            .await
            .unwrap();
    }
    assert_eq!(subscribers(&bus, "juliet@example.com").await, 2);
    let sent = delivery("juliet@example.com", "<presence/>");
    bus.publish(sent.clone()).await.unwrap();
    for inbox in [&mut a, &mut b] {
        assert_eq!(next(inbox).await, sent);
    }
    nothing_more(&mut a).await;
    nothing_more(&mut b).await;
}

async fn dropping_an_inbox_unsubscribes_it(config: RedisBusConfig) {
    let bus = RedisBus::connect(config).await.unwrap();
    let inbox = bus.open_inbox("c2s-0", 8).await.unwrap();
    let subscriptions = inbox.subscriptions();
    subscriptions.subscribe("juliet@example.com").await.unwrap();
    subscriptions.subscribe("romeo@example.net").await.unwrap();
    assert_eq!(subscribers(&bus, "juliet@example.com").await, 1);
    drop(inbox);
    await_subscribers(&bus, "juliet@example.com", 0).await;
    await_subscribers(&bus, "romeo@example.net", 0).await;
    assert_eq!(
        subscriptions.subscribe("juliet@example.com").await,
        Err(BusError::Closed)
    );
    assert_eq!(subscriptions.unsubscribe("romeo@example.net").await, Ok(()));
}

async fn publishing_to_nobody_succeeds(config: RedisBusConfig) {
    let bus = RedisBus::connect(config).await.unwrap();
    let mut inbox = bus.open_inbox("c2s-0", 8).await.unwrap();
    inbox
        .subscriptions()
        .subscribe("romeo@example.net")
        .await
        .unwrap();
    bus.publish(delivery("juliet@example.com", "<message/>"))
        .await
        .unwrap();
    let many = (0..10).map(|i| delivery(&format!("nobody{i}@example.com"), "<presence/>"));
    bus.publish_all(many.collect()).await.unwrap();
    nothing_more(&mut inbox).await;
    assert_eq!((bus.dropped(), bus.malformed()), (0, 0));
}

async fn what_is_not_a_delivery_for_the_channel_is_skipped(config: RedisBusConfig) {
    let bus = RedisBus::connect(config).await.unwrap();
    let mut inbox = bus.open_inbox("c2s-0", 8).await.unwrap();
    let user = "juliet@example.com";
    inbox.subscriptions().subscribe(user).await.unwrap();
    // Not protobuf at all; a valid delivery past the size limit; one for another user.
    publish_raw(&bus, user, b"\xff\xff\xff garbage".to_vec()).await;
    let mut oversize = delivery(user, "<message/>");
    oversize.xml = Bytes::from(vec![b' '; MAX_DELIVERY_BYTES]);
    publish_raw(&bus, user, oversize.encode_to_vec()).await;
    let elsewhere = delivery("romeo@example.net", "<message/>");
    publish_raw(&bus, user, elsewhere.encode_to_vec()).await;
    let good = delivery(user, "<message id='after'/>");
    bus.publish(good.clone()).await.unwrap();
    assert_eq!(next(&mut inbox).await, good);
    nothing_more(&mut inbox).await;
    assert_eq!(bus.malformed(), 3);
    assert_eq!(bus.dropped(), 0);
}

async fn a_full_inbox_drops_without_blocking_the_others(config: RedisBusConfig) {
    let bus = RedisBus::connect(config).await.unwrap();
    let mut slow = bus.open_inbox("c2s-slow", 1).await.unwrap();
    let mut fast = bus.open_inbox("c2s-fast", 8).await.unwrap();
    for inbox in [&slow, &fast] {
        inbox
            .subscriptions()
            .subscribe("juliet@example.com")
            .await
            .unwrap();
    }
    let sent: Vec<Delivery> = (0..3)
        .map(|i| delivery("juliet@example.com", &format!("<message id='{i}'/>")))
        .collect();
    bus.publish_all(sent.clone()).await.unwrap();
    for d in &sent {
        assert_eq!(&next(&mut fast).await, d);
    }
    // The reader keeps going: the two that found the slow inbox full are dropped, counted.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while bus.dropped() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "drops not counted");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(next(&mut slow).await, sent[0]);
    nothing_more(&mut slow).await;
    assert_eq!(bus.dropped(), 2);
    // Room again: deliveries flow.
    let later = delivery("juliet@example.com", "<message id='later'/>");
    bus.publish(later.clone()).await.unwrap();
    assert_eq!(next(&mut slow).await, later);
}
