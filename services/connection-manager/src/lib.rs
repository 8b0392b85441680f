//! The client connection manager: listeners, TLS, SASL, resource binding, and the sessions
//! bound on this process.
//!
//! Architecture invariant: this is the only crate that touches client sockets. It holds nothing
//! durable; killing it loses only its connections.

mod call_gate;
pub mod cluster;
pub mod config;
mod handlers;
pub mod heartbeat;
pub mod outbox;
mod rate;
pub mod registry;
mod router;
pub mod secrets;
pub mod server;
mod session;
pub mod shard_watch;
pub mod tls;

pub use cluster::Cluster;
pub use config::{C2sConfig, Limits, ResourceConflict, TlsSettings};
pub use handlers::SERVER_FEATURES;
pub use server::{C2sServer, Listeners, run};
pub use shard_watch::run_shard_watch;
