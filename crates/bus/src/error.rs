//! What can go wrong on the bus.

/// A bus operation that failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    /// The bus cannot be reached (a networked bus lost its server); the operation may
    /// succeed later.
    #[error("the bus is unavailable: {0}")]
    Unavailable(String),
    /// The bus is configured in a way it cannot work with (an invalid URL, a number of URLs
    /// that does not fit the mode); retrying will not help.
    #[error("the bus is misconfigured: {0}")]
    Config(String),
    /// The inbox these subscriptions belong to has been dropped.
    #[error("the inbox is closed")]
    Closed,
}
