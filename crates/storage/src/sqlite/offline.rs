//! [`OfflineStore`](crate::OfflineStore) on SQLite.
//!
//! Pushes count and insert inside one `BEGIN IMMEDIATE` transaction, which holds the file's
//! write lock throughout, so the quota is exact even with several processes on one file.
//! Takes select and delete inside one as well, so every message is delivered exactly once.

use super::{BEGIN_WRITE, SqliteStore};
use crate::sql::offline::{OfflineSql, offline_store};

const SQL: OfflineSql = OfflineSql {
    begin_write: BEGIN_WRITE,
    lock_account: None,
    count_messages: "SELECT COUNT(*) FROM offline_messages WHERE domain = ?1 AND localpart = ?2",
    insert_message: "INSERT INTO offline_messages \
         (domain, localpart, stanza_xml, stamp_unix_ms) VALUES (?1, ?2, ?3, ?4)",
    take_messages: "SELECT stanza_xml, stamp_unix_ms FROM offline_messages \
         WHERE domain = ?1 AND localpart = ?2 ORDER BY id",
    delete_taken: Some("DELETE FROM offline_messages WHERE domain = ?1 AND localpart = ?2"),
};

offline_store!(store: SqliteStore, database: sqlx::Sqlite, sql: SQL);
