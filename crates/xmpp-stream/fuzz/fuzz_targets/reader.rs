//! Arbitrary bytes through `XmlReader`: it must never panic, and the outcome must not depend
//! on how the input is split into reads.
//!
//! The first input byte chooses the read size (1 to 64 bytes); the rest is the stream. Small
//! limits make the limit paths reachable.

#![no_main]

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncRead, ReadBuf};
use xmpp_stream::{ReadError, ReaderLimits, StreamEvent, XmlReader};

/// Hands out `data` `size` bytes per read; with `pending`, returns `Pending` before each.
struct Chunked<'a> {
    data: &'a [u8],
    size: usize,
    pending: bool,
    pend_next: bool,
}

impl AsyncRead for Chunked<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.pend_next {
            this.pend_next = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        this.pend_next = this.pending;
        let n = this.size.min(this.data.len()).min(buf.remaining());
        buf.put_slice(&this.data[..n]);
        this.data = &this.data[n..];
        Poll::Ready(Ok(()))
    }
}

/// How reading ended, comparable.
#[derive(Debug, PartialEq)]
enum Ending {
    Stream(&'static str),
    Eof,
    Io,
}

/// Reads to the end, restarting after `<success/>` as a server does after SASL.
async fn run(source: Chunked<'_>) -> (Vec<StreamEvent>, Ending) {
    let limits = ReaderLimits {
        max_stanza_bytes: 2048,
        max_depth: 8,
        max_attributes: 8,
    };
    let mut reader = XmlReader::new(source, limits);
    let mut events = Vec::new();
    loop {
        match reader.next().await {
            Ok(event) => {
                if matches!(&event, StreamEvent::Element(e) if e.name() == "success") {
                    reader.restart();
                }
                events.push(event);
            }
            Err(e) => {
                let ending = match e {
                    ReadError::Stream(e) => Ending::Stream(e.condition.as_str()),
                    ReadError::Eof => Ending::Eof,
                    ReadError::Io(_) => Ending::Io,
                };
                return (events, ending);
            }
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&first, data)) = input.split_first() else {
        return;
    };
    let size = usize::from(first % 64) + 1;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    let source = |size, pending| Chunked {
        data,
        size,
        pending,
        pend_next: pending,
    };
    let whole = runtime.block_on(run(source(usize::MAX, false)));
    let chunked = runtime.block_on(run(source(size, false)));
    assert_eq!(whole, chunked, "split into reads of {size}");
    // With `Pending` between reads, whitespace may be reported as more keepalives (and a
    // whitespace run may escape the size limit); only check that nothing panics.
    runtime.block_on(run(source(size, true)));
});
