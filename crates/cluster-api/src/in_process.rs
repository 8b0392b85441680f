//! gRPC inside one process: a generated service called in place, or served over in-memory
//! HTTP/2 pipes.
//!
//! The one-process `starling dev` mode runs every role in one process, its roles talking
//! through the same calls and messages as in the cluster. [`direct`] hands the generated
//! client the generated server itself as its transport: each call is still a
//! protobuf-encoded gRPC request with its metadata (trace context included), routed by path
//! and answered with a gRPC status, but no HTTP/2 framing, flow control, pipe or connection
//! task stands between the two, which took about a quarter of the server's instructions per
//! presence delivery (ARCHITECTURE.md, "Presence broadcast cost"). `starling dev` now goes
//! one step further and skips the encoding too ([`crate::ShardClient::InPlace`]); `direct`
//! stays for comparing the paths in tests.
//!
//! The call runs in the caller's task, as the cluster's calls wait in it for their answer.
//! Dropping it drops the server's future, as a reset HTTP/2 stream does; a panic in the
//! server's handler unwinds the caller's task (a session), where over HTTP/2 it ended only
//! the request's own task.
//!
//! [`channel`] keeps the whole HTTP/2 path in memory (connections are [`tokio::io::duplex`]
//! pipes instead of TCP sockets), so that tests can drive a real server through it without
//! binding ports.

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
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};

use crate::transport::ShardChannel;

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

/// What both transports serve: a tonic-generated server such as
/// `RosterPresenceServer::new(shard)`, which answers every request (a failure is a gRPC
/// status in the response, so its own error type is `Infallible`).
pub trait GeneratedServer:
    Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future: Send + 'static>
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> GeneratedServer for S where
    S: Service<
            Request<Body>,
            Response = Response<Body>,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

/// A channel to `service`, served by a task of its own on in-memory pipes.
///
/// Pass the generated server type, e.g. `RosterPresenceServer::new(shard)`, and hand the
/// channel to the matching generated client. The channel connects lazily and reconnects like
/// any tonic channel; clones share the connection. The server task ends once the channel and
/// all its clones are dropped and the last connection has closed.
///
/// Must be called from within a Tokio runtime: the server task and the channel's worker are
/// spawned on it.
pub fn channel<S: GeneratedServer + NamedService>(service: S) -> Channel {
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

/// A transport that calls `service`, a generated server such as
/// `RosterPresenceServer::new(shard)`, in place (see the module documentation). Its calls
/// have no deadline of their own, as over [`channel`]: the caller's limits apply.
pub fn direct<S: GeneratedServer>(service: S) -> ShardChannel {
    BoxCloneSyncService::new(
        service.map_err(|never: Infallible| -> tonic::transport::Error { match never {} }),
    )
}

#[cfg(test)]
mod tests;
