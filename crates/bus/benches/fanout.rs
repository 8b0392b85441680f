//! One presence broadcast to K = 100 contacts whose sessions sit on two connection managers
//! (50 each), end to end over a real Redis (`REDIS_URL`): from the first publish until both
//! inboxes hold all their deliveries. Three designs:
//!
//! - `per-user/one-by-one`: the bus as it is, one `SPUBLISH` per contact's channel, each
//!   awaited before the next (a shard calling `Bus::publish` in a loop);
//! - `per-user/publish_all`: the same channels, the `SPUBLISH`es pipelined by
//!   `Bus::publish_all` (one round trip);
//! - `per-node/batched`: one message per connection manager on a channel of its own,
//!   carrying its 50 deliveries as length-delimited protobuf messages one after another.
//!   This is the alternative design, in which the shard must know which node holds each
//!   contact's sessions; it is prototyped here with the redis crate directly, with the same
//!   receiving path as an inbox (decode in the connection's push callback, hand to a bounded
//!   queue).
//!
//! The two per-user designs are measured on a cluster too (`REDIS_CLUSTER_URLS`).
//!
//! Run with `cargo bench -p bus --bench fanout` after `scripts/services up` (and exporting
//! what it prints). Like the tests needing Redis, it fails when those variables are unset.

use std::time::{Duration, Instant};

use bus::{Bus, Inbox, RedisBus, RedisBusConfig, RedisMode};
use bytes::{Buf, Bytes};
use cluster_api::v1::delivery::Target;
use cluster_api::v1::{AvailableResources, Delivery};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prost::Message;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, PushInfo, PushKind, Value};
use tokio::sync::mpsc;

/// Contacts receiving the broadcast.
const K: usize = 100;
/// Connection managers holding their sessions.
const NODES: usize = 2;
/// Longest wait for one broadcast to arrive before the bench gives up.
const PATIENCE: Duration = Duration::from_secs(10);

fn required_env(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: this benchmark needs real Redis servers. Run \
             `scripts/services up` and export the variables it prints."
        )
    })
}

fn redis_url() -> String {
    required_env("REDIS_URL")
}

fn contact(i: usize) -> String {
    format!("contact{i}@example.net")
}

fn node_of(i: usize) -> usize {
    i * NODES / K
}

/// Juliet's new presence, for each contact.
fn broadcast() -> Vec<Delivery> {
    (0..K)
        .map(|i| {
            let xml = format!(
                "<presence from='juliet@example.com/balcony' to='{}' id='p1'><show>away</show>\
                 <status>Out for lunch</status><priority>5</priority>\
                 <c xmlns='http://jabber.org/protocol/caps' hash='sha-1' \
                 node='https://conversations.im' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>",
                contact(i)
            );
            Delivery {
                user: contact(i),
                target: Some(Target::Available(AvailableResources {})),
                xml: Bytes::from(xml),
                ..Delivery::default()
            }
        })
        .collect()
}

/// Takes `count` deliveries from `inbox`.
async fn drain(inbox: &mut Inbox, count: usize) {
    for _ in 0..count {
        let received = tokio::time::timeout(PATIENCE, inbox.recv()).await;
        assert!(matches!(received, Ok(Some(_))), "a delivery went missing");
    }
}

/// The bus with two inboxes, each subscribed to its half of the contacts.
async fn per_user_setup(
    urls: Vec<String>,
    mode: RedisMode,
    prefix: &str,
) -> (RedisBus, Vec<Inbox>) {
    let config = RedisBusConfig {
        urls,
        mode,
        channel_prefix: prefix.to_owned(),
        ..RedisBusConfig::default()
    };
    let bus = RedisBus::connect(config).await.expect("a reachable Redis");
    let mut inboxes = Vec::new();
    for node in 0..NODES {
        inboxes.push(bus.open_inbox(&format!("c2s-{node}"), 4 * K).await.unwrap());
    }
    for i in 0..K {
        let subscriptions = inboxes[node_of(i)].subscriptions();
        subscriptions.subscribe(&contact(i)).await.unwrap();
    }
    (bus, inboxes)
}

async fn per_user(bus: &RedisBus, inboxes: &mut [Inbox], pipelined: bool) {
    let deliveries = broadcast();
    if pipelined {
        bus.publish_all(deliveries).await.unwrap();
    } else {
        for delivery in deliveries {
            bus.publish(delivery).await.unwrap();
        }
    }
    for inbox in inboxes.iter_mut() {
        drain(inbox, K / NODES).await;
    }
}

