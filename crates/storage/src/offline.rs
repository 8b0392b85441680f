//! Offline messages: messages for an account with no available resource, kept until it next
//! comes online (RFC 6121 §8.5.2.2.1, §8.5.3.2.1; XEP-0160).

use std::fmt;

use async_trait::async_trait;

use crate::{AccountName, StoreError};

/// A stored message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfflineMessage {
    /// The message stanza as serialized XML, exactly as pushed: the store does not parse it.
    pub stanza_xml: String,
    /// When the server received it, in milliseconds since the Unix epoch, for the delay
    /// stamp added on delivery (XEP-0203).
    pub stamp_unix_ms: i64,
}

/// Offline message storage, a queue per account.
///
/// RFC 6121 §8.5.2.2.1 leaves the server a choice between storing a message and bouncing it
/// with `<service-unavailable/>`; the quota turns "the account has too much stored" into the
/// second choice, so one sender cannot fill the disk.
///
/// Writes for an account that does not exist fail with [`StoreError::NotFound`] naming the
/// account. Deleting an account deletes its messages.
#[async_trait]
pub trait OfflineStore: Send + Sync + fmt::Debug + 'static {
    /// Appends a message to `owner`'s queue.
    ///
    /// Fails with [`StoreError::QuotaExceeded`] naming the account, storing nothing, when
    /// `owner` already has `quota` messages or more. The check and the append are one atomic
    /// step, so concurrent pushes never take the queue beyond the quota.
    async fn push_offline(
        &self,
        owner: &AccountName,
        stanza_xml: &str,
        stamp_unix_ms: i64,
        quota: usize,
    ) -> Result<(), StoreError>;

    /// Returns and deletes all of `owner`'s messages, in the order they were pushed (not by
    /// stamp), atomically: of two concurrent takes, each message goes to exactly one.
    async fn take_offline(&self, owner: &AccountName) -> Result<Vec<OfflineMessage>, StoreError>;

    /// How many messages `owner` has stored.
    async fn offline_count(&self, owner: &AccountName) -> Result<usize, StoreError>;
}
