use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::health::Readiness;
use crate::metrics::Metrics;

struct Server {
    addr: SocketAddr,
    readiness: Readiness,
    metrics: Metrics,
    shutdown: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
}

async fn start() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let readiness = Readiness::new();
    let metrics = Metrics::new();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(super::serve(
        listener,
        readiness.clone(),
        metrics.clone(),
        shutdown.clone(),
    ));
    Server {
        addr,
        readiness,
        metrics,
        shutdown,
        task,
    }
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request over a fresh TCP connection; `Connection: close` lets the body be read
/// to the end of the stream.
async fn get(addr: SocketAddr, path: &str) -> Response {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut raw))
        .await
        .expect("response in time")
        .unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a header block");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    Response {
        status,
        headers,
        body: body.to_owned(),
    }
}

#[tokio::test]
async fn healthz_answers_ok() {
    let server = start().await;
    let response = get(server.addr, "/healthz").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body, "ok");
}

#[tokio::test]
async fn readyz_follows_the_readiness_flag() {
    let server = start().await;
    let response = get(server.addr, "/readyz").await;
    assert_eq!(
        (response.status, response.body.as_str()),
        (503, "not ready")
    );
    server.readiness.set_ready(true);
    let response = get(server.addr, "/readyz").await;
    assert_eq!((response.status, response.body.as_str()), (200, "ready"));
    server.readiness.set_ready(false);
    assert_eq!(get(server.addr, "/readyz").await.status, 503);
}

#[tokio::test]
async fn metrics_serves_openmetrics_text() {
    let server = start().await;
    server.metrics.stanza_in("iq");
    let response = get(server.addr, "/metrics").await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(
        response
            .body
            .lines()
            .any(|l| l == "starling_stanzas_in_total{kind=\"iq\"} 1"),
        "{}",
        response.body
    );
    assert!(response.body.ends_with("# EOF\n"));
}

#[tokio::test]
async fn unknown_paths_are_not_found() {
    let server = start().await;
    assert_eq!(get(server.addr, "/").await.status, 404);
}

#[tokio::test]
async fn cancelling_the_token_stops_the_server() {
    let server = start().await;
    assert_eq!(get(server.addr, "/healthz").await.status, 200);
    server.shutdown.cancel();
    let result = tokio::time::timeout(Duration::from_secs(10), server.task)
        .await
        .expect("the server stops in time")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");
    assert!(TcpStream::connect(server.addr).await.is_err());
}
