//! The byte source under the XML parser: a buffered reader that counts the bytes consumed
//! since the last top-level boundary and refuses to hand out more than the stanza size limit.
//!
//! quick-xml has no input limit of its own: it appends to its event buffer until it finds the
//! `>` that ends a tag, however long that takes. Enforcing the limit here, below the parser,
//! means a single gigantic tag with no `>` fails after `max_stanza_bytes` bytes instead of
//! exhausting memory (RFC 6120 §13.12, item 4; the stream error is `<policy-violation/>`,
//! §4.9.3.14).
//!
//! The source also checks every consumed byte against the XML 1.0 `Char` production (XML
//! §2.2): control characters, U+FFFE and U+FFFF are not allowed anywhere in a document, and a
//! stanza carrying them would make well-behaved recipients close their streams. quick-xml
//! does not check this, and seeing every byte exactly once here is the cheapest place to.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncBufRead, AsyncRead, ReadBuf};
use xmpp_core::element::syntax;

/// How much is read from the transport at once. Small on purpose: under TLS the bytes were
/// already read and decrypted into rustls's own buffer, so this one only takes copies of the
/// plaintext (4 KiB here was a seventh of an idle session's memory).
///
/// The buffer is held only while there is something to read: a read that finds nothing
/// gives it back ([`BoundedSource::poll_fill_buf`]), so the thousands of idle sessions of a
/// server hold none, and the next read that finds bytes takes a fresh one.
const READ_BUFFER: usize = 1024;

/// Why the source refused to hand out more bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// More than the limit was needed since the last boundary.
    OverLimit,
    /// A byte sequence that is not an XML character was consumed; the byte is the first one
    /// of the offending sequence.
    BadChar(u8),
}

/// What follows a top-level boundary, as far as [`BoundedSource::skip_whitespace`] looked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Gap {
    /// Nothing skipped; the next byte is `<`.
    Markup,
    /// Whitespace was skipped: everything that was available without waiting.
    Whitespace,
    /// Nothing skipped; the next byte is neither whitespace nor `<`.
    Text,
    /// Nothing skipped; the transport reached end of file.
    Eof,
}

/// A buffered, limit-enforcing [`AsyncBufRead`] over any [`AsyncRead`].
pub(crate) struct BoundedSource<R> {
    inner: R,
    /// Empty (no allocation) while idle; `READ_BUFFER` bytes while reading.
    buf: Box<[u8]>,
    /// Start of the unconsumed bytes in `buf`.
    pos: usize,
    /// End of the valid bytes in `buf`.
    filled: usize,
    /// Bytes consumed since the last [`BoundedSource::mark_boundary`].
    counted: usize,
    limit: usize,
    refusal: Option<Refusal>,
    /// The transport reported end of file.
    eof: bool,
    chars: CharCheck,
}

/// Checks consumed bytes against the XML 1.0 `Char` production.
#[derive(Default)]
struct CharCheck {
    /// Progress through a possible UTF-8 encoding of U+FFFE/U+FFFF (`EF BF BE|BF`) that may
    /// span two `consume` calls: 0 = none, 1 = saw `EF`, 2 = saw `EF BF`.
    nonchar: u8,
}

impl CharCheck {
    /// The first byte of the first non-character in `bytes`, if any. Invalid UTF-8 is left to
    /// the parser; surrogates cannot be encoded in valid UTF-8.
    fn scan(&mut self, bytes: &[u8]) -> Option<u8> {
        // Fast path, vectorized (a fold, not an early-exit search): no control character
        // other than tab and line ends, no byte that could start U+FFFE/U+FFFF, and no such
        // sequence in progress from the previous call.
        if self.nonchar == 0 && !syntax::may_hold_non_xml_char(bytes) {
            return None;
        }
        for &b in bytes {
            if b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r') {
                return Some(b);
            }
            self.nonchar = match (self.nonchar, b) {
                (2, 0xBE | 0xBF) => return Some(0xEF),
                (1, 0xBF) => 2,
                (_, 0xEF) => 1,
                _ => 0,
            };
        }
        None
    }
}

impl<R> BoundedSource<R> {
    pub(crate) fn new(inner: R, limit: usize) -> Self {
        Self {
            inner,
            buf: Box::default(),
            pos: 0,
            filled: 0,
            counted: 0,
            limit,
            refusal: None,
            eof: false,
            chars: CharCheck::default(),
        }
    }

    /// Starts counting afresh: a top-level unit ended here.
    pub(crate) fn mark_boundary(&mut self) {
        self.counted = 0;
    }

    /// Why bytes were refused, if they were.
    pub(crate) fn refusal(&self) -> Option<Refusal> {
        self.refusal
    }

    /// Whether the transport reported end of file.
    pub(crate) fn is_eof(&self) -> bool {
        self.eof
    }

    /// Whether bytes were read from the transport but not consumed yet.
    pub(crate) fn has_buffered_data(&self) -> bool {
        self.pos < self.filled
    }

    pub(crate) fn get_ref(&self) -> &R {
        &self.inner
    }

    pub(crate) fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    pub(crate) fn into_inner(self) -> R {
        self.inner
    }

    /// The transport and the bytes read from it but not consumed yet.
    pub(crate) fn into_parts(self) -> (R, Vec<u8>) {
        let unread = self.buf[self.pos..self.filled].to_vec();
        (self.inner, unread)
    }

