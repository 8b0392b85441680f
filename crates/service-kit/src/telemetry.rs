//! Structured logging with `tracing`, and optionally span export over OTLP.
//!
//! The filter comes from `STARLING_LOG` (falling back to `RUST_LOG`, then the caller's default),
//! the format from `STARLING_LOG_FORMAT` (`text` for people, `json` for log pipelines). Logs go
//! to stderr so that stdout stays free for command output such as `starling user list`.
//!
//! A role in the cluster calls [`init_tracing`] instead of [`init_logging`]: the same logs, plus
//! (when an OTLP endpoint is configured) every `tracing` span exported to an OpenTelemetry
//! collector, so that one stanza can be followed from the connection manager through the shard
//! to the fan-out. [`crate::propagation`] carries the trace across process boundaries.
//!
//! The filter applies to exported spans as well as to log lines: a span the filter disables is
//! neither logged nor exported.

mod export;

use std::sync::atomic::{AtomicBool, Ordering};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

pub use export::TelemetryGuard;

/// Set once [`init_tracing`] installed a subscriber that exports spans.
static SPANS_EXPORTED: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported (an OTLP endpoint was configured). The per-stanza spans and
/// the trace context carried with each call and delivery exist for the tracing backend; made
/// when nothing exports them, they were about 8% of the instructions of a presence broadcast
/// (the log layer formats every span's fields as it is created, and each delivery looked up
/// the current span to inject its context). Log lines then carry no span prefix.
pub fn spans_exported() -> bool {
    SPANS_EXPORTED.load(Ordering::Relaxed)
}

/// `make()` when spans are exported, else a disabled span, which costs nothing to enter.
pub fn exported_span(make: impl FnOnce() -> tracing::Span) -> tracing::Span {
    if spans_exported() {
        make()
    } else {
        tracing::Span::none()
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// Reads `STARLING_LOG_FORMAT`; anything but `json` is text.
    pub fn from_env() -> Self {
        match std::env::var("STARLING_LOG_FORMAT").as_deref() {
            Ok("json") => LogFormat::Json,
            _ => LogFormat::Text,
        }
    }
}

/// The filter from `STARLING_LOG`, else `RUST_LOG`, else `default_filter`.
fn env_filter(default_filter: &str) -> EnvFilter {
    std::env::var("STARLING_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default_filter))
}

/// Installs the global subscriber, logs only. `default_filter` applies when no variable sets
/// one. Calling it twice is harmless (the second call does nothing), which keeps tests simple.
pub fn init_logging(format: LogFormat, default_filter: &str) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(env_filter(default_filter))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// What [`init_tracing`] installs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TracingOptions {
    /// Log line format.
    pub format: LogFormat,
    /// The filter when neither `STARLING_LOG` nor `RUST_LOG` sets one (e.g. `info`).
    pub default_filter: String,
    /// The `service.name` resource attribute of exported spans, e.g. `starling-shard`: how the
    /// tracing backend names this role.
    pub service_name: String,
    /// The OTLP/gRPC collector, e.g. `http://otel-collector:4317`; `None` exports nothing.
    pub otlp_endpoint: Option<String>,
}

/// Why [`init_tracing`] or a [`TelemetryGuard`] operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// A global subscriber was installed before (by an earlier call, or by [`init_logging`]).
    /// Nothing was changed.
    #[error("a global tracing subscriber is already installed")]
    AlreadyInitialized,
    /// The OTLP exporter could not be built (e.g. a malformed endpoint).
    #[error("cannot build the OTLP span exporter: {0}")]
    Exporter(String),
    /// The exporter's background runtime could not be started.
    #[error("cannot start the span export runtime: {0}")]
    Runtime(std::io::Error),
    /// Flushing or shutting down the span pipeline failed or timed out; spans may be lost.
    #[error("span export: {0}")]
    Export(String),
}

/// Installs the global subscriber: the log lines of [`init_logging`] and, when
/// `options.otlp_endpoint` is set, a `tracing-opentelemetry` layer whose spans a batch
/// processor exports over OTLP/gRPC. Also sets the global text-map propagator to W3C
/// TraceContext, which [`crate::propagation`] uses.
///
/// It can be called with or without a Tokio runtime: the exporter's gRPC channel runs on a small
/// runtime of its own (see [`TelemetryGuard`]). Keep the guard until the process exits; dropping
/// it flushes the spans still queued. A second call returns
/// [`TelemetryError::AlreadyInitialized`] and changes nothing.
pub fn init_tracing(options: TracingOptions) -> Result<TelemetryGuard, TelemetryError> {
    let TracingOptions {
        format,
        default_filter,
        service_name,
        otlp_endpoint,
    } = options;
    let mut guard = match otlp_endpoint {
        Some(endpoint) => TelemetryGuard::exporting(&endpoint, service_name)?,
        None => TelemetryGuard::disabled(),
    };
    let fmt_layer = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let installed = tracing_subscriber::registry()
        .with(env_filter(&default_filter))
        .with(fmt_layer)
        .with(guard.layer())
        .try_init();
    if installed.is_err() {
        // The layer was never installed, so no span reached the pipeline: just stop it.
        guard.discard();
        return Err(TelemetryError::AlreadyInitialized);
    }
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    SPANS_EXPORTED.store(guard.is_exporting(), Ordering::Relaxed);
    Ok(guard)
}
