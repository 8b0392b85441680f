//! Received TLS bytes, framed into records (RFC 8446 §5.1: a 5-byte header whose last two
//! bytes are the payload's length): what the handshake driver and [`super::Records`] both
//! read into, so that how much the next record needs is decided in one place.

use std::ops::Range;

use super::protection::HEADER_LEN;

/// Bytes asked of the socket at once when the next record does not need more.
const READ_CHUNK: usize = 4096;

/// `buf[..end]` is filled; `buf[start..end]` is not yet processed.
#[derive(Default)]
pub(super) struct RecordBuffer {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl RecordBuffer {
    /// The length, header included, that the next record's header claims, once it is in.
    pub(super) fn next_record_len(&self) -> Option<usize> {
        let pending = &self.buf[self.start..self.end];
        (pending.len() >= HEADER_LEN)
            .then(|| HEADER_LEN + u16::from_be_bytes([pending[3], pending[4]]) as usize)
    }

    /// Bytes not yet processed.
    pub(super) fn pending(&self) -> usize {
        self.end - self.start
    }

    /// Room to read into, after the unprocessed bytes moved to the front: at least the rest
    /// of the next record, and a chunk more. Bytes before the unprocessed ones are dropped,
    /// so the caller must be done with what [`Self::consume`] handed out.
    pub(super) fn spare(&mut self) -> &mut [u8] {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let wanted = self.next_record_len().unwrap_or(HEADER_LEN);
        let size = (self.end + READ_CHUNK).max(wanted);
        if self.buf.len() < size {
            self.buf.resize(size, 0);
        }
        &mut self.buf[self.end..]
    }

    /// Counts `n` bytes read into [`Self::spare`].
    pub(super) fn filled(&mut self, n: usize) {
        self.end += n;
    }

    /// Takes the next `n` unprocessed bytes; where they lie, for [`Self::bytes_mut`].
    pub(super) fn consume(&mut self, n: usize) -> Range<usize> {
        debug_assert!(n <= self.pending());
        self.start += n;
        self.start - n..self.start
    }

    /// Bytes handed out by [`Self::consume`], until the next [`Self::spare`].
    pub(super) fn bytes_mut(&mut self, range: Range<usize>) -> &mut [u8] {
        &mut self.buf[range]
    }

    /// Gives the storage back when nothing is unprocessed (an idle connection holds none).
    pub(super) fn release_if_drained(&mut self) {
        if self.pending() == 0 {
            *self = Self::default();
        }
    }

    /// Bytes held, processed or not.
    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.buf.capacity()
    }
}
