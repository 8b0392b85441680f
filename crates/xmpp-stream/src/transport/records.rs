//! A server-side TLS connection after its handshake, protecting records itself with the keys
//! rustls negotiated, instead of keeping rustls's connection (the userspace counterpart of
//! handing the record layer to the kernel, kTLS).
//!
//! Why: rustls keeps about 7.5 KB per connection for as long as it lives, a 4 KiB receive
//! buffer among it, whether or not anything is in flight; on a server holding many idle
//! XMPP streams that was half of an idle session's memory. Here an idle connection holds its
//! two directions' keys and nothing else: the buffers are taken when bytes arrive or leave
//! and given back when they are gone.
//!
//! Keys change on TLS 1.3 as with rustls: a client's KeyUpdate (RFC 8446 §4.6.3) changes
//! the receiving key, and when it asks for ours to change too, a KeyUpdate of ours goes
//! before our next application data (one for any number of requests meanwhile); our side
//! changes its key by itself before reaching the suite's confidentiality limit (§5.5). On
//! TLS 1.2 keys do not change, and, as with rustls, a renegotiation attempt is refused with
//! a no_renegotiation warning, a second ends the connection, and our side reaching the
//! suite's limit (2^24 AES-GCM records in the ring provider) ends it with a close_notify.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::protection::{
    ALERT, APPLICATION_DATA, Alert, HANDSHAKE, MAX_FRAGMENT, MAX_RECORD, Protection,
};
use super::record_buffer::RecordBuffer;
/// Alert descriptions of RFC 8446 §6 that do not end the connection by themselves.
const CLOSE_NOTIFY: u8 = 0;
const USER_CANCELED: u8 = 90;
/// The KeyUpdate handshake message's type, and its request_update values (§4.6.3).
const KEY_UPDATE: u8 = 24;
const UPDATE_NOT_REQUESTED: u8 = 0;
const UPDATE_REQUESTED: u8 = 1;
/// KeyUpdates a client may send without application data between them: each costs us a
/// key derivation and gives the client nothing, so a stream of them is refused (rustls's
/// number).
const MAX_KEY_UPDATES_IN_A_ROW: u8 = 32;
/// The ClientHello handshake message's type, and the TLS 1.2 warning that refuses it after
/// the handshake (RFC 5246 §7.2.2).
const CLIENT_HELLO: u8 = 1;
const NO_RENEGOTIATION: u8 = 100;

