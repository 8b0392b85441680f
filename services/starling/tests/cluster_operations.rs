//! What operators read from a running cluster (`scripts/cluster up`): every role answers
//! `/healthz` and `/readyz`, and its `/metrics` count the traffic that went through it.

mod cluster_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use cluster_support::peer::Peer;
use cluster_support::{Cluster, message_with, online};

/// `GET path` on `addr` (HOST:PORT) over HTTP/1.0: the status code and the body.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The value of the sample `series` (name with labels, exactly as exposed).
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {series} in\n{metrics}"))
}

#[test]
fn every_role_is_live_and_ready() {
    let cluster = Cluster::from_env();
    let roles = [
        "C2S_1_HTTP",
        "C2S_2_HTTP",
        "SHARD_0_HTTP",
        "SHARD_1_HTTP",
        "SHARD_2_HTTP",
    ];
    for role in roles {
        let addr = cluster.var(role);
        assert_eq!(get(addr, "/healthz"), (200, "ok".to_owned()), "{role}");
        assert_eq!(get(addr, "/readyz").0, 200, "{role}");
    }
}

#[tokio::test]
async fn metrics_count_sessions_stanzas_shard_calls_and_fan_out() {
    let cluster = Cluster::from_env();
    let c2s = cluster.var("C2S_1_HTTP").to_owned();
    let before = get(&c2s, "/metrics").1;
    let messages_before = sample(&before, "starling_stanzas_in_total{kind=\"message\"}");
    let fanout_before = sample(&before, "starling_fanout_deliveries_total");

    let [sender, receiver] = cluster.users(["sender", "receiver"]);
    let mut sender: Peer = online(cluster.c2s(1), &sender).await;
    let mut receiver: Peer = online(cluster.c2s(1), &receiver).await;
    let to = receiver.jid.clone();
    sender
        .send(&format!(
            "<message to='{to}' type='chat'><body>counted</body></message>"
        ))
        .await;
    receiver
        .expect("the message", |e| message_with(e, "counted"))
        .await;

    let (status, after) = get(&c2s, "/metrics");
    assert_eq!(status, 200);
    assert!(sample(&after, "starling_sessions") >= 2.0, "{after}");
    assert!(
        sample(&after, "starling_stanzas_in_total{kind=\"message\"}") > messages_before,
        "{after}"
    );
    assert!(sample(&after, "starling_fanout_deliveries_total") > fanout_before);
    assert!(
        sample(
            &after,
            "starling_grpc_client_duration_seconds_count{method=\"StanzaIn\"}"
        ) > 0.0
    );
    // The receiver's shard served the message.
    let shard = cluster.shard_of(receiver.bare().split('@').next().unwrap());
    let shard_metrics = get(cluster.var(&format!("SHARD_{shard}_HTTP")), "/metrics").1;
    assert!(
        sample(
            &shard_metrics,
            "starling_grpc_server_duration_seconds_count{method=\"StanzaIn\"}"
        ) > 0.0,
        "{shard_metrics}"
    );
    assert!(sample(&shard_metrics, "starling_shard_sessions") >= 1.0);
    sender.logout().await;
    receiver.logout().await;
}
