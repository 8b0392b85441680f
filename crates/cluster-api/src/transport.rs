//! How a gRPC client reaches a shard: one transport type for a shard in another process and
//! for one in this process behind its generated server, so that every such caller holds the
//! same generated client, `RosterPresenceClient<ShardChannel>` (inside
//! [`crate::ShardClient::Grpc`]), whichever way the deployment is laid out.

use tonic::body::Body;
use tonic::codegen::http::{Request, Response};
use tonic::transport::{Channel, Error};
use tower::util::BoxCloneSyncService;

/// A gRPC transport to one shard: an HTTP/2 [`Channel`] ([`over_http2`]), or the shard's
/// generated server called in place ([`crate::in_process::direct`]). The box costs one
/// allocation per call, next to the call's protobuf encoding. Its error is the channel's
/// (a direct call has none); a shard's own answer, error or not, is a gRPC status in the
/// response. (A concrete error type, not a boxed `dyn Error`: with the latter, rustc cannot
/// prove the callers' async handlers `Send`.)
pub type ShardChannel = BoxCloneSyncService<Request<Body>, Response<Body>, Error>;

/// A shard reached over HTTP/2: in another process ([`crate::remote::channels`]) or at the
/// end of in-process pipes ([`crate::in_process::channel`]).
pub fn over_http2(channel: Channel) -> ShardChannel {
    BoxCloneSyncService::new(channel)
}
