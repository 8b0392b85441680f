//! The OTLP span pipeline behind [`super::init_tracing`], and the guard that flushes it.
//!
//! The SDK's batch processor exports from a thread of its own, blocking on each export; the
//! tonic channel it exports through needs a Tokio runtime to drive its connection. That
//! channel gets a one-worker runtime of its own rather than the role's: flushing at exit blocks
//! the calling thread until the collector has the spans, and if the channel lived on the
//! caller's runtime, a current-thread runtime (or a multi-thread one with one worker, as on a
//! one-CPU pod) could not drive it meanwhile and the last spans would be lost to a timeout.

use std::fmt;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetryLayer;

use super::TelemetryError;

/// The instrumentation scope of the exported spans.
const TRACER_NAME: &str = "starling";

/// Keeps span export running; flushes the queued spans and stops the exporter when dropped (or
/// on [`TelemetryGuard::shutdown`], which also reports failures). Without an OTLP endpoint it
/// holds nothing and all of this is a no-op.
///
/// Dropping or shutting down blocks the calling thread until the collector has acknowledged the
/// last batch or the SDK's timeout (5 s) has passed: do it once, at exit.
pub struct TelemetryGuard {
    export: Option<Export>,
}

struct Export {
    provider: SdkTracerProvider,
    /// Drives the exporter's gRPC channel; outlives the provider.
    runtime: tokio::runtime::Runtime,
}

impl fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryGuard")
            .field("exporting", &self.is_exporting())
            .finish()
    }
}

impl TelemetryGuard {
    /// A guard with no export pipeline.
    pub(super) fn disabled() -> Self {
        Self { export: None }
    }

    /// Builds the pipeline to `endpoint`. Nothing connects yet: the channel connects on the
    /// first export, so a collector that is down at start only costs the spans of that moment.
    pub(super) fn exporting(endpoint: &str, service_name: String) -> Result<Self, TelemetryError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otlp-export")
            .enable_all()
            .build()
            .map_err(TelemetryError::Runtime)?;
        // Entering (not blocking on) the runtime is allowed inside another runtime; the channel
        // built here spawns its worker onto `runtime`.
        let exporter = {
            let _entered = runtime.enter();
            opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .build()
        };
        let exporter = match exporter {
            Ok(exporter) => exporter,
            Err(e) => {
                runtime.shutdown_background();
                return Err(TelemetryError::Exporter(e.to_string()));
            }
        };
        let provider = SdkTracerProvider::builder()
            .with_resource(Resource::builder().with_service_name(service_name).build())
            .with_batch_exporter(exporter)
            .build();
        Ok(Self {
            export: Some(Export { provider, runtime }),
        })
    }

    /// The layer that turns `tracing` spans into exported OpenTelemetry spans, if exporting.
    pub(super) fn layer<S>(&self) -> Option<OpenTelemetryLayer<S, SdkTracer>>
    where
        S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    {
        let export = self.export.as_ref()?;
        Some(tracing_opentelemetry::layer().with_tracer(export.provider.tracer(TRACER_NAME)))
    }

    /// Stops a pipeline that was never installed.
    pub(super) fn discard(&mut self) {
        if let Some(export) = self.export.take() {
            let _ = export.shutdown();
        }
    }

    /// Whether spans are being exported.
    pub fn is_exporting(&self) -> bool {
        self.export.is_some()
    }

    /// Exports every span ended so far now, rather than at the next batch (every 5 s).
    pub fn force_flush(&self) -> Result<(), TelemetryError> {
        match &self.export {
            Some(export) => export
                .provider
                .force_flush()
                .map_err(|e| TelemetryError::Export(e.to_string())),
            None => Ok(()),
        }
    }

    /// Flushes the queued spans and stops exporting; spans that end afterwards are dropped.
    pub fn shutdown(mut self) -> Result<(), TelemetryError> {
        match self.export.take() {
            Some(export) => export.shutdown(),
            None => Ok(()),
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(export) = self.export.take()
            && let Err(e) = export.shutdown()
        {
            tracing::warn!(error = %e, "spans may have been lost at shutdown");
        }
    }
}

impl Export {
    fn shutdown(self) -> Result<(), TelemetryError> {
        let result = self
            .provider
            .shutdown()
            .map_err(|e| TelemetryError::Export(e.to_string()));
        // Dropping a runtime blocks, which is not allowed inside another runtime; the exporter
        // is stopped, so its tasks can be abandoned.
        self.runtime.shutdown_background();
        result
    }
}
