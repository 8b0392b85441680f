//! [`AccountStore`](crate::AccountStore) on SQLite.
//!
//! Writes run in `BEGIN IMMEDIATE` transactions: they take the write lock up front, so a
//! concurrent writer in another process makes them wait for the busy timeout instead of
//! failing when a read inside a deferred transaction would have to be upgraded to a write.
//! Holding that lock, a credential replacement only has to check that the account exists.

use super::{BEGIN_WRITE, SqliteStore};
use crate::sql::accounts::{AccountSql, account_store};

const ACCOUNT_EXISTS: &str = "SELECT 1 FROM accounts WHERE domain = ?1 AND localpart = ?2";

const SQL: AccountSql = AccountSql {
    begin_write: BEGIN_WRITE,
    insert_account: "INSERT INTO accounts (domain, localpart) VALUES (?1, ?2)",
    account_exists: ACCOUNT_EXISTS,
    lock_account: ACCOUNT_EXISTS,
    delete_account: "DELETE FROM accounts WHERE domain = ?1 AND localpart = ?2",
    // Default BINARY collation compares UTF-8 bytes, which is the order of `AccountName`'s
    // `Ord`.
    list_accounts: "SELECT localpart, domain FROM accounts ORDER BY localpart, domain",
    list_domain_accounts: "SELECT localpart, domain FROM accounts WHERE domain = ?1 \
         ORDER BY localpart, domain",
    insert_credentials: "INSERT INTO scram_credentials \
         (domain, localpart, hash, salt, iterations, stored_key, server_key) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    delete_credentials: "DELETE FROM scram_credentials WHERE domain = ?1 AND localpart = ?2",
    select_credentials: "SELECT salt, iterations, stored_key, server_key \
         FROM scram_credentials WHERE domain = ?1 AND localpart = ?2 AND hash = ?3",
};

account_store!(store: SqliteStore, database: sqlx::Sqlite, sql: SQL);
