//! The contract between Starling's roles. Today: the shard function that decides which
//! roster-presence shard owns a user. The gRPC services (proto/starling/v1) and their
//! conversions to `xmpp-core` types join it with the cluster work.
//!
//! API boundary: depends only on `xmpp-core`, so every role, the load generator and external
//! tooling can compute the same placement.

pub mod shard;

pub use shard::{ShardCount, shard_of};
