//! A bound session's reading side: it reads the client's stanzas, applies the rate limit and
//! idle timeout, and hands each stanza to the router. The writer runs in its own task
//! ([`super::writer`]).

use std::sync::Arc;
use tracing::Instrument;

use service_kit::telemetry;
use tokio_util::sync::CancellationToken;
use xmpp_core::{StreamError, StreamErrorCondition};
use xmpp_stream::{ReadError, StreamEvent};

use super::quiet::QuietTimer;
use super::stream::Reader;
use crate::rate::TokenBucket;
use crate::registry::SessionHandle;
use crate::router;
use crate::server::C2sServer;

/// Reads until the stream ends, then returns; the caller unregisters the session.
///
/// Per stanza it waits for the next stanza, for termination and for the idle timeout at
/// once, with no lock taken: termination wakes this task through the session's control
/// ([`reader_terminated`]), the idle timer moves only once per interval ([`QuietTimer`]),
/// and the server's shutdown reaches a bound session through its control too
/// (`server::run` terminates every registered session), so the shutdown token, shared by
/// every session, is looked at only here at the start.
///
/// [`reader_terminated`]: crate::registry::SessionControl::reader_terminated
pub(crate) async fn run_bound(
    server: &Arc<C2sServer>,
    reader: &mut Reader,
    session: &SessionHandle,
    shutdown: &CancellationToken,
) {
    let control = session.control().clone();
    // Bound after the server terminated its registered sessions: the token says so.
    if shutdown.is_cancelled() {
        control.terminate(StreamError::new(StreamErrorCondition::SystemShutdown));
        return;
    }
    let limits = &server.config.limits;
    let mut bucket = TokenBucket::new(limits.stanza_rate, limits.stanza_burst);
    let mut idle = limits.idle_timeout().map(QuietTimer::new);
    loop {
        // Idle counts from when the reader starts waiting, after the last stanza's routing.
        if let Some(idle) = &mut idle {
            idle.touch();
        }
        let event = tokio::select! {
            biased;
            () = control.reader_terminated() => return,
            () = QuietTimer::elapsed(&mut idle) => {
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
                        () = control.reader_terminated() => return,
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
