//! The roster-presence service: the authority for the users of one shard (RFC 6121).
//!
//! A shard owns users by bare JID ([`cluster_api::shard_of`]). For them it keeps the rosters
//! and subscription states (durable, in [`storage`]), the online resources with their
//! availability, priority, last presence and directed-presence lists (in memory, rebuilt from
//! the connection managers' registrations), and it makes every routing decision for stanzas
//! addressed to them (RFC 6121 §8).
//!
//! Code map:
//! - [`shard`]: the entry points (session bound/closed, outbound presence, inbound stanzas)
//!   and the per-user serialization of state changes.
//! - [`sessions`]: the online resources of the shard's users.
//! - [`roster`]: roster get/set/remove and versioning (§2).
//! - [`roster_cache`]: the rosters of online users, held in memory for presence.
//! - [`subscription`]: subscription requests and answers (§3, Appendix A).
//! - [`presence`]: initial, subsequent, unavailable and directed presence, probes (§4).
//! - [`delivery`]: messages and IQs addressed to a user (§8).
//! - [`account_iq`]: IQs the server answers on a user's behalf.
//! - [`service`]: the gRPC service over a shard, which carries out the effects.
//! - [`in_process`]: a shard served in the caller's process over in-process gRPC.
//! - [`effects`]: what processing decides to send, carried out by the caller once the
//!   user's state is released.
//!
//! Boundary: this crate decides, it does no network I/O. The gRPC service that receives
//! stanzas and the bus that carries deliveries are plugged in by the caller through
//! [`effects::Effect`].

pub mod account_iq;
pub mod config;
pub mod delivery;
pub mod effects;
pub mod in_process;
pub mod liveness;
pub mod presence;
pub mod roster;
pub mod roster_cache;
pub mod service;
pub mod sessions;
pub mod shard;
pub mod subscription;

pub use config::ShardConfig;
pub use effects::{Effect, Effects, Target};
pub use service::{Ownership, RosterPresenceService};
pub use sessions::SessionKey;
pub use shard::{Shard, Stores};
