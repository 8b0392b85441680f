//! In-process checks with a local subscriber (never the global one) and a span processor that
//! keeps ended spans in memory. `tests/otlp.rs` covers the same flow through a real exporter.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::trace::{SpanContext, SpanId, TracerProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanProcessor};
use tonic::metadata::MetadataMap;
use tonic::service::Interceptor;
use tracing::info_span;
use tracing_subscriber::layer::SubscriberExt;

use super::*;

#[derive(Clone, Debug, Default)]
struct Capture(Arc<Mutex<Vec<SpanData>>>);

impl SpanProcessor for Capture {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &Context) {}
    fn on_end(&self, span: SpanData) {
        self.0.lock().unwrap().push(span);
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

impl Capture {
    fn ended(&self, name: &str) -> SpanData {
        let spans = self.0.lock().unwrap();
        let found = spans.iter().find(|s| s.name == name);
        found.cloned().unwrap_or_else(|| panic!("no span {name}"))
    }
}

/// Runs `f` with a subscriber that turns spans into OpenTelemetry spans, and returns the spans
/// ended meanwhile.
fn with_otel(f: impl FnOnce()) -> Capture {
    global::set_text_map_propagator(TraceContextPropagator::new());
    let capture = Capture::default();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(capture.clone())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), f);
    capture
}

fn span_context(span: &tracing::Span) -> SpanContext {
    span.context().span().span_context().clone()
}

#[test]
fn without_export_nothing_is_injected() {
    global::set_text_map_propagator(TraceContextPropagator::new());
    // No subscriber at all, then a subscriber without the export layer.
    let span = info_span!("c2s.route");
    assert!(inject(&span).is_empty());
    tracing::subscriber::with_default(tracing_subscriber::registry(), || {
        let span = info_span!("c2s.route");
        assert!(inject(&span).is_empty());
        let mut metadata = MetadataMap::new();
        inject_metadata(&span, &mut metadata);
        assert!(metadata.is_empty());
        let carrier = HashMap::from([(
            "traceparent".to_owned(),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned(),
        )]);
        set_parent(&span, &carrier);
    });
}

#[test]
fn a_disabled_span_injects_nothing() {
    with_otel(|| {
        assert!(inject(&tracing::Span::none()).is_empty());
        set_parent(&tracing::Span::none(), &HashMap::new());
    });
}

#[test]
fn the_carrier_makes_the_server_span_a_child_of_the_client_span() {
    let mut client_cx = None;
    let mut carrier = HashMap::new();
    let capture = with_otel(|| {
        let client = info_span!("c2s.route");
        client_cx = Some(span_context(&client));
        carrier = inject(&client);
        let server = info_span!("shard.stanza_in");
        set_parent(&server, &carrier);
        drop(server);
        drop(client);
    });
    let client_cx = client_cx.unwrap();
    assert_eq!(
        carrier.get("traceparent"),
        Some(&format!(
            "00-{}-{}-01",
            client_cx.trace_id(),
            client_cx.span_id()
        ))
    );
    let client = capture.ended("c2s.route");
    let server = capture.ended("shard.stanza_in");
    assert_eq!(
        server.span_context.trace_id(),
        client.span_context.trace_id()
    );
    assert_eq!(server.parent_span_id, client.span_context.span_id());
    assert!(server.parent_span_is_remote);
}

#[test]
fn grpc_metadata_carries_the_context_both_ways() {
    let capture = with_otel(|| {
        let client = info_span!("c2s.route");
        let mut metadata = MetadataMap::new();
        inject_metadata(&client, &mut metadata);
        assert!(metadata.get("traceparent").is_some());
        let server = info_span!("shard.stanza_in");
        set_parent_from_metadata(&server, &metadata);
    });
    let client = capture.ended("c2s.route");
    let server = capture.ended("shard.stanza_in");
    assert_eq!(
        server.span_context.trace_id(),
        client.span_context.trace_id()
    );
    assert_eq!(server.parent_span_id, client.span_context.span_id());
}

#[test]
fn the_interceptor_injects_the_current_span() {
    let capture = with_otel(|| {
        let client = info_span!("grpc.call");
        let request = client.in_scope(|| {
            TraceContextInterceptor
                .call(tonic::Request::new(()))
                .unwrap()
        });
        let expected = inject(&client);
        let traceparent = request.metadata().get("traceparent").unwrap();
        assert_eq!(
            Some(traceparent.to_str().unwrap()),
            expected.get("traceparent").map(String::as_str)
        );
        let server = info_span!("shard.stanza_in");
        set_parent_from_metadata(&server, request.metadata());

        // Outside any span there is nothing to inject.
        let request = TraceContextInterceptor
            .call(tonic::Request::new(()))
            .unwrap();
        assert!(request.metadata().is_empty());
    });
    let client = capture.ended("grpc.call");
    let server = capture.ended("shard.stanza_in");
    assert_eq!(server.parent_span_id, client.span_context.span_id());
}

#[test]
fn an_unusable_carrier_leaves_the_span_a_root() {
    let capture = with_otel(|| {
        let carrier = HashMap::from([("traceparent".to_owned(), "garbage".to_owned())]);
        let server = info_span!("shard.stanza_in");
        set_parent(&server, &carrier);
        let other = info_span!("empty");
        set_parent(&other, &HashMap::new());
    });
    assert_eq!(
        capture.ended("shard.stanza_in").parent_span_id,
        SpanId::INVALID
    );
    assert_eq!(capture.ended("empty").parent_span_id, SpanId::INVALID);
}

#[test]
fn a_started_span_keeps_its_own_trace() {
    let capture = with_otel(|| {
        let client = info_span!("c2s.route");
        let carrier = inject(&client);
        let server = info_span!("shard.stanza_in");
        server.in_scope(|| {});
        let _ = server.context();
        set_parent(&server, &carrier);
    });
    let client = capture.ended("c2s.route");
    let server = capture.ended("shard.stanza_in");
    assert_ne!(
        server.span_context.trace_id(),
        client.span_context.trace_id()
    );
}
