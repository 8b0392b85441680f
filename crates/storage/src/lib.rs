//! Durable storage behind small traits, one per concern.
//!
//! Services depend on the traits (today [`AccountStore`]), never on a database, so the same
//! code runs on the embedded SQLite store of `starling dev` and on Postgres in a cluster.
//! Every implementation must pass the same backend-independent test suite
//! ([`conformance`], compiled for this crate's tests and behind the `conformance` feature for
//! others), which is what makes the backends interchangeable.
//!
//! Only salted SCRAM keys are ever stored (salt, iterations, StoredKey, ServerKey), never a
//! password or a salted password.

mod account;
mod error;
mod sqlite;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

pub use account::{AccountName, AccountStore};
pub use error::StoreError;
pub use sqlite::SqliteStore;
