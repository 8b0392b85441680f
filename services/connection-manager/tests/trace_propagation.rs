//! One client message is one trace: the connection manager's `c2s.stanza` span, the shard's
//! `shard.call` span (parented from the gRPC metadata of the call) and the `c2s.deliver` span
//! of the delivery that comes back over the bus (parented from `Delivery.trace_context`).
//!
//! Spans are exported over OTLP/gRPC to an in-process collector on 127.0.0.1:0. This file is
//! its own test binary because `init_tracing` installs the process-wide subscriber: a single
//! test owns it here.

mod support;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use service_kit::telemetry::{LogFormat, TracingOptions, init_tracing};
use support::im::{body, online};
use support::peer::{Peer, is};
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

/// The collector: keeps every export request.
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<ExportTraceServiceRequest>>>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.0.lock().unwrap().push(request.into_inner());
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

impl Collector {
    /// Every span received.
    fn spans(&self) -> Vec<Span> {
        let requests = self.0.lock().unwrap();
        requests
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .cloned()
            .collect()
    }
}

async fn serve(collector: Collector) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::builder()
        .add_service(TraceServiceServer::new(collector))
        .serve_with_incoming(TcpIncoming::from(listener));
    tokio::spawn(server);
    addr
}

/// A string attribute of `span`.
fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Every span received, one per line: name, trace id, span id, parent id, attributes.
fn dump(spans: &[Span]) -> String {
    let mut out = String::new();
    for span in spans {
        let attributes: Vec<String> = span
            .attributes
            .iter()
            .map(|kv| {
                format!(
                    "{}={:?}",
                    kv.key,
                    kv.value.as_ref().and_then(|v| v.value.as_ref())
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "{:<14} trace={} span={} parent={} {}",
            span.name,
            hex(&span.trace_id),
            hex(&span.span_id),
            if span.parent_span_id.is_empty() {
                "-".to_owned()
            } else {
                hex(&span.parent_span_id)
            },
            attributes.join(" "),
        );
    }
    out
}

/// Whether `ancestor` is `span`'s parent, or its parent's parent, and so on, walking parent
/// ids through the spans of `span`'s trace only. A parent id naming no received span of that
/// trace ends the walk.
fn descends_from(spans: &[Span], span: &Span, ancestor: &Span) -> bool {
    let in_trace: HashMap<&[u8], &Span> = spans
        .iter()
        .filter(|s| s.trace_id == span.trace_id)
        .map(|s| (s.span_id.as_slice(), s))
        .collect();
    let mut current = span;
    // Bounded by the trace's size, so a cycle cannot hang the test.
    for _ in 0..=in_trace.len() {
        if current.parent_span_id.is_empty() {
            return false;
        }
        if current.parent_span_id == ancestor.span_id && current.trace_id == ancestor.trace_id {
            return true;
        }
        match in_trace.get(current.parent_span_id.as_slice()) {
            Some(parent) => current = parent,
            None => return false,
        }
    }
    false
}

#[tokio::test]
async fn a_message_is_one_trace_from_client_stanza_through_shard_to_delivery() {
    let collector = Collector::default();
    let collector_addr = serve(collector.clone()).await;
    let guard = init_tracing(TracingOptions {
        format: LogFormat::Text,
        default_filter: "info".to_owned(),
        service_name: "starling-test".to_owned(),
        otlp_endpoint: Some(format!("http://{collector_addr}")),
    })
    .unwrap();
    assert!(guard.is_exporting());

    let server = support::start(|_| {}).await;
    let mut juliet = Peer::login(&server, "juliet").await;
    let mut romeo = online(&server, "romeo", None).await;

    juliet
        .send(&format!(
            "<message to='{}' type='chat' id='traced'><body>wherefore</body></message>",
            romeo.jid
        ))
        .await;
    let received = romeo
        .expect("juliet's message", |e| {
            is(e, "message", Some("chat"), Some("traced"))
        })
        .await;
    assert_eq!(body(&received).as_deref(), Some("wherefore"));
    // A session's stanzas are handled one after the other, so the answer to a later ping
    // means the message's `c2s.stanza` span has ended. (`c2s.deliver` ended before the
    // delivery was written: the inbox leaves its span before awaiting the next delivery.)
    juliet
        .send("<iq to='localhost' type='get' id='sync'><ping xmlns='urn:xmpp:ping'/></iq>")
        .await;
    juliet
        .expect("ping result", |e| is(e, "iq", Some("result"), Some("sync")))
        .await;

    // Shutting down blocks until the collector has the spans; the collector runs on this
    // runtime, so block elsewhere.
    tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .unwrap()
        .unwrap();

    let spans = collector.spans();
    let all = dump(&spans);

    // The message's span: the only client stanza that was a message.
    let stanzas: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == "c2s.stanza" && attribute(s, "name") == Some("message"))
        .collect();
    assert_eq!(
        stanzas.len(),
        1,
        "one c2s.stanza span for the message; received:\n{all}"
    );
    let stanza = stanzas[0];
    assert_eq!(stanza.trace_id.len(), 16, "{all}");
    assert!(
        stanza.trace_id.iter().any(|b| *b != 0),
        "c2s.stanza has a valid trace id; received:\n{all}"
    );

    // The shard's call for it, in the same trace, under the stanza span.
    let calls: Vec<&Span> = spans
        .iter()
        .filter(|s| {
            s.name == "shard.call"
                && s.trace_id == stanza.trace_id
                && descends_from(&spans, s, stanza)
        })
        .collect();
    assert!(
        !calls.is_empty(),
        "a shard.call span in trace {} descending from c2s.stanza {}; received:\n{all}",
        hex(&stanza.trace_id),
        hex(&stanza.span_id),
    );
    for call in &calls {
        assert_eq!(
            attribute(call, "method"),
            Some("StanzaIn"),
            "shard.call {} is the StanzaIn call; received:\n{all}",
            hex(&call.span_id),
        );
        assert!(
            spans
                .iter()
                .any(|p| p.trace_id == call.trace_id && p.span_id == call.parent_span_id),
            "shard.call {}'s parent is a received span of the trace; received:\n{all}",
            hex(&call.span_id),
        );
    }

    // The delivery to romeo, in the same trace, under a shard call of it.
    let delivers: Vec<&Span> = spans
        .iter()
        .filter(|s| {
            s.name == "c2s.deliver"
                && s.trace_id == stanza.trace_id
                && calls.iter().any(|call| descends_from(&spans, s, call))
        })
        .collect();
    assert!(
        !delivers.is_empty(),
        "a c2s.deliver span in trace {} descending from its shard.call; received:\n{all}",
        hex(&stanza.trace_id),
    );
    assert!(
        delivers
            .iter()
            .any(|d| attribute(d, "user") == Some(romeo.bare().as_str())),
        "a c2s.deliver span for {}; received:\n{all}",
        romeo.bare(),
    );

    // The message's trace is its own: the logins and presence are other traces.
    let others = spans
        .iter()
        .filter(|s| s.name == "c2s.stanza" && s.trace_id != stanza.trace_id)
        .count();
    assert!(
        others >= 2,
        "romeo's presence and juliet's ping are traces of their own; received:\n{all}"
    );

    juliet.logout().await;
    romeo.logout().await;
    server.stop().await;
}
