//! [`AccountStore`](crate::AccountStore) on Postgres.
//!
//! Replacing credentials deletes and re-inserts one row per family. Two replacements of one
//! account at once would both delete, then collide on inserting, so each first locks the
//! account row (`FOR UPDATE`): the second waits for the first to commit and then replaces its
//! result, and a concurrent deletion of the account is seen as `NotFound`.

use super::{BEGIN_WRITE, LOCK_ACCOUNT, PgStore};
use crate::sql::accounts::{AccountSql, account_store};

const SQL: AccountSql = AccountSql {
    begin_write: BEGIN_WRITE,
    insert_account: "INSERT INTO accounts (domain, localpart) VALUES ($1, $2)",
    account_exists: "SELECT 1 FROM accounts WHERE domain = $1 AND localpart = $2",
    lock_account: LOCK_ACCOUNT,
    delete_account: "DELETE FROM accounts WHERE domain = $1 AND localpart = $2",
    // The columns use the "C" collation, so this is byte order: the order of `AccountName`'s
    // `Ord`.
    list_accounts: "SELECT localpart, domain FROM accounts ORDER BY localpart, domain",
    list_domain_accounts: "SELECT localpart, domain FROM accounts WHERE domain = $1 \
         ORDER BY localpart, domain",
    insert_credentials: "INSERT INTO scram_credentials \
         (domain, localpart, hash, salt, iterations, stored_key, server_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    delete_credentials: "DELETE FROM scram_credentials WHERE domain = $1 AND localpart = $2",
    select_credentials: "SELECT salt, iterations, stored_key, server_key \
         FROM scram_credentials WHERE domain = $1 AND localpart = $2 AND hash = $3",
};

account_store!(store: PgStore, database: sqlx::Postgres, sql: SQL);
