//! A bound session's reading side: it reads the client's stanzas, applies the rate limit and
//! idle timeout, and hands each stanza to the router. The writer runs in its own task
//! ([`super::writer`]).

use std::sync::Arc;
use tracing::Instrument;

use service_kit::telemetry;
use tokio_util::sync::CancellationToken;
use xmpp_core::{StreamError, StreamErrorCondition};
use xmpp_stream::{ReadError, StreamEvent};

use super::stream::Reader;
use crate::rate::TokenBucket;
use crate::registry::SessionHandle;
use crate::router;
use crate::server::C2sServer;

/// Reads until the stream ends, then returns; the caller unregisters the session.
pub(crate) async fn run_bound(
    server: &Arc<C2sServer>,
    reader: &mut Reader,
    session: &SessionHandle,
    shutdown: &CancellationToken,
) {
    let control = session.control().clone();
    let limits = &server.config.limits;
    let mut bucket = TokenBucket::new(limits.stanza_rate, limits.stanza_burst);
    let idle_timeout = limits.idle_timeout();
    loop {
        let idle = async {
            match idle_timeout {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        let event = tokio::select! {
            biased;
            () = control.terminated() => return,
            () = shutdown.cancelled() => {
                control.terminate(StreamError::new(StreamErrorCondition::SystemShutdown));
                return;
            }
            () = idle => {
                // RFC 6120 §4.6.1 / §4.9.3.4: no traffic, not even a whitespace ping.
                control.terminate(StreamError::with_text(StreamErrorCondition::ConnectionTimeout, "idle timeout"));
                return;
            }
            event = reader.next() => event,
        };
        match event {
            Ok(StreamEvent::Element(element)) => {
                let wait = bucket.take();
                if !wait.is_zero() {
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = control.terminated() => return,
                    }
                }
                // One span per client stanza: the root of the stanza's trace, carried to the
                // shard over gRPC and back over the bus; made only when spans are exported.
                let span = telemetry::exported_span(|| {
                    tracing::info_span!("c2s.stanza", name = element.name())
                });
                // Boxed: routing is the largest state of the session's future (a gRPC call,
                // about 3.4 KB), and inline it would be held by every idle session.
                let routed = Box::pin(router::from_client(server, session, element))
                    .instrument(span)
                    .await;
                if let Err(error) = routed {
                    control.terminate(error);
                    return;
                }
            }
            Ok(StreamEvent::Keepalive) => {}
            Ok(StreamEvent::Close) => {
                // §4.4: the client closed its stream; close ours after what is queued.
                session.end();
                return;
            }
            Ok(StreamEvent::Open(_)) => {
                control.terminate(StreamError::with_text(
                    StreamErrorCondition::NotWellFormed,
                    "unexpected stream header",
                ));
                return;
            }
            Err(ReadError::Stream(error)) => {
                tracing::debug!(jid = %session.jid(), %error, "closing stream on bad input");
                control.terminate(error);
                return;
            }
            Err(ReadError::Eof | ReadError::Io(_)) => {
                control.terminate(StreamError::with_text(
                    StreamErrorCondition::UndefinedCondition,
                    "connection lost",
                ));
                return;
            }
        }
    }
}