    /// Whether the read buffer is allocated.
    #[cfg(test)]
    pub(crate) fn holds_buffer(&self) -> bool {
        !self.buf.is_empty()
    }
}

fn read_buffer() -> Box<[u8]> {
    vec![0; READ_BUFFER].into_boxed_slice()
}

impl<R: AsyncRead + Unpin> BoundedSource<R> {
    /// Reads until at least `n` bytes are buffered or the transport reaches end of file, and
    /// returns the buffered bytes without consuming them. Used to sniff the first bytes of a
    /// stream; `n` must be small.
    pub(crate) async fn peek_at_least(&mut self, n: usize) -> io::Result<&[u8]> {
        debug_assert!(n <= READ_BUFFER);
        if self.buf.is_empty() {
            self.buf = read_buffer();
        }
        while self.filled - self.pos < n && !self.eof {
            if self.pos > 0 {
                self.buf.copy_within(self.pos..self.filled, 0);
                self.filled -= self.pos;
                self.pos = 0;
            }
            let read = std::future::poll_fn(|cx| {
                let mut rb = ReadBuf::new(&mut self.buf[self.filled..]);
                ready!(Pin::new(&mut self.inner).poll_read(cx, &mut rb))?;
                Poll::Ready(Ok::<_, io::Error>(rb.filled().len()))
            })
            .await?;
            if read == 0 {
                self.eof = true;
            }
            self.filled += read;
        }
        Ok(&self.buf[self.pos..self.filled])
    }
}

impl<R: AsyncRead + Unpin> BoundedSource<R> {
    /// Consumes whitespace at a top-level boundary (RFC 6120 §11.7).
    ///
    /// Once some whitespace has been consumed, this returns as soon as no more bytes are
    /// available without waiting, so that a whitespace keepalive is reported when it arrives
    /// rather than when the next stanza does. Before that, it waits for bytes as usual.
    pub(crate) async fn skip_whitespace(&mut self) -> io::Result<Gap> {
        let mut skipped = false;
        loop {
            let step = std::future::poll_fn(|cx| match Pin::new(&mut *self).poll_fill_buf(cx) {
                Poll::Pending if skipped => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
                Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
                Poll::Ready(Ok(bytes)) => {
                    let ws = bytes.iter().take_while(|&&b| is_xml_whitespace(b)).count();
                    Poll::Ready(Some(Ok((ws, bytes.get(ws).copied(), bytes.is_empty()))))
                }
            })
            .await;
            let (ws, next, empty) = match step {
                None => return Ok(Gap::Whitespace),
                Some(result) => result?,
            };
            if ws > 0 {
                Pin::new(&mut *self).consume(ws);
                skipped = true;
            }
            return Ok(match next {
                _ if skipped && (next.is_some() || empty) => Gap::Whitespace,
                Some(b'<') => Gap::Markup,
                Some(_) => Gap::Text,
                None if empty => Gap::Eof,
                // Everything available was whitespace; look for more.
                None => continue,
            });
        }
    }
}

/// XML §2.3 `S`.
fn is_xml_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

impl<R: AsyncRead + Unpin> AsyncBufRead for BoundedSource<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if this.refusal.is_none() && this.counted >= this.limit {
            this.refusal = Some(Refusal::OverLimit);
        }
        if let Some(refusal) = this.refusal {
            return Poll::Ready(Err(io::Error::other(match refusal {
                Refusal::OverLimit => "top-level element over the size limit",
                Refusal::BadChar(_) => "not an XML character",
            })));
        }
        if this.pos >= this.filled {
            this.pos = 0;
            this.filled = 0;
            let read = if this.buf.is_empty() {
                // Idle until now: read onto the stack, and take a buffer only for bytes.
                let mut scratch = [0; READ_BUFFER];
                let mut rb = ReadBuf::new(&mut scratch);
                ready!(Pin::new(&mut this.inner).poll_read(cx, &mut rb))?;
                let read = rb.filled().len();
                if read > 0 {
                    this.buf = read_buffer();
                    this.buf[..read].copy_from_slice(rb.filled());
                }
                read
            } else {
                let mut rb = ReadBuf::new(&mut this.buf);
                match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                    Poll::Pending => {
                        // Nothing buffered and nothing to read: the session is idle.
                        this.buf = Box::default();
                        return Poll::Pending;
                    }
                    Poll::Ready(result) => result?,
                }
                rb.filled().len()
            };
            this.filled = read;
            if read == 0 {
                this.eof = true;
            }
        }
        // Never hand out more than the rest of the allowance, so the parser cannot buffer
        // past the limit before it asks again (and is refused).
        let end = this
            .filled
            .min(this.pos + this.limit.saturating_sub(this.counted));
        Poll::Ready(Ok(&this.buf[this.pos..end]))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        let end = (this.pos + amt).min(this.filled);
        if let Some(b) = this.chars.scan(&this.buf[this.pos..end]) {
            this.refusal.get_or_insert(Refusal::BadChar(b));
        }
        this.counted += end - this.pos;
        this.pos = end;
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for BoundedSource<R> {
    /// Required by [`AsyncBufRead`]; reads through the same buffer and limit.
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let available = ready!(self.as_mut().poll_fill_buf(cx))?;
        let n = available.len().min(out.remaining());
        out.put_slice(&available[..n]);
        self.consume(n);
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests;
