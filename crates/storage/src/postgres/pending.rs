//! [`PendingSubscriptionStore`](crate::PendingSubscriptionStore) on Postgres. Each operation
//! is a single statement, atomic on its own: `INSERT .. ON CONFLICT DO UPDATE` never fails on
//! a concurrent insert of the same key, so of two requests from one contact arriving at once
//! the later one is kept (one per contact, RFC 6121 §3.1.3).

use super::PgStore;
use crate::sql::pending::{PendingSql, pending_store};

const SQL: PendingSql = PendingSql {
    upsert_pending: "INSERT INTO pending_subscriptions \
         (domain, localpart, contact, stanza_xml) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (domain, localpart, contact) DO UPDATE SET stanza_xml = excluded.stanza_xml",
    delete_pending: "DELETE FROM pending_subscriptions \
         WHERE domain = $1 AND localpart = $2 AND contact = $3",
    // The "C" collation: byte order, as the trait promises.
    select_pending: "SELECT contact, stanza_xml FROM pending_subscriptions \
         WHERE domain = $1 AND localpart = $2 ORDER BY contact",
};

pending_store!(store: PgStore, sql: SQL);
