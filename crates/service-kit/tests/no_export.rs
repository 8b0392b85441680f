//! A role that logs but exports no spans (no OTLP endpoint) makes no per-stanza spans and
//! carries no trace context. Its own test binary: [`init_tracing`] installs the process-wide
//! subscriber, once.

use service_kit::propagation::inject_current;
use service_kit::telemetry::{
    LogFormat, TracingOptions, exported_span, init_tracing, spans_exported,
};
use tracing::info_span;

#[test]
fn without_an_endpoint_no_span_is_made() {
    let guard = init_tracing(TracingOptions {
        format: LogFormat::Text,
        default_filter: "info".into(),
        service_name: "starling-test".into(),
        otlp_endpoint: None,
    })
    .unwrap();
    assert!(!guard.is_exporting());
    assert!(!spans_exported());
    // The log layer would take this span: the subscriber is installed and enables it.
    let logged = info_span!("c2s.stanza");
    assert!(!logged.is_none());
    // The per-stanza span is not made, and nothing is injected.
    assert!(exported_span(|| info_span!("c2s.stanza")).is_none());
    assert!(logged.in_scope(inject_current).is_empty());
}