/// The batched design: a publisher connection and, per node, a subscriber connection whose
/// push callback decodes a batch into a bounded queue.
struct PerNode {
    publisher: MultiplexedConnection,
    channels: Vec<String>,
    _subscribers: Vec<MultiplexedConnection>,
    queues: Vec<mpsc::Receiver<Delivery>>,
}

async fn per_node_setup(prefix: &str) -> PerNode {
    let client = redis::Client::open(redis_url()).unwrap();
    let publisher = client.get_multiplexed_async_connection().await.unwrap();
    let resp3 = redis::Client::open(format!("{}?protocol=resp3", redis_url())).unwrap();
    let (mut channels, mut subscribers, mut queues) = (Vec::new(), Vec::new(), Vec::new());
    for node in 0..NODES {
        let channel = format!("{prefix}node:c2s-{node}");
        let (sender, receiver) = mpsc::channel(4 * K);
        let on_push = move |push: PushInfo| {
            if let (PushKind::SMessage, [_, Value::BulkString(batch)]) =
                (push.kind, push.data.as_slice())
            {
                let mut batch = batch.as_slice();
                while batch.has_remaining() {
                    let delivery = Delivery::decode_length_delimited(&mut batch).unwrap();
                    // Like an inbox: never wait; a full queue drops.
                    let _ = sender.try_send(delivery);
                }
            }
            Ok::<_, std::convert::Infallible>(())
        };
        let config = AsyncConnectionConfig::new().set_push_sender(on_push);
        let mut conn = resp3
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .unwrap();
        redis::cmd("SSUBSCRIBE")
            .arg(&channel)
            .exec_async(&mut conn)
            .await
            .unwrap();
        channels.push(channel);
        subscribers.push(conn);
        queues.push(receiver);
    }
    PerNode {
        publisher,
        channels,
        _subscribers: subscribers,
        queues,
    }
}

async fn per_node(bench: &mut PerNode) {
    let mut batches = vec![Vec::new(); NODES];
    for (i, delivery) in broadcast().into_iter().enumerate() {
        delivery
            .encode_length_delimited(&mut batches[node_of(i)])
            .unwrap();
    }
    let mut pipe = redis::pipe();
    for (channel, batch) in bench.channels.iter().zip(batches) {
        pipe.cmd("SPUBLISH").arg(channel).arg(batch).ignore();
    }
    pipe.exec_async(&mut bench.publisher).await.unwrap();
    for queue in &mut bench.queues {
        for _ in 0..K / NODES {
            let received = tokio::time::timeout(PATIENCE, queue.recv()).await;
            assert!(matches!(received, Ok(Some(_))), "a delivery went missing");
        }
    }
}

fn fanout(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let prefix = format!("bench:{}:", std::process::id());
    let standalone = per_user_setup(vec![redis_url()], RedisMode::Standalone, &prefix);
    let (bus, mut inboxes) = runtime.block_on(standalone);
    let mut batched = runtime.block_on(per_node_setup(&prefix));

    let mut group = c.benchmark_group("fanout");
    group.throughput(Throughput::Elements(K as u64));
    for (name, pipelined) in [
        ("per-user/one-by-one", false),
        ("per-user/publish_all", true),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let started = Instant::now();
                    for _ in 0..iters {
                        per_user(&bus, &mut inboxes, pipelined).await;
                    }
                    started.elapsed()
                })
            });
        });
    }
    group.bench_function("per-node/batched", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iters {
                    per_node(&mut batched).await;
                }
                started.elapsed()
            })
        });
    });
    group.finish();
    assert_eq!(bus.dropped(), 0, "an inbox overflowed");

    // The per-user designs on the cluster, where `publish_all` sends one pipeline per
    // channel, all at once, rather than one pipeline.
    let seeds = required_env("REDIS_CLUSTER_URLS");
    let seeds = seeds.split(',').map(|url| url.trim().to_owned()).collect();
    let cluster = per_user_setup(seeds, RedisMode::Cluster, &prefix);
    let (bus, mut inboxes) = runtime.block_on(cluster);
    let mut group = c.benchmark_group("fanout-cluster");
    group.throughput(Throughput::Elements(K as u64));
    for (name, pipelined) in [
        ("per-user/one-by-one", false),
        ("per-user/publish_all", true),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let started = Instant::now();
                    for _ in 0..iters {
                        per_user(&bus, &mut inboxes, pipelined).await;
                    }
                    started.elapsed()
                })
            });
        });
    }
    group.finish();
    assert_eq!(bus.dropped(), 0, "an inbox overflowed");
}

criterion_group!(benches, fanout);
criterion_main!(benches);
