//! gRPC inside one process: a tonic service served over in-memory pipes.
//!
//! The one-process `starling dev` mode runs every role in one process. Rather than give each
//! service a second, local interface, its roles talk through the same generated clients as in
//! the cluster, over a [`Channel`] whose connections are [`tokio::io::duplex`] pipes instead
//! of TCP sockets. Requests still pass through HTTP/2 and protobuf encoding, so the one-process
//! mode exercises exactly the code paths of the cluster (and tests can drive a real server
//! without binding ports).

use std::convert::Infallible;
use std::io;

use hyper_util::rt::TokioIo;
use tokio::io::DuplexStream;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::body::Body;
use tonic::codegen::http::{Request, Response, Uri};
use tonic::server::NamedService;
use tonic::transport::{Channel, Endpoint, Server};
use tower::Service;

/// The bytes each direction of one connection buffers before its writer waits for the reader.
/// 64 KiB holds HTTP/2's default flow-control window (65,535 bytes), so a window's worth of
/// frames never stalls on the pipe itself; flow control, not the pipe, paces large messages.
/// More would only cost memory per connection.
const DUPLEX_BUFFER_BYTES: usize = 64 * 1024;

/// New connections waiting for the server task to accept them. A channel holds one
/// connection and opens another only after losing it, so a few slots are plenty; when they
/// are taken, connecting waits.
const PENDING_CONNECTIONS: usize = 4;

/// The authority of the in-process endpoint: any valid URI would do, since the connector
/// ignores it; it shows up only as the HTTP/2 `:authority` of requests.
const ENDPOINT: &str = "http://in-process";

/// A channel to `service`, served by a task of its own on in-memory pipes.
///
/// Pass the generated server type, e.g. `RosterPresenceServer::new(shard)`, and hand the
/// channel to the matching generated client. The channel connects lazily and reconnects like
/// any tonic channel; clones share the connection. The server task ends once the channel and
/// all its clones are dropped and the last connection has closed.
///
/// Must be called from within a Tokio runtime: the server task and the channel's worker are
/// spawned on it.
pub fn channel<S>(service: S) -> Channel
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let (connect, accept) = mpsc::channel::<DuplexStream>(PENDING_CONNECTIONS);
    tokio::spawn(async move {
        let incoming = ReceiverStream::new(accept).map(Ok::<_, Infallible>);
        // Serving fails only when accepting a connection does, and neither this stream nor
        // tonic's per-connection setup can fail.
        let _ = Server::builder()
            .http2_max_pending_accept_reset_streams(Some(crate::DEFAULT_MAX_PENDING_ACCEPT_RESETS))
            .initial_connection_window_size(crate::DEFAULT_CONNECTION_WINDOW_BYTES)
            .add_service(service)
            .serve_with_incoming(incoming)
            .await;
    });
    Endpoint::from_static(ENDPOINT)
        .initial_connection_window_size(crate::DEFAULT_CONNECTION_WINDOW_BYTES)
        .connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
            let connect = connect.clone();
            async move {
                let (client, server) = tokio::io::duplex(DUPLEX_BUFFER_BYTES);
                connect.send(server).await.map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::ConnectionRefused,
                        "the in-process server has stopped",
                    )
                })?;
                Ok::<_, io::Error>(TokioIo::new(client))
            }
        }))
}

#[cfg(test)]
mod tests;
