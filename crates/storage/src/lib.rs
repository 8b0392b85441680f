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
//! Two backends implement every trait:
//!
//! - [`SqliteStore`]: one SQLite file, for `starling dev` and single-node installs; it
//!   migrates its schema when opened (`migrations/sqlite`);
//! - [`PgStore`]: PostgreSQL, shared by the pods of a cluster, with a connection pool
//!   ([`PgPoolSettings`]); migrating (`migrations/postgres`) is a separate step,
//!   [`PgStore::migrate`]. Writers on different pods are serialized per account by row
//!   locks, so concurrent roster changes each get their own version and the offline quota
//!   stays exact.
//!
//! Every implementation must pass the same backend-independent test suite
//! (`conformance`, compiled for this crate's tests and behind the `conformance` feature for
//! others), which is what makes the backends interchangeable. The Postgres store's tests run
//! against the server named by `DATABASE_URL` (`scripts/services up` starts one and prints
//! it), each in a schema of its own, and fail if it is not set.
//!
//! Only salted SCRAM keys are ever stored (salt, iterations, StoredKey, ServerKey), never a
//! password or a salted password.

mod account;
mod error;
mod offline;
mod pending;
mod postgres;
mod roster;
mod sql;
mod sqlite;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

pub use account::{AccountName, AccountStore};
pub use error::StoreError;
pub use offline::{OfflineMessage, OfflineStore};
pub use pending::PendingSubscriptionStore;
pub use postgres::{PgPoolSettings, PgStore};
pub use roster::{RosterChanges, RosterEntry, RosterStore, RosterVersion};
pub use sqlite::SqliteStore;
