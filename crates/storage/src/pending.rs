//! Inbound subscription requests waiting for the user's answer (RFC 6121 §3.1.3).

use std::fmt;

use async_trait::async_trait;

use crate::{AccountName, StoreError};

/// Storage of pending inbound subscription requests.
///
/// RFC 6121 §3.1.3 rule 4 requires the server to keep "the complete presence stanza
/// comprising the subscription request, including any extended content", and to deliver it
/// every time the user next comes online until the user approves or denies it, so it has to
/// survive restarts. Only one request per contact is kept ("subscription request spam"
/// protection in the same rule): a newer one replaces the older.
///
/// Writes for an account that does not exist fail with [`StoreError::NotFound`] naming the
/// account. Deleting an account deletes its requests.
#[async_trait]
pub trait PendingSubscriptionStore: Send + Sync + fmt::Debug + 'static {
    /// Stores the request from `contact` (a bare JID), replacing an older one from the same
    /// contact.
    async fn put_pending_in(
        &self,
        owner: &AccountName,
        contact: &str,
        stanza_xml: &str,
    ) -> Result<(), StoreError>;

    /// Forgets the request from `contact` once the user approved or denied it (RFC 6121
    /// §3.1.5, §3.2.2) or the contact cancelled it (RFC 6121 §3.3.3). Absent is not an error:
    /// the outcome is the same.
    async fn remove_pending_in(&self, owner: &AccountName, contact: &str)
    -> Result<(), StoreError>;

    /// All requests waiting for `owner`, as `(contact, stanza_xml)` sorted by contact
    /// (comparing bytes), for redelivery when the user comes online.
    async fn pending_in(&self, owner: &AccountName) -> Result<Vec<(String, String)>, StoreError>;
}
