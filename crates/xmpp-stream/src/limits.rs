//! Resource limits the reader enforces on what a peer sends.
//!
//! An XML stream is unbounded by design (RFC 6120 §4.1), so every per-connection resource the
//! peer can make us spend has to be capped explicitly. Exceeding a limit is a local service
//! policy violation: the stream is closed with `<policy-violation/>` (RFC 6120 §4.9.3.14).

/// Limits on one incoming XML stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReaderLimits {
    /// The most bytes one top-level unit may take on the wire: a stanza or other first-level
    /// element from its `<` to its closing `>` (RFC 6120 §13.12, item 4), the stream header
    /// (with the XML declaration before it), or one run of whitespace between elements. It
    /// bounds the reader's memory per connection, because it is enforced below the XML parser.
    pub max_stanza_bytes: usize,
    /// The deepest nesting allowed inside a top-level element; the top-level element itself
    /// is at depth 1. Deep trees cost stack and heap in every component that walks them.
    pub max_depth: usize,
    /// The most attributes (namespace declarations included) allowed on one element.
    pub max_attributes: usize,
}

impl ReaderLimits {
    /// 256 KiB. RFC 6120 §13.12 (item 4) asks servers to make the stanza size limit
    /// configurable, measured "from the opening `<` … to the closing `>`", and never below
    /// 10000 bytes; 256 KiB leaves room for avatars and large forms.
    pub const DEFAULT_MAX_STANZA_BYTES: usize = 256 * 1024;
    /// Real stanzas nest a handful of levels (XHTML-IM, forwarded messages, data forms).
    pub const DEFAULT_MAX_DEPTH: usize = 64;
    /// Real elements carry a handful of attributes.
    pub const DEFAULT_MAX_ATTRIBUTES: usize = 64;
}

impl Default for ReaderLimits {
    fn default() -> Self {
        Self {
            max_stanza_bytes: Self::DEFAULT_MAX_STANZA_BYTES,
            max_depth: Self::DEFAULT_MAX_DEPTH,
            max_attributes: Self::DEFAULT_MAX_ATTRIBUTES,
        }
    }
}
