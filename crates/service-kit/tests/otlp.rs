//! Spans reach an OTLP/gRPC collector with their remote parents.
//!
//! The collector is an in-process `TraceService` served with tonic on 127.0.0.1:0. This file is
//! its own test binary because [`init_tracing`] installs the process-wide subscriber: a single
//! test owns it here.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use service_kit::propagation::{
    TraceContextInterceptor, inject, inject_current, inject_metadata, set_parent,
    set_parent_from_metadata,
};
use service_kit::telemetry::{
    LogFormat, TelemetryError, TracingOptions, exported_span, init_tracing, spans_exported,
};
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic::{Request, Response, Status};
use tracing::{Instrument, info_span};

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
    /// Every span received, with the `service.name` of its resource.
    fn spans(&self) -> Vec<(String, Span)> {
        let requests = self.0.lock().unwrap();
        let mut spans = Vec::new();
        for resource_spans in requests.iter().flat_map(|r| &r.resource_spans) {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                    Value::StringValue(s) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for scope_spans in &resource_spans.scope_spans {
                for span in &scope_spans.spans {
                    spans.push((service.clone(), span.clone()));
                }
            }
        }
        spans
    }

    fn span(&self, name: &str) -> (String, Span) {
        let spans = self.spans();
        let found = spans.into_iter().find(|(_, s)| s.name == name);
        found.unwrap_or_else(|| panic!("the collector has no span {name}"))
    }
}

/// A gRPC server standing in for a shard (any service will do; the trace service is the one at
/// hand): each call opens a span parented from the request's metadata.
#[derive(Clone, Default)]
struct Peer;

#[tonic::async_trait]
impl TraceService for Peer {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let span = info_span!("shard.stanza_in");
        set_parent_from_metadata(&span, request.metadata());
        span.in_scope(|| tracing::info!("handled"));
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

async fn serve<S: TraceService>(service: S) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::builder()
        .add_service(TraceServiceServer::new(service))
        .serve_with_incoming(TcpIncoming::from(listener));
    tokio::spawn(server);
    addr
}

fn options(endpoint: Option<String>) -> TracingOptions {
    TracingOptions {
        format: LogFormat::Text,
        default_filter: "info".to_owned(),
        service_name: "starling-test".to_owned(),
        otlp_endpoint: endpoint,
    }
}

#[tokio::test]
async fn spans_reach_the_collector_with_their_remote_parents() {
    let collector = Collector::default();
    let collector_addr = serve(collector.clone()).await;
    assert!(!spans_exported());
    let guard = init_tracing(options(Some(format!("http://{collector_addr}")))).unwrap();
    assert!(guard.is_exporting());
    assert!(spans_exported());
    assert!(matches!(
        init_tracing(options(None)),
        Err(TelemetryError::AlreadyInitialized)
    ));

    // A carrier, as a bus message would hold it.
    let route = info_span!("c2s.route");
    let carrier: HashMap<String, String> = inject(&route);
    assert!(carrier.contains_key("traceparent"), "{carrier:?}");
    assert_eq!(route.in_scope(inject_current), carrier);
    assert!(!exported_span(|| info_span!("c2s.stanza")).is_none());
    let deliver = info_span!("shard.deliver");
    set_parent(&deliver, &carrier);
    deliver.in_scope(|| tracing::info!("delivering"));
    drop(deliver);
    drop(route);

    // Metadata written by hand.
    let bound = info_span!("c2s.session_bound");
    let mut metadata = tonic::metadata::MetadataMap::new();
    inject_metadata(&bound, &mut metadata);
    let handle = info_span!("shard.session_bound");
    set_parent_from_metadata(&handle, &metadata);
    drop(handle);
    drop(bound);

    // A real gRPC call through the interceptor.
    let peer_addr = serve(Peer).await;
    let channel = Channel::from_shared(format!("http://{peer_addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = TraceServiceClient::with_interceptor(channel, TraceContextInterceptor);
    let call = info_span!("c2s.stanza_in");
    client
        .export(ExportTraceServiceRequest::default())
        .instrument(call.clone())
        .await
        .unwrap();
    drop(call);

    // Shutting down blocks until the collector has the spans; the collector runs on this
    // runtime, so block elsewhere.
    tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .unwrap()
        .unwrap();

    for (parent, child) in [
        ("c2s.route", "shard.deliver"),
        ("c2s.session_bound", "shard.session_bound"),
        ("c2s.stanza_in", "shard.stanza_in"),
    ] {
        let (service, parent_span) = collector.span(parent);
        let (_, child_span) = collector.span(child);
        assert_eq!(service, "starling-test");
        assert_eq!(parent_span.trace_id.len(), 16);
        assert_eq!(
            child_span.trace_id, parent_span.trace_id,
            "{child} in {parent}'s trace"
        );
        assert_eq!(
            child_span.parent_span_id, parent_span.span_id,
            "{child} under {parent}"
        );
    }
    // Three separate traces.
    let (_, a) = collector.span("c2s.route");
    let (_, b) = collector.span("c2s.session_bound");
    let (_, c) = collector.span("c2s.stanza_in");
    assert!(a.trace_id != b.trace_id && b.trace_id != c.trace_id && a.trace_id != c.trace_id);
}
