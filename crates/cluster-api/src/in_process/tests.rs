use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tonic::{Request, Response, Status};

use super::*;
use crate::shard_client::ShardClient;
use crate::transport::over_http2;
use crate::v1;
use crate::v1::roster_presence_client::RosterPresenceClient;
use crate::v1::roster_presence_server::{RosterPresence, RosterPresenceServer};

/// One call the server received.
#[derive(Clone, Debug, PartialEq)]
enum Call {
    Bound(v1::SessionBoundRequest),
    Closed(v1::SessionClosedRequest),
    Stanza(v1::StanzaInRequest),
}

/// A shard that records what it is called with.
#[derive(Clone, Debug, Default)]
struct Recorder {
    calls: Arc<Mutex<Vec<Call>>>,
    /// The `traceparent` metadata of each session_bound call, as the shards read it.
    traceparents: Arc<Mutex<Vec<String>>>,
    /// Each session_closed call holds its worker thread for a while, as a loaded shard's
    /// work does.
    busy: bool,
    /// The id of each StanzaIn call's stanza as the shard reads it
    /// ([`crate::convert::stanza_in`]).
    stanza_ids: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn record(&self, call: Call) {
        self.calls.lock().unwrap().push(call);
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

#[tonic::async_trait]
impl RosterPresence for Recorder {
    async fn session_bound(
        &self,
        request: Request<v1::SessionBoundRequest>,
    ) -> Result<Response<v1::SessionBoundResponse>, Status> {
        if let Some(value) = request.metadata().get("traceparent") {
            let value = value.to_str().unwrap().to_owned();
            self.traceparents.lock().unwrap().push(value);
        }
        self.record(Call::Bound(request.into_inner()));
        Ok(Response::new(v1::SessionBoundResponse {}))
    }

    async fn session_closed(
        &self,
        request: Request<v1::SessionClosedRequest>,
    ) -> Result<Response<v1::SessionClosedResponse>, Status> {
        if self.busy {
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        self.record(Call::Closed(request.into_inner()));
        Ok(Response::new(v1::SessionClosedResponse {}))
    }

    async fn stanza_in(
        &self,
        request: Request<v1::StanzaInRequest>,
    ) -> Result<Response<v1::StanzaInResponse>, Status> {
        let (_, mut extensions, request) = request.into_parts();
        if let Some(envelope) = &request.stanza {
            let stanza = crate::convert::stanza_in(&mut extensions, envelope).unwrap();
            let id = stanza.id().unwrap_or_default().to_owned();
            self.stanza_ids.lock().unwrap().push(id);
        }
        if request.stanza.as_ref().is_some_and(|s| s.id == "refuse") {
            return Err(Status::invalid_argument("refused"));
        }
        self.record(Call::Stanza(request));
        Ok(Response::new(v1::StanzaInResponse {}))
    }

    async fn incarnation(
        &self,
        _request: Request<v1::IncarnationRequest>,
    ) -> Result<Response<v1::IncarnationResponse>, Status> {
        Ok(Response::new(v1::IncarnationResponse { incarnation: 7 }))
    }
}

fn session(id: u64) -> v1::SessionAddress {
    v1::SessionAddress {
        node: "c2s-1".into(),
        id,
        jid: format!("juliet@example.com/r{id}"),
    }
}

fn stanza_in(id: &str) -> v1::StanzaInRequest {
    v1::StanzaInRequest {
        stanza: Some(v1::Envelope {
            from: "juliet@example.com/r1".into(),
            to: "romeo@example.net".into(),
            kind: v1::StanzaKind::Message.into(),
            r#type: "chat".into(),
            id: id.into(),
            origin: Some(session(1)),
            xml: Bytes::from_static(b"<message to='romeo@example.net'><body>hi</body></message>"),
        }),
        direction: v1::Direction::Inbound.into(),
    }
}

/// The ways a caller reaches a shard in its own process: the generated server over
/// in-memory HTTP/2 or called in place, or the service handed the typed request
/// ([`ShardClient::InPlace`], what `starling dev` runs).
#[derive(Clone, Copy, Debug)]
enum Via {
    Http2,
    Direct,
    InPlace,
}

const ALL: [Via; 3] = [Via::Http2, Via::Direct, Via::InPlace];

/// A client of `server` through `via`.
fn client(via: Via, server: Recorder) -> ShardClient {
    let grpc = |channel| ShardClient::Grpc(RosterPresenceClient::new(channel));
    match via {
        Via::Http2 => grpc(over_http2(channel(RosterPresenceServer::new(server)))),
        Via::Direct => grpc(direct(RosterPresenceServer::new(server))),
        Via::InPlace => ShardClient::InPlace(Arc::new(server)),
    }
}

/// A stanza attached to a `StanzaIn` request reaches a shard in this process, whichever way
/// it is called, and is left behind where the request is encoded for HTTP/2, as it is over
/// a network: the shard then reads the envelope's XML.
#[tokio::test]
async fn an_attached_stanza_stays_in_the_process() {
    // The envelope's XML (`stanza_in`) has no id attribute; the attached stanza has one.
    for (via, expected) in [
        (Via::Http2, ""),
        (Via::Direct, "attached"),
        (Via::InPlace, "attached"),
    ] {
        let shard = Recorder::default();
        let mut client = client(via, shard.clone());
        let mut request = Request::new(stanza_in("m1"));
        let xml = "<message to='romeo@example.net' id='attached'><body>hi</body></message>";
        let attached = crate::convert::stanza_of_xml(xml.as_bytes()).unwrap();
        crate::convert::attach_stanza(&mut request, attached);
        client.stanza_in(request).await.unwrap();
        assert_eq!(*shard.stanza_ids.lock().unwrap(), [expected], "{via:?}");
    }
}

#[tokio::test]
async fn calls_arrive_with_their_fields() {
    for via in ALL {
        calls_arrive_with_their_fields_via(via).await;
    }
}

async fn calls_arrive_with_their_fields_via(via: Via) {
    let shard = Recorder::default();
    let mut client = client(via, shard.clone());

    client
        .session_bound(v1::SessionBoundRequest {
            session: Some(session(1)),
            restored: None,
        })
        .await
        .unwrap();
    client.stanza_in(stanza_in("m1")).await.unwrap();
    client
        .session_closed(v1::SessionClosedRequest {
            session: Some(session(1)),
        })
        .await
        .unwrap();

    assert_eq!(
        shard.calls(),
        [
            Call::Bound(v1::SessionBoundRequest {
                session: Some(session(1)),
                restored: None,
            }),
            Call::Stanza(stanza_in("m1")),
            Call::Closed(v1::SessionClosedRequest {
                session: Some(session(1))
            }),
        ],
        "{via:?}"
    );
}

/// A call's metadata reaches the server's handler on either transport: the shards read the
/// caller's trace context from it (W3C `traceparent`).
#[tokio::test]
async fn metadata_reaches_the_server() {
    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    for via in ALL {
        let shard = Recorder::default();
        let mut request = Request::new(v1::SessionBoundRequest {
            session: Some(session(1)),
            restored: None,
        });
        request
            .metadata_mut()
            .insert("traceparent", TRACEPARENT.parse().unwrap());
        client(via, shard.clone())
            .session_bound(request)
            .await
            .unwrap();
        assert_eq!(
            *shard.traceparents.lock().unwrap(),
            [TRACEPARENT],
            "{via:?}"
        );
    }
}

#[tokio::test]
async fn errors_come_back_as_statuses() {
    for via in ALL {
        let mut client = client(via, Recorder::default());
        let status = client.stanza_in(stanza_in("refuse")).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{via:?}");
        assert_eq!(status.message(), "refused", "{via:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_all_succeed() {
    for via in ALL {
        concurrent_calls_all_succeed_via(via).await;
    }
}

async fn concurrent_calls_all_succeed_via(via: Via) {
    let shard = Recorder::default();
    let client = client(via, shard.clone());
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..100 {
        let mut client = client.clone();
        tasks.spawn(async move { client.stanza_in(stanza_in(&format!("m{i}"))).await });
    }
    let mut ok = 0;
    while let Some(result) = tasks.join_next().await {
        result.unwrap().unwrap();
        ok += 1;
    }
    assert_eq!(ok, 100);
    let mut ids: Vec<String> = shard
        .calls()
        .into_iter()
        .map(|c| match c {
            Call::Stanza(s) => s.stanza.unwrap().id,
            other => panic!("unexpected call {other:?}"),
        })
        .collect();
    ids.sort_by_key(|id| id[1..].parse::<u32>().unwrap());
    assert_eq!(ids, (0..100).map(|i| format!("m{i}")).collect::<Vec<_>>());
}

/// A burst of small calls to a busy server, as when thousands of clients disconnect at once
/// while a shard is loaded: HTTP/2 servers close a connection whose peer has sent more small
/// DATA frames than a budget allows before the application consumed them (h2 0.4.20: half
/// the connection window), which failed every call in flight with `ENHANCE_YOUR_CALM`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_thousands_of_small_calls_to_a_busy_server_all_succeed() {
    const CALLS: u64 = 5_000;
    let shard = Recorder {
        busy: true,
        ..Recorder::default()
    };
    let client = RosterPresenceClient::new(channel(RosterPresenceServer::new(shard.clone())));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..CALLS {
        let mut client = client.clone();
        tasks.spawn(async move {
            client
                .session_closed(v1::SessionClosedRequest {
                    session: Some(session(i)),
                })
                .await
        });
    }
    let mut failed = Vec::new();
    while let Some(result) = tasks.join_next().await {
        if let Err(status) = result.unwrap() {
            failed.push(status);
        }
    }
    assert!(
        failed.is_empty(),
        "{} failed, first: {:?}",
        failed.len(),
        failed.first()
    );
    assert_eq!(shard.calls().len(), CALLS as usize);
}
