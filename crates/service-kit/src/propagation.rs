//! Carrying a trace across process boundaries with W3C Trace Context (`traceparent`,
//! `tracestate`).
//!
//! A stanza's work crosses processes twice: connection manager → shard over gRPC, then shard →
//! connection managers over the bus. For the tracing backend to show it as one trace, the sender
//! writes its span's context into the message ([`inject`], [`inject_metadata`], or
//! [`TraceContextInterceptor`] on a gRPC client) and the receiver makes its span a child of it
//! ([`set_parent`], [`set_parent_from_metadata`]).
//!
//! Everything goes through the global text-map propagator, which
//! [`crate::telemetry::init_tracing`] sets to W3C TraceContext. When spans are not exported
//! (no OTLP endpoint, or the span is disabled by the filter) a span has no trace context:
//! injecting writes nothing and setting a parent does nothing, so callers need no special case.

mod metadata;

use std::collections::HashMap;

use opentelemetry::Context;
use opentelemetry::global;
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt;
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub use metadata::TraceContextInterceptor;

/// The trace context of `span` as carrier entries (`traceparent` and, if any, `tracestate`),
/// e.g. to put in a bus message. Empty when the span has no trace context.
pub fn inject(span: &tracing::Span) -> HashMap<String, String> {
    let mut carrier = HashMap::new();
    inject_into(span, &mut carrier);
    carrier
}

/// The current span's trace context as carrier entries ([`inject`]), without looking the
/// span up when spans are not exported ([`crate::telemetry::spans_exported`]): a presence
/// broadcast makes a delivery per contact, each of which would.
pub fn inject_current() -> HashMap<String, String> {
    if crate::telemetry::spans_exported() {
        inject(&tracing::Span::current())
    } else {
        HashMap::new()
    }
}

/// Writes the current span's trace context into `metadata` ([`inject_metadata`]), without
/// looking the span up when spans are not exported.
pub fn inject_current_metadata(metadata: &mut tonic::metadata::MetadataMap) {
    if crate::telemetry::spans_exported() {
        inject_metadata(&tracing::Span::current(), metadata);
    }
}

/// Makes `span` a child of the remote span whose context `carrier` holds; does nothing if it
/// holds none (or an invalid one).
///
/// Call it right after creating the span, before entering it: once a span has started, its
/// parent is fixed.
pub fn set_parent(span: &tracing::Span, carrier: &HashMap<String, String>) {
    set_parent_from(span, carrier);
}

/// Writes `span`'s trace context into `metadata` (the headers of a gRPC request).
pub fn inject_metadata(span: &tracing::Span, metadata: &mut tonic::metadata::MetadataMap) {
    inject_into(span, &mut metadata::Writer(metadata));
}

/// Makes `span` a child of the remote span named in `metadata` (a gRPC request's headers), as
/// [`set_parent`] does.
pub fn set_parent_from_metadata(span: &tracing::Span, metadata: &tonic::metadata::MetadataMap) {
    set_parent_from(span, &metadata::Reader(metadata));
}

fn inject_into(span: &tracing::Span, injector: &mut dyn Injector) {
    let cx = span.context();
    // An invalid context injects nothing with TraceContext; checking first also spares the
    // propagator lookup on the common "export off" path.
    if !cx.span().span_context().is_valid() {
        return;
    }
    global::get_text_map_propagator(|propagator| propagator.inject_context(&cx, injector));
}

fn set_parent_from(span: &tracing::Span, extractor: &dyn Extractor) {
    let cx = global::get_text_map_propagator(|propagator| {
        propagator.extract_with_context(&Context::new(), extractor)
    });
    if !cx.span().span_context().is_valid() {
        return;
    }
    if let Err(e) = span.set_parent(cx) {
        // The span is disabled, the export layer is not installed, or the span has already
        // started; in each case there is no trace to join.
        tracing::trace!(error = %e, "remote trace context not applied");
    }
}

#[cfg(test)]
mod tests;
