//! [`OfflineStore`](crate::OfflineStore) on Postgres.
//!
//! Counting and inserting are two statements, and at `READ COMMITTED` two pushes could both
//! count `quota - 1` and both insert. So pushes and takes first lock the owner's `accounts`
//! row (`SELECT .. FOR UPDATE`) and hold it until they commit: one account's pushes and takes
//! run one after the other, which makes the quota exact (RFC 6121 §8.5.2.2.1 lets the server
//! bounce what it will not store) and gives every message to exactly one take. Other
//! accounts are not held up. Since one account's pushes commit in the order they got their
//! identity values, ordering by `id` is arrival order.

use super::{BEGIN_WRITE, LOCK_ACCOUNT, PgStore};
use crate::sql::offline::{OfflineSql, offline_store};

const SQL: OfflineSql = OfflineSql {
    begin_write: BEGIN_WRITE,
    lock_account: Some(LOCK_ACCOUNT),
    count_messages: "SELECT COUNT(*) FROM offline_messages WHERE domain = $1 AND localpart = $2",
    insert_message: "INSERT INTO offline_messages \
         (domain, localpart, stanza_xml, stamp_unix_ms) VALUES ($1, $2, $3, $4)",
    // Deletes and returns the account's messages in one statement, in arrival order.
    take_messages: "WITH taken AS (\
         DELETE FROM offline_messages WHERE domain = $1 AND localpart = $2 \
         RETURNING id, stanza_xml, stamp_unix_ms) \
         SELECT stanza_xml, stamp_unix_ms FROM taken ORDER BY id",
    delete_taken: None,
};

offline_store!(store: PgStore, database: sqlx::Postgres, sql: SQL);
