//! [`PendingSubscriptionStore`](crate::PendingSubscriptionStore) on SQLite. Each operation is
//! a single statement, atomic on its own.

use super::SqliteStore;
use crate::sql::pending::{PendingSql, pending_store};

const SQL: PendingSql = PendingSql {
    upsert_pending: "INSERT INTO pending_subscriptions \
         (domain, localpart, contact, stanza_xml) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (domain, localpart, contact) DO UPDATE SET stanza_xml = excluded.stanza_xml",
    delete_pending: "DELETE FROM pending_subscriptions \
         WHERE domain = ?1 AND localpart = ?2 AND contact = ?3",
    // BINARY collation: byte order, as the trait promises.
    select_pending: "SELECT contact, stanza_xml FROM pending_subscriptions \
         WHERE domain = ?1 AND localpart = ?2 ORDER BY contact",
};

pending_store!(store: SqliteStore, sql: SQL);
