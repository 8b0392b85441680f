//! Trace context in gRPC metadata: the carrier adapters and the client interceptor.

use opentelemetry::propagation::{Extractor, Injector};
use tonic::metadata::{KeyRef, MetadataKey, MetadataMap, MetadataValue};
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// Writes carrier entries as ASCII metadata; entries that are not valid header names or values
/// are skipped (TraceContext never produces any).
pub(super) struct Writer<'a>(pub(super) &'a mut MetadataMap);

impl Injector for Writer<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value),
        ) {
            self.0.insert(key, value);
        }
    }
}

/// Reads carrier entries from ASCII metadata.
pub(super) struct Reader<'a>(pub(super) &'a MetadataMap);

impl Extractor for Reader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .filter_map(|key| match key {
                KeyRef::Ascii(key) => Some(key.as_str()),
                KeyRef::Binary(_) => None,
            })
            .collect()
    }
}

/// A gRPC client interceptor that writes the current span's trace context into every request,
/// so that the server's span joins the caller's trace:
/// `RosterPresenceClient::with_interceptor(channel, TraceContextInterceptor)`.
///
/// The current span is the one entered where the call is made (an `.instrument(span)` future
/// counts): create the call's span around the call.
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceContextInterceptor;

impl Interceptor for TraceContextInterceptor {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        super::inject_metadata(&tracing::Span::current(), request.metadata_mut());
        Ok(request)
    }
}
