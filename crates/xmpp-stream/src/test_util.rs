//! Test sources and drivers shared by the unit tests.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};
use xmpp_core::StreamErrorCondition;

use crate::{ReadError, ReaderLimits, StreamEvent, XmlReader};

/// An in-memory source that hands out its bytes in chunks of the given sizes (the last size
/// repeats), optionally returning `Pending` before every chunk, as a slow network would.
#[derive(Debug)]
pub(crate) struct Chunked {
    data: Vec<u8>,
    pos: usize,
    sizes: Vec<usize>,
    next_size: usize,
    pending: bool,
    /// Whether the next poll returns `Pending` (when `pending` is set).
    pend_next: bool,
}

impl Chunked {
    pub(crate) fn new(data: impl Into<Vec<u8>>, sizes: Vec<usize>, pending: bool) -> Self {
        assert!(!sizes.is_empty() && sizes.iter().all(|&s| s > 0));
        Self {
            data: data.into(),
            pos: 0,
            sizes,
            next_size: 0,
            pending,
            pend_next: pending,
        }
    }
}

impl AsyncRead for Chunked {
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
        let size = this.sizes[this.next_size.min(this.sizes.len() - 1)];
        this.next_size += 1;
        let n = size.min(this.data.len() - this.pos).min(buf.remaining());
        buf.put_slice(&this.data[this.pos..this.pos + n]);
        this.pos += n;
        Poll::Ready(Ok(()))
    }
}

/// How reading ended, comparable across runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    Stream(StreamErrorCondition),
    Eof,
    Io,
}

impl From<&ReadError> for Ending {
    fn from(e: &ReadError) -> Self {
        match e {
            ReadError::Stream(e) => Ending::Stream(e.condition),
            ReadError::Eof => Ending::Eof,
            ReadError::Io(_) => Ending::Io,
        }
    }
}

/// Reads until an error, restarting the stream (as after STARTTLS or SASL) after every
/// top-level element whose name is in `restart_after`. Returns the events and the ending.
pub(crate) async fn collect<R: AsyncRead + Unpin>(
    reader: &mut XmlReader<R>,
    restart_after: &[&str],
) -> (Vec<StreamEvent>, Ending) {
    let mut events = Vec::new();
    loop {
        match reader.next().await {
            Ok(event) => {
                let restart =
                    matches!(&event, StreamEvent::Element(e) if restart_after.contains(&e.name()));
                events.push(event);
                if restart {
                    reader.restart();
                }
            }
            Err(e) => return (events, Ending::from(&e)),
        }
    }
}

/// Parses `input` delivered as `sizes` chunks (optionally with `Pending` in between).
pub(crate) async fn parse_chunked(
    input: &[u8],
    sizes: Vec<usize>,
    pending: bool,
    limits: &ReaderLimits,
    restart_after: &[&str],
) -> (Vec<StreamEvent>, Ending) {
    let mut reader = XmlReader::new(Chunked::new(input, sizes, pending), limits.clone());
    collect(&mut reader, restart_after).await
}

/// Parses `input` delivered in one piece, with default limits and no restarts.
pub(crate) async fn parse(input: &str) -> (Vec<StreamEvent>, Ending) {
    let mut reader = XmlReader::new(input.as_bytes(), ReaderLimits::default());
    collect(&mut reader, &[]).await
}

/// Whitespace that arrives in several reads may be reported as several keepalives; merge
/// runs of them to compare with a parse of the whole input.
pub(crate) fn merge_keepalives(events: Vec<StreamEvent>) -> Vec<StreamEvent> {
    let mut out: Vec<StreamEvent> = Vec::with_capacity(events.len());
    for e in events {
        if e == StreamEvent::Keepalive && out.last() == Some(&StreamEvent::Keepalive) {
            continue;
        }
        out.push(e);
    }
    out
}

/// A client stream header in the style of RFC 6120 §9.1.1 step 1.
pub(crate) const HEADER: &str = "<?xml version='1.0'?><stream:stream from='juliet@im.example.com' \
     to='im.example.com' version='1.0' xml:lang='en' xmlns='jabber:client' \
     xmlns:stream='http://etherx.jabber.org/streams'>";

/// A current-thread runtime for tests that are not async themselves (proptest bodies).
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
}

/// A server for `localhost` with a fresh self-signed certificate, on `server_provider`, and
/// a client trusting it, on `client_provider`; both speak `version` only.
pub(crate) fn tls_configs(
    version: &'static rustls::SupportedProtocolVersion,
    server_provider: rustls::crypto::CryptoProvider,
    client_provider: rustls::crypto::CryptoProvider,
) -> (rustls::ServerConfig, rustls::ClientConfig) {
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert: CertificateDer<'static> = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let server = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(server_provider))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(client_provider))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (server, client)
}
