//! One client connection from accept to close: TLS (direct TLS), negotiation under the
//! handshake deadline, then the bound session's reader and writer tasks.

mod bind;
mod bound;
mod negotiate;
mod quiet;
mod sasl;
mod sasl2;
mod stream;
mod writer;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;
use xmpp_core::StreamErrorCondition;
use xmpp_stream::Transport;

use self::bind::BindOutcome;
use self::stream::{End, Reader, Stream, Writer};
use crate::server::C2sServer;

/// Serves one accepted connection. `permit` is the connection slot taken before `accept`; it
/// is released when this function returns.
pub(crate) async fn serve_connection(
    server: Arc<C2sServer>,
    tcp: TcpStream,
    peer: SocketAddr,
    direct_tls: bool,
    shutdown: CancellationToken,
    _permit: OwnedSemaphorePermit,
) {
    // Boxed, like the other rare steps below: a future is as large as its largest state, the
    // session's task lives as long as the session, and negotiation's state (a TLS handshake,
    // the negotiation stream) is the largest and over once a resource is bound.
    let Some((mut reader, writer, bound)) =
        Box::pin(open(&server, tcp, peer, direct_tls, &shutdown)).await
    else {
        return;
    };
    // The session's end, below, releases the binding from here on.
    let handle = bound.into_handle();
    let writer_task = tokio::spawn(writer::run_writer(
        writer,
        handle.control().clone(),
        server.config.limits.keepalive(),
    ));
    let _stop_writer = writer::StopOnDrop(handle.control().clone());
    bound::run_bound(&server, &mut reader, &handle, &shutdown).await;
    // RFC 6121 §4.5.2: the shard sends unavailable presence if the resource was available.
    Box::pin(bind::release(&server, &handle)).await;
    if let Err(e) = writer_task.await {
        tracing::warn!(error = %e, "session writer task failed");
    }
    tracing::info!(jid = %handle.jid(), "session closed");
}

/// TLS (direct TLS), then negotiation under the handshake deadline, up to a bound resource:
/// the stream's halves and what binding produced, or `None` when the connection ended first.
async fn open(
    server: &Arc<C2sServer>,
    tcp: TcpStream,
    peer: SocketAddr,
    direct_tls: bool,
    shutdown: &CancellationToken,
) -> Option<(Reader, Writer, BindOutcome)> {
    let _ = tcp.set_nodelay(true);
    let deadline = tokio::time::Instant::now() + server.config.limits.handshake_timeout();
    let conn = if direct_tls {
        // XEP-0368: TLS first, then the XML stream.
        match tokio::time::timeout_at(deadline, server.tls_acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "direct TLS handshake failed");
                return None;
            }
            Err(_) => return None,
        }
    } else {
        Transport::Plain(tcp)
    };
    let mut stream = Stream::new(conn, &server.config.limits);
    let negotiated = tokio::select! {
        r = tokio::time::timeout_at(deadline, Box::pin(negotiate::negotiate(server, &mut stream))) => match r {
            Ok(r) => r,
            Err(_) => Err(End::error(StreamErrorCondition::ConnectionTimeout, "negotiation took too long")),
        },
        () = shutdown.cancelled() => Err(End::error(StreamErrorCondition::SystemShutdown, "server shutting down")),
    };
    let bound = match negotiated {
        Ok(bound) => bound,
        Err(end) => {
            if let End::Error(err) = &end {
                tracing::debug!(%peer, error = %err, "stream closed during negotiation");
            }
            stream.finish(&end, &server.config.domain).await;
            return None;
        }
    };
    let Some((reader, writer)) = stream.into_parts() else {
        Box::pin(bound.release()).await;
        return None;
    };
    Some((reader, writer, bound))
}