thread_local! {
    /// Where a record is sealed when the connection has nothing else waiting to be written
    /// ([`Records::poll_write_through`]): one per thread, so it holds at most one record
    /// (about 16 KiB) for all the connections the thread serves.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// An established TLS connection whose records this layer protects.
pub struct Records<S> {
    io: S,
    rx: Protection,
    tx: Protection,
    /// RFC 9266 tls-exporter value, computed before rustls's state was dropped (TLS 1.3).
    exporter: Option<[u8; 32]>,
    /// Received bytes; `plain` is where in it decrypted content not yet read lies.
    inbuf: RecordBuffer,
    plain: std::ops::Range<usize>,
    /// Protected bytes not yet written, from `out_start`.
    outbuf: Vec<u8>,
    out_start: usize,
    /// The peer sent close_notify: reads now end.
    read_closed: bool,
    /// We sent close_notify (or a fatal alert): nothing more may be written.
    write_closed: bool,
    /// The client asked for our keys to change: a KeyUpdate goes before our next
    /// application data.
    update_requested: bool,
    /// The client's KeyUpdates since its last application data.
    key_updates_in_a_row: u8,
    /// A TLS 1.2 renegotiation was refused with a warning; a second ends the connection.
    renegotiation_refused: bool,
    /// Why the connection failed, repeated to every later read and write.
    failed: Option<(io::ErrorKind, &'static str)>,
}

impl<S> std::fmt::Debug for Records<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records")
            .field("read_closed", &self.read_closed)
            .field("write_closed", &self.write_closed)
            .field("rx_updates", &self.rx.updates())
            .field("tx_updates", &self.tx.updates())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl<S> Records<S> {
    /// Takes over after a handshake: `received` holds bytes read past the handshake's last
    /// record (the client may send its first records along with its Finished), `unsent`
    /// protected bytes of the handshake's end that go out before (and with) our first record.
    pub(super) fn new(
        io: S,
        rx: Protection,
        tx: Protection,
        exporter: Option<[u8; 32]>,
        received: RecordBuffer,
        unsent: Vec<u8>,
    ) -> Self {
        Self {
            io,
            rx,
            tx,
            exporter,
            inbuf: received,
            plain: 0..0,
            outbuf: unsent,
            out_start: 0,
            read_closed: false,
            write_closed: false,
            update_requested: false,
            key_updates_in_a_row: 0,
            renegotiation_refused: false,
            failed: None,
        }
    }

    /// The RFC 9266 tls-exporter channel-binding value, on TLS 1.3.
    pub fn tls_exporter(&self) -> Option<[u8; 32]> {
        self.exporter
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    fn check_failed(&self) -> io::Result<()> {
        match self.failed {
            Some((kind, why)) => Err(io::Error::new(kind, why)),
            None => Ok(()),
        }
    }

    /// Records a fatal condition; with an alert for the peer, queued for the next write.
    fn fail(&mut self, kind: io::ErrorKind, why: &'static str, alert: Option<Alert>) -> io::Error {
        if let (Some(alert), false) = (alert, self.write_closed) {
            // A fatal alert (RFC 8446 §6.2), best effort: the connection ends either way.
            let _ = self.tx.seal(ALERT, &[2, alert as u8], &mut self.outbuf);
            self.write_closed = true;
        }
        self.failed = Some((kind, why));
        io::Error::new(kind, why)
    }

    /// Processes the next whole record in the buffer, if there is one: `Ok(false)` when more
    /// bytes are needed.
    fn next_record(&mut self) -> io::Result<bool> {
        let Some(len) = self.inbuf.next_record_len() else {
            return Ok(false);
        };
        if len > MAX_RECORD {
            return Err(self.fail(
                io::ErrorKind::InvalidData,
                "TLS record too long",
                Some(Alert::RecordOverflow),
            ));
        }
        if self.inbuf.pending() < len {
            return Ok(false);
        }
        let record = self.inbuf.consume(len);
        let (content_type, content) = match self.rx.open(self.inbuf.bytes_mut(record.clone())) {
            Ok(opened) => opened,
            Err(alert) => {
                return Err(self.fail(
                    io::ErrorKind::InvalidData,
                    "TLS record rejected",
                    Some(alert),
                ));
            }
        };
        let content = record.start + content.start..record.start + content.end;
        match content_type {
            APPLICATION_DATA => {
                self.plain = content;
                self.key_updates_in_a_row = 0;
            }
            ALERT => match *self.inbuf.bytes_mut(content) {
                [_, CLOSE_NOTIFY] => self.read_closed = true,
                [_, USER_CANCELED] => {}
                [_, _] => {
                    return Err(self.fail(
                        io::ErrorKind::ConnectionAborted,
                        "TLS alert from the peer",
                        None,
                    ));
                }
                _ => {
                    return Err(self.fail(
                        io::ErrorKind::InvalidData,
                        "malformed TLS alert",
                        Some(Alert::DecodeError),
                    ));
                }
            },
            HANDSHAKE => self.post_handshake(content)?,
            _ => {
                return Err(self.fail(
                    io::ErrorKind::InvalidData,
                    "unexpected TLS record type",
                    Some(Alert::UnexpectedMessage),
                ));
            }
        }
        Ok(true)
    }

    /// A handshake message after the handshake. On TLS 1.3 a client sends only KeyUpdate
    /// (we ask for no post-handshake authentication), alone in its record, since the key
    /// changes after it (§5.1); on TLS 1.2 it would be a renegotiation.
    fn post_handshake(&mut self, content: std::ops::Range<usize>) -> io::Result<()> {
        use io::ErrorKind::{InvalidData, Unsupported};
        if !self.rx.updatable() {
            // RFC 5746 §4.4 and RFC 5246 §7.2.2: a server that does not renegotiate answers
            // a ClientHello with a no_renegotiation warning and goes on. As with rustls, a
            // second attempt (or any other handshake message) ends the connection.
            let hello = self.inbuf.bytes_mut(content).first() == Some(&CLIENT_HELLO);
            if hello && !self.renegotiation_refused {
                self.renegotiation_refused = true;
                if let Err(why) = self
                    .tx
                    .seal(ALERT, &[1, NO_RENEGOTIATION], &mut self.outbuf)
                {
                    return Err(self.fail(io::ErrorKind::Other, why, None));
                }
                return Ok(());
            }
            return Err(self.fail(
                Unsupported,
                "TLS 1.2 renegotiation",
                Some(Alert::UnexpectedMessage),
            ));
        }
        let (why, alert) = match *self.inbuf.bytes_mut(content) {
            [KEY_UPDATE, 0, 0, 1, UPDATE_NOT_REQUESTED | UPDATE_REQUESTED]
                if self.key_updates_in_a_row == MAX_KEY_UPDATES_IN_A_ROW =>
            {
                ("too many KeyUpdates in a row", Alert::UnexpectedMessage)
            }
            [
                KEY_UPDATE,
                0,
                0,
                1,
                request @ (UPDATE_NOT_REQUESTED | UPDATE_REQUESTED),
            ] => {
                self.key_updates_in_a_row += 1;
                if let Err(why) = self.rx.update() {
                    return Err(self.fail(InvalidData, why, Some(Alert::UnexpectedMessage)));
                }
                self.update_requested |= request == UPDATE_REQUESTED;
                return Ok(());
            }
            [KEY_UPDATE, 0, 0, 1, _] => (
                "KeyUpdate with an invalid request_update",
                Alert::IllegalParameter,
            ),
            [KEY_UPDATE, a, b, c, ..] if [a, b, c] != [0, 0, 1] => {
                ("KeyUpdate of the wrong length", Alert::DecodeError)
            }
            [KEY_UPDATE, ..] => (
                "KeyUpdate not alone in its record",
                Alert::UnexpectedMessage,
            ),
            _ => (
                "handshake message other than KeyUpdate after the handshake",
                Alert::UnexpectedMessage,
            ),
        };
        Err(self.fail(InvalidData, why, Some(alert)))
    }

    /// Sends a KeyUpdate that asks nothing of the client, then changes our key (§4.6.3).
    fn send_key_update(&mut self) -> Result<(), &'static str> {
        self.tx.seal(
            HANDSHAKE,
            &[KEY_UPDATE, 0, 0, 1, UPDATE_NOT_REQUESTED],
            &mut self.outbuf,
        )?;
        self.tx.update()
    }

    /// Ends a TLS 1.2 connection whose key has one record left: its keys cannot change, so,
    /// as rustls does when a TLS 1.2 suite's confidentiality limit is reached, the
    /// connection closes with a close_notify (RFC 5246 §7.2.1), here the last record the key
    /// may protect, out now if the socket takes it. Reads and writes fail from then on; the
    /// client reconnects.
    fn close_at_limit(&mut self, cx: &mut Context<'_>) -> io::Error
    where
        S: AsyncWrite + Unpin,
    {
        self.write_closed = true;
        if let Err(why) = self.tx.seal(ALERT, &[1, CLOSE_NOTIFY], &mut self.outbuf) {
            // The last record went to an alert (a refused renegotiation's warning).
            tracing::debug!(why, "no close_notify sent");
        }
        let _ = self.poll_drain(cx);
        self.fail(
            io::ErrorKind::Other,
            "the cipher suite's record limit was reached and TLS 1.2 keys cannot change",
            None,
        )
    }

    /// Seals `data` as one record when nothing else waits for the socket, in this thread's
    /// [`SCRATCH`] buffer, and offers it to the socket at once; only what the socket does
    /// not take is kept, in `outbuf`, for the next flush. Most records leave whole here, so
    /// a record costs no buffer of the connection's own, allocated and freed each time
    /// (about 150 instructions of the 2,100 a presence delivery's record took; ARCHITECTURE.md,
    /// "Presence broadcast cost").
    fn poll_write_through(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>>
    where
        S: AsyncWrite + Unpin,
    {
        SCRATCH.with_borrow_mut(|scratch| {
            scratch.clear();
            if let Err(why) = self.tx.seal(APPLICATION_DATA, data, scratch) {
                return Poll::Ready(Err(self.fail(io::ErrorKind::Other, why, None)));
            }
            let written = match Pin::new(&mut self.io).poll_write(cx, scratch) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(written)) => written,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => 0,
            };
            self.outbuf.extend_from_slice(&scratch[written..]);
            Poll::Ready(Ok(data.len()))
        })
    }

    /// Writes queued protected bytes; the buffer is given back once they are all out.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>
    where
        S: AsyncWrite + Unpin,
    {
        while self.out_start < self.outbuf.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.outbuf[self.out_start..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.out_start += n;
        }
        self.outbuf = Vec::new();
        self.out_start = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Records<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            this.check_failed()?;
            if !this.plain.is_empty() {
                let n = this.plain.len().min(buf.remaining());
                buf.put_slice(this.inbuf.bytes_mut(this.plain.start..this.plain.start + n));
                this.plain.start += n;
                return Poll::Ready(Ok(()));
            }
            if this.read_closed {
                return Poll::Ready(Ok(()));
            }
            let queued = this.outbuf.len();
            match this.next_record() {
                Ok(true) => {
                    if queued == 0 && !this.outbuf.is_empty() {
                        // A warning the client waits for (no_renegotiation): out now if the
                        // socket takes it, else with our next write.
                        let _ = this.poll_drain(cx);
                    }
                    continue;
                }
                Ok(false) => {}
                Err(e) => {
                    // Let the alert out if the socket takes it now.
                    let _ = this.poll_drain(cx);
                    return Poll::Ready(Err(e));
                }
            }
            // Everything decrypted has been read, so the buffer may move its tail.
            let mut read = ReadBuf::new(this.inbuf.spare());
            match Pin::new(&mut this.io).poll_read(cx, &mut read) {
                Poll::Pending => {
                    // Idle: hold no buffer while waiting (the point of this layer).
                    this.inbuf.release_if_drained();
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {
                    let n = read.filled().len();
                    if n == 0 {
                        // RFC 8446 §6.1: a stream cut without close_notify may be truncated.
                        return Poll::Ready(Err(this.fail(
                            io::ErrorKind::UnexpectedEof,
                            "TLS connection closed without close_notify",
                            None,
                        )));
                    }
                    this.inbuf.filled(n);
                }
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Records<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check_failed()?;
        if this.write_closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        // Less than a record's worth may still wait for the socket while the next record is
        // sealed behind it, so that what was queued without data of its own (TLS 1.3
        // tickets, a KeyUpdate) leaves in one write with the next data; past that, the
        // socket's backpressure holds the caller.
        if this.outbuf.len() - this.out_start >= MAX_FRAGMENT {
            ready!(this.poll_drain(cx))?;
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if this.tx.at_limit() && !this.tx.updatable() {
            return Poll::Ready(Err(this.close_at_limit(cx)));
        }
        if this.tx.updatable() && (this.update_requested || this.tx.at_limit()) {
            this.update_requested = false;
            if let Err(why) = this.send_key_update() {
                return Poll::Ready(Err(this.fail(io::ErrorKind::Other, why, None)));
            }
        }
        let n = buf.len().min(MAX_FRAGMENT);
        if this.outbuf.is_empty() {
            return this.poll_write_through(cx, &buf[..n]);
        }
        if let Err(why) = this.tx.seal(APPLICATION_DATA, &buf[..n], &mut this.outbuf) {
            return Poll::Ready(Err(this.fail(io::ErrorKind::Other, why, None)));
        }
        // The record is ours now; the socket may take it at once or at the next flush.
        if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.write_closed {
            this.write_closed = true;
            // close_notify (RFC 8446 §6.1), a warning-level alert.
            if let Err(why) = this.tx.seal(ALERT, &[1, CLOSE_NOTIFY], &mut this.outbuf) {
                tracing::debug!(why, "no close_notify sent");
            }
        }
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
