//! One shard's client: the generated gRPC client over a [`ShardChannel`], or the shard's
//! service itself, handed each typed request in place.
//!
//! A shard in the caller's process (`starling dev`) could be reached through its generated
//! server called in place ([`crate::in_process::direct`]), but that still encodes every
//! request and answer as protobuf and wraps them in `http` requests and bodies: perf on
//! `starling dev` during one-to-one messages at 25,000/s put about 11% of the server's CPU
//! there, each message being one `StanzaIn` call. [`ShardClient::InPlace`] passes the
//! `tonic::Request` itself, its metadata (the trace context) included, to the service's
//! trait method: the shard reads the same message and the same metadata, never encoded. As
//! with `direct`, the call runs in the caller's task and a panic in the handler unwinds it.

use std::fmt;
use std::sync::Arc;

use tonic::{IntoRequest, Response, Status};

use crate::transport::ShardChannel;
use crate::v1;
use crate::v1::roster_presence_client::RosterPresenceClient;
use crate::v1::roster_presence_server::RosterPresence;

/// A client of one roster-presence shard. Cheap to clone.
#[derive(Clone)]
pub enum ShardClient {
    /// Over gRPC: a shard in another process, or any shard behind a [`ShardChannel`].
    Grpc(RosterPresenceClient<ShardChannel>),
    /// The shard's service in this process, called with the typed request.
    InPlace(Arc<dyn RosterPresence>),
}

impl fmt::Debug for ShardClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Grpc(client) => f.debug_tuple("Grpc").field(client).finish(),
            Self::InPlace(_) => f.write_str("InPlace"),
        }
    }
}

/// The calls callers make, each with the generated client's signature, so that a caller
/// does not tell the two kinds apart.
macro_rules! calls {
    ($($(#[$doc:meta])* $method:ident($request:ty) -> $response:ty;)*) => {
        impl ShardClient {
            $(
                $(#[$doc])*
                pub async fn $method(
                    &mut self,
                    request: impl IntoRequest<$request>,
                ) -> Result<Response<$response>, Status> {
                    match self {
                        Self::Grpc(client) => client.$method(request).await,
                        Self::InPlace(service) => service.$method(request.into_request()).await,
                    }
                }
            )*
        }
    };
}

calls! {
    /// `SessionBound`: a client bound a resource (RFC 6120 §7).
    session_bound(v1::SessionBoundRequest) -> v1::SessionBoundResponse;
    /// `SessionClosed`: a session ended (RFC 6121 §4.5.2).
    session_closed(v1::SessionClosedRequest) -> v1::SessionClosedResponse;
    /// `StanzaIn`: one stanza to process.
    stanza_in(v1::StanzaInRequest) -> v1::StanzaInResponse;
    /// `Incarnation`: which run of the shard process answers.
    incarnation(v1::IncarnationRequest) -> v1::IncarnationResponse;
}
