//! A channel the inbox releases while a repair pass subscribes it again: the pass read the
//! channels before, and the inbox's own `SUNSUBSCRIBE` went nowhere (no connection yet) or
//! was written before the pass's `SSUBSCRIBE`. The pass's steps are taken one by one here,
//! on the standalone server, so that the release falls between them every time.

use tokio::sync::mpsc;

use super::*;
use crate::inbox::SubscriptionControl;
use crate::redis::link::Link;

/// An inbox's state and subscriptions without its maintenance task, with a connector for
/// connections like those the task makes, and the bus the tests count subscribers with.
struct Parts {
    bus: RedisBus,
    connector: Connector,
    shared: Arc<Shared>,
    subscriber: Subscriber,
    node: String,
    inbox: mpsc::Sender<Delivery>,
    _deliveries: mpsc::Receiver<Delivery>,
}

impl Parts {
    async fn new() -> Self {
        let config = standalone();
        let bus = RedisBus::connect(config.clone()).await.unwrap();
        let config = Arc::new(config);
        let connector = Connector::new(Arc::clone(&config), None).unwrap();
        let topology = connector.seeds().discover(PATIENCE).await.unwrap();
        let counters = Arc::default();
        let shared = Arc::new(Shared::new("c2s-0", config, counters, topology));
        let node = shared.nodes().into_iter().next().unwrap();
        let (inbox, deliveries) = mpsc::channel(64);
        let subscriber = Subscriber {
            shared: Arc::clone(&shared),
        };
        Self {
            bus,
            connector,
            shared,
            subscriber,
            node,
            inbox,
            _deliveries: deliveries,
        }
    }

    async fn link(&self) -> Link {
        let link = self.connector.link(&self.node, &self.shared, &self.inbox);
        link.await.unwrap()
    }

    /// The counts of subscribers of `users`' channels once the commands queued on `link`
    /// before this have been answered.
    async fn subscribers_after(&self, link: &Link, users: &[&str]) -> Vec<i64> {
        link.ping().await.unwrap();
        let mut counts = Vec::new();
        for user in users {
            counts.push(subscribers(&self.bus, user).await);
        }
        counts
    }
}

#[tokio::test]
async fn a_channel_released_while_reconnecting_is_unsubscribed_when_the_connection_is_installed() {
    let parts = Parts::new().await;
    let first = parts.link().await;
    parts.shared.install(&parts.node, first.clone(), &[]);
    for user in ["romeo", "juliet"] {
        parts.subscriber.subscribe(user).await.unwrap();
    }
    assert_eq!(
        parts.subscribers_after(&first, &["romeo", "juliet"]).await,
        [1, 1]
    );

    // The connection is lost; the repair pass connects again and subscribes what the inbox
    // holds, and Juliet's session ends meanwhile, with no connection to unsubscribe on.
    assert!(parts.shared.remove_link(&parts.node, first.id));
    drop(first);
    await_subscribers(&parts.bus, "juliet", 0).await;
    let second = parts.link().await;
    let channels = parts.shared.channels_of(&parts.node).unwrap();
    second.ssubscribe_all(&channels).await.unwrap();
    parts.subscriber.unsubscribe("juliet").await.unwrap();
    assert!(parts.shared.install(&parts.node, second.clone(), &channels));

    assert_eq!(
        parts.subscribers_after(&second, &["romeo", "juliet"]).await,
        [1, 0]
    );
}

#[tokio::test]
async fn a_channel_released_during_a_repair_pass_is_unsubscribed_after_it_unless_held_again() {
    let parts = Parts::new().await;
    let link = parts.link().await;
    parts.shared.install(&parts.node, link.clone(), &[]);
    for user in ["romeo", "juliet", "mercutio"] {
        parts.subscriber.subscribe(user).await.unwrap();
    }
    // A topology change: the pass reads the channels, then all three sessions end (their
    // SUNSUBSCRIBEs written first), then Juliet binds again, then the pass's SSUBSCRIBEs go.
    let channels = parts.shared.channels_of(&parts.node).unwrap();
    for user in ["romeo", "juliet", "mercutio"] {
        parts.subscriber.unsubscribe(user).await.unwrap();
    }
    parts.subscriber.subscribe("juliet").await.unwrap();
    link.ssubscribe_all(&channels).await.unwrap();
    let users = ["romeo", "juliet", "mercutio"];
    assert_eq!(parts.subscribers_after(&link, &users).await, [1, 1, 1]);

    // Mercutio binds again right after the pass looked: his subscription is written after
    // the pass's SUNSUBSCRIBE, and stands.
    parts.shared.unsubscribe_released_on(&link, &channels);
    parts.subscriber.subscribe("mercutio").await.unwrap();

    assert_eq!(parts.subscribers_after(&link, &users).await, [0, 1, 1]);
}
