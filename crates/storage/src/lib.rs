//! Durable storage behind small traits, one per concern.
//!
//! Services depend on the traits, never on a database, so the same code runs on the embedded
//! SQLite store of `starling dev` and on Postgres in a cluster:
//!
//! - [`AccountStore`]: accounts and their SCRAM credentials;
//! - [`RosterStore`]: rosters and their versions (RFC 6121 §2);
//! - [`PendingSubscriptionStore`]: inbound subscription requests awaiting an answer
//!   (RFC 6121 §3.1.3);
//! - [`OfflineStore`]: messages kept for an account that is offline (RFC 6121 §8.5.2.2.1).
//!
//! Everything stored for an account goes when the account is deleted.
//!
//! Every implementation must pass the same backend-independent test suite
//! (`conformance`, compiled for this crate's tests and behind the `conformance` feature for
//! others), which is what makes the backends interchangeable.
//!
//! Only salted SCRAM keys are ever stored (salt, iterations, StoredKey, ServerKey), never a
//! password or a salted password.

mod account;
mod error;
mod offline;
mod pending;
mod roster;
mod sqlite;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

pub use account::{AccountName, AccountStore};
pub use error::StoreError;
pub use offline::{OfflineMessage, OfflineStore};
pub use pending::PendingSubscriptionStore;
pub use roster::{RosterChanges, RosterEntry, RosterStore, RosterVersion};
pub use sqlite::SqliteStore;
