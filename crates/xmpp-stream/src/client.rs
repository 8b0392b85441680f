//! The client side of RFC 6120 stream negotiation: connect, STARTTLS or direct TLS, SASL
//! (SCRAM or PLAIN), resource binding; or SASL2 with Bind 2 instead of the last two
//! (`client/sasl2.rs`). It serves the integration tests and the load
//! generator, which need a lean, fully controllable client rather than a full library.

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rustls_pki_types::ServerName;
use tokio::io::{ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use xmpp_core::sasl::{
    ClientChannelBinding, Mechanism, SaltedPasswordCache, SaslProfile, ScramClient, decode_data,
    plain_client_message,
};
use xmpp_core::{Element, Jid, StreamError, ns};

use crate::writer::push_stream_header;
use crate::{ReadError, ReaderLimits, StreamEvent, StreamHeader, Transport, XmlReader, XmlWriter};

/// What went wrong on the client side.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The transport failed.
    #[error("i/o: {0}")]
    Io(std::io::Error),
    /// What the server sent could not be read.
    #[error("read: {0}")]
    Read(ReadError),
    /// The server closed the stream with a stream error.
    #[error("stream error from server: {0}")]
    Stream(StreamError),
    /// SASL failed with this condition (RFC 6120 §6.5).
    #[error("authentication failed: {0}")]
    Sasl(String),
    /// The server did something the protocol does not allow here.
    #[error("protocol: {0}")]
    Protocol(String),
    /// TLS setup failed.
    #[error("tls: {0}")]
    Tls(String),
}

// The wrapped errors are said in the variants' messages, not returned as their sources
// (ARCHITECTURE.md, "Errors").
impl From<std::io::Error> for ClientError {
    fn from(e: std::io::Error) -> Self {
        ClientError::Io(e)
    }
}

impl From<ReadError> for ClientError {
    fn from(e: ReadError) -> Self {
        ClientError::Read(e)
    }
}

mod sasl2;
#[cfg(test)]
mod tests;

pub use sasl2::Sasl2Success;

/// How [`ClientStream::login_with`] logs in.
#[derive(Clone, Debug, Default)]
pub struct LoginOptions {
    /// The resource to ask for with RFC 6120 binding (`None` lets the server choose); with
    /// Bind 2, the tag the server puts before the resource it generates.
    pub resource: Option<String>,
    /// STARTTLS configuration, used when the server offers STARTTLS.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// SaltedPassword values shared between logins (RFC 5802 §5.1).
    pub salted_cache: Option<Arc<SaltedPasswordCache>>,
    /// Use SASL2 and Bind 2 where the server offers them.
    pub sasl2: bool,
    /// TLS from the first byte (XEP-0368) with `tls`, which must be given, instead of
    /// STARTTLS: the connection goes to the server's direct TLS port, and the two round trips
    /// before the handshake (stream header and features, `<starttls/>` and `<proceed/>`) are
    /// saved.
    pub direct_tls: bool,
}

/// The reading half of a client stream, from [`ClientStream::into_split`].
pub type Reader = XmlReader<ReadHalf<Transport<TcpStream>>>;
/// The writing half of a client stream, from [`ClientStream::into_split`].
pub type Writer = XmlWriter<WriteHalf<Transport<TcpStream>>>;

/// A client-side XML stream over TCP or TLS.
#[derive(Debug)]
pub struct ClientStream {
    reader: Reader,
    writer: Writer,
    domain: String,
    features: Element,
    tls_exporter: Option<Vec<u8>>,
    tls: bool,
    /// SaltedPassword values to reuse across logins (RFC 5802 §5.1); none by default.
    salted_cache: Option<Arc<SaltedPasswordCache>>,
}

impl ClientStream {
    /// Connects over plain TCP and opens the stream to `domain`.
    pub async fn connect(addr: SocketAddr, domain: &str) -> Result<Self, ClientError> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        Self::open(Transport::Plain(tcp), domain).await
    }

    /// Opens the stream on a TCP connection made by the caller, e.g. one bound to a chosen
    /// source address (the load generator spreads connections over 127.0.0.x).
    pub async fn from_tcp(tcp: TcpStream, domain: &str) -> Result<Self, ClientError> {
        tcp.set_nodelay(true)?;
        Self::open(Transport::Plain(tcp), domain).await
    }

    /// Connects with direct TLS (XEP-0368) and opens the stream.
    pub async fn connect_direct_tls(
        addr: SocketAddr,
        domain: &str,
        tls: Arc<rustls::ClientConfig>,
    ) -> Result<Self, ClientError> {
        Self::from_tcp_direct_tls(TcpStream::connect(addr).await?, domain, tls).await
    }

    /// [`ClientStream::connect_direct_tls`] on a TCP connection made by the caller.
    pub async fn from_tcp_direct_tls(
        tcp: TcpStream,
        domain: &str,
        tls: Arc<rustls::ClientConfig>,
    ) -> Result<Self, ClientError> {
        tcp.set_nodelay(true)?;
        Self::open_tls(tcp, domain, tls).await
    }

    /// Opens the stream over plain TCP: our header, then the server's header and features.
    async fn open(conn: Transport<TcpStream>, domain: &str) -> Result<Self, ClientError> {
        let mut stream = Self::on(conn, domain);
        stream.restart().await?;
        Ok(stream)
    }

    /// Negotiates TLS on `tcp` and opens the stream over it. Our stream header is handed to
    /// rustls before the handshake, which holds it until the handshake is done and then
    /// sends it right behind our Finished, in the same write (RFC 8446 §2: application data
    /// may follow the client's Finished at once). That saves a TCP segment per login, and the
    /// server a wake-up: it reads both at once.
    async fn open_tls(
        tcp: TcpStream,
        domain: &str,
        config: Arc<rustls::ClientConfig>,
    ) -> Result<Self, ClientError> {
        let mut header = String::new();
        push_stream_header(&mut header, &Self::header(domain));
        let conn = tls_connect(tcp, domain, config, header.as_bytes()).await?;
        let mut stream = Self::on(conn, domain);
        stream.read_stream_open().await?;
        Ok(stream)
    }

    /// A stream on `conn` before anything is read from it.
    fn on(conn: Transport<TcpStream>, domain: &str) -> Self {
        let tls_exporter = conn.tls_exporter();
        let tls = conn.is_tls();
        let (r, w) = tokio::io::split(conn);
        Self {
            reader: XmlReader::new(r, ReaderLimits::default()),
            writer: XmlWriter::new(w, ns::JABBER_CLIENT),
            domain: domain.to_owned(),
            features: Element::new("features", ns::STREAM),
            tls_exporter,
            tls,
            salted_cache: None,
        }
    }

    /// Our stream header to `domain` (RFC 6120 §4.7).
    fn header(domain: &str) -> StreamHeader {
        StreamHeader {
            to: Some(domain.to_owned()),
            from: None,
            id: None,
            version: Some("1.0".into()),
            lang: Some("en".into()),
            content_ns: ns::JABBER_CLIENT.into(),
        }
    }

    /// Sends a new stream header and reads the server's header and features (RFC 6120 §4.3).
    pub async fn restart(&mut self) -> Result<(), ClientError> {
        self.reader.restart();
        self.writer
            .write_header(&Self::header(&self.domain))
            .await?;
        self.writer.flush().await?;
        self.read_stream_open().await
    }

    /// Reads the server's stream header and features, our header having been sent.
    async fn read_stream_open(&mut self) -> Result<(), ClientError> {
        match self.next_event().await? {
            StreamEvent::Open(_) => {}
            other => {
                return Err(ClientError::Protocol(format!(
                    "expected a stream header, got {other:?}"
                )));
            }
        }
        self.read_features().await
    }

    /// Reads `<stream:features/>` (RFC 6120 §4.3.2), which become the current features.
    async fn read_features(&mut self) -> Result<(), ClientError> {
        let features = self.next_element().await?;
        if !features.is("features", ns::STREAM) {
            return Err(ClientError::Protocol(format!(
                "expected features, got {features}"
            )));
        }
        self.features = features;
        Ok(())
    }

    /// The stream features of the current stream.
    pub fn features(&self) -> &Element {
        &self.features
    }

    /// SASL mechanisms the server offers (RFC 6120 §6.3.3).
    pub fn mechanisms(&self) -> Vec<String> {
        self.offered(SaslProfile::Rfc6120)
    }

    /// The mechanisms offered in `profile`'s stream feature.
    fn offered(&self, profile: SaslProfile) -> Vec<String> {
        let feature = match profile {
            SaslProfile::Rfc6120 => self.features.get_child("mechanisms", ns::SASL),
            SaslProfile::Sasl2 => self.features.get_child("authentication", ns::SASL2),
        };
        feature
            .map(|m| {
                m.children()
                    .filter(|c| c.name() == "mechanism")
                    .map(Element::text)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the transport is TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Negotiates STARTTLS (RFC 6120 §5) and restarts the stream.
    pub async fn starttls(self, tls: Arc<rustls::ClientConfig>) -> Result<Self, ClientError> {
        let Self {
            reader,
            mut writer,
            domain,
            salted_cache,
            ..
        } = self;
        writer
            .write_element(&Element::new("starttls", ns::TLS))
            .await?;
        let mut reader = reader;
        let reply = loop {
            match reader.next().await? {
                StreamEvent::Element(e) => break e,
                StreamEvent::Keepalive => {}
                other => {
                    return Err(ClientError::Protocol(format!(
                        "expected proceed, got {other:?}"
                    )));
                }
            }
        };
        if !reply.is("proceed", ns::TLS) {
            return Err(ClientError::Protocol(format!("STARTTLS refused: {reply}")));
        }
        let conn = reader.into_inner().unsplit(writer.into_inner());
        let Transport::Plain(tcp) = conn else {
            return Err(ClientError::Protocol("TLS already negotiated".into()));
        };
        let mut stream = Self::open_tls(tcp, &domain, tls).await?;
        stream.salted_cache = salted_cache;
        Ok(stream)
    }

    /// Reuses SaltedPassword values from `cache` in SCRAM exchanges on this stream (RFC 5802
    /// §5.1), as clients that log in again do; the load generator shares one cache between
    /// all its logins.
    pub fn set_salted_password_cache(&mut self, cache: Arc<SaltedPasswordCache>) {
        self.salted_cache = Some(cache);
    }

    /// Authenticates with `mechanism` (RFC 6120 §6) and restarts the stream.
    pub async fn authenticate(
        &mut self,
        mechanism: Mechanism,
        username: &str,
        password: &str,
    ) -> Result<(), ClientError> {
        let auth = Element::new("auth", ns::SASL).with_attr("mechanism", mechanism.as_str());
        self.sasl_exchange(SaslProfile::Rfc6120, auth, mechanism, username, password)
            .await?;
        self.restart().await
    }

    /// Runs one SASL exchange in `profile`, started by `request` (an `<auth/>` or
    /// `<authenticate/>` naming `mechanism`, to which the initial response is added), and
    /// returns the `<success/>` once the server's signature is verified.
    async fn sasl_exchange(
        &mut self,
        profile: SaslProfile,
        mut request: Element,
        mechanism: Mechanism,
        username: &str,
        password: &str,
    ) -> Result<Element, ClientError> {
        let (initial, mut scram) = if mechanism == Mechanism::Plain {
            (plain_client_message(username, password), None)
        } else {
            let offered_plus = self.offered(profile).iter().any(|m| m.ends_with("-PLUS"));
            let cb = match (&self.tls_exporter, mechanism.is_plus()) {
                (Some(data), true) => ClientChannelBinding::TlsExporter(data.clone()),
                (Some(_), false) if !offered_plus => ClientChannelBinding::SupportedButNotOffered,
                _ => ClientChannelBinding::None,
            };
            let mut scram = ScramClient::new(mechanism, username, password, cb)
                .map_err(|f| ClientError::Sasl(f.as_str().into()))?;
            if let Some(cache) = &self.salted_cache {
                scram = scram.with_salted_password_cache(cache.clone());
            }
            (scram.client_first(), Some(scram))
        };
        match profile {
            SaslProfile::Rfc6120 => request.push_text(BASE64.encode(initial)),
            SaslProfile::Sasl2 => request.push_child(
                Element::new("initial-response", ns::SASL2).with_text(BASE64.encode(initial)),
            ),
        }
        self.writer.write_element(&request).await?;
        if let Some(scram) = &mut scram {
            let challenge = self.sasl_step(profile).await?;
            let client_final = scram
                .handle_server_first(&challenge)
                .map_err(|f| ClientError::Sasl(f.as_str().into()))?;
            self.writer
                .write_element(&profile.data("response", &client_final))
                .await?;
        }
        let success = self.next_element().await?;
        if !success.is("success", profile.ns()) {
            return Err(sasl_error(profile, &success));
        }
        if let Some(scram) = &scram {
            let additional = match profile {
                SaslProfile::Rfc6120 => success.text(),
                SaslProfile::Sasl2 => success
                    .get_child("additional-data", ns::SASL2)
                    .map(Element::text)
                    .unwrap_or_default(),
            };
            let data = decode_data(&additional)
                .map_err(|_| ClientError::Protocol("bad base64 in success".into()))?;
            scram
                .verify_server_final(&data)
                .map_err(|f| ClientError::Sasl(format!("server signature: {}", f.as_str())))?;
        }
        Ok(success)
    }

    /// Reads a `<challenge/>`; a `<failure/>` becomes [`ClientError::Sasl`].
    async fn sasl_step(&mut self, profile: SaslProfile) -> Result<Vec<u8>, ClientError> {
        let e = self.next_element().await?;
        if e.is("challenge", profile.ns()) {
            return decode_data(&e.text())
                .map_err(|_| ClientError::Protocol("bad base64 in challenge".into()));
        }
        Err(sasl_error(profile, &e))
    }

    /// Binds a resource (RFC 6120 §7); `None` lets the server choose. Returns the full JID.
    pub async fn bind(&mut self, resource: Option<&str>) -> Result<Jid, ClientError> {
        let mut bind = Element::new("bind", ns::BIND);
        if let Some(r) = resource {
            bind.push_child(Element::new("resource", ns::BIND).with_text(r));
        }
        let iq = Element::new("iq", ns::JABBER_CLIENT)
            .with_attr("type", "set")
            .with_attr("id", "bind-1")
            .with_child(bind);
        self.writer.write_element(&iq).await?;
        let reply = self.next_element().await?;
        let jid = reply
            .get_child("bind", ns::BIND)
            .and_then(|b| b.get_child("jid", ns::BIND))
            .map(Element::text);
        match (reply.attr("type"), jid) {
            (Some("result"), Some(jid)) => {
                Jid::new(jid.trim()).map_err(|e| ClientError::Protocol(format!("bound JID: {e}")))
            }
            _ => Err(ClientError::Protocol(format!("bind failed: {reply}"))),
        }
    }

    /// Connects, negotiates TLS as offered, authenticates with the strongest offered SCRAM
    /// mechanism and binds: the usual login in one call.
    pub async fn login(
        addr: SocketAddr,
        domain: &str,
        username: &str,
        password: &str,
        resource: Option<&str>,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<(Self, Jid), ClientError> {
        let tcp = TcpStream::connect(addr).await?;
        Self::login_on(tcp, domain, username, password, resource, tls, None).await
    }

    /// [`ClientStream::login`] on a TCP connection made by the caller, reusing SaltedPassword
    /// values from `cache` if given ([`ClientStream::set_salted_password_cache`]).
    pub async fn login_on(
        tcp: TcpStream,
        domain: &str,
        username: &str,
        password: &str,
        resource: Option<&str>,
        tls: Option<Arc<rustls::ClientConfig>>,
        cache: Option<Arc<SaltedPasswordCache>>,
    ) -> Result<(Self, Jid), ClientError> {
        let options = LoginOptions {
            resource: resource.map(str::to_owned),
            tls,
            salted_cache: cache,
            sasl2: false,
            direct_tls: false,
        };
        Self::login_with(tcp, domain, username, password, &options).await
    }

    /// The usual login on a TCP connection made by the caller: direct TLS when `options` ask
    /// for it, otherwise STARTTLS as offered; the strongest offered SCRAM mechanism; and a
    /// bound resource, through SASL2 and Bind 2 (XEP-0388, XEP-0386) when `options` allow it
    /// and the server offers them, otherwise RFC 6120's SASL and binding.
    pub async fn login_with(
        tcp: TcpStream,
        domain: &str,
        username: &str,
        password: &str,
        options: &LoginOptions,
    ) -> Result<(Self, Jid), ClientError> {
        let mut stream = match (&options.tls, options.direct_tls) {
            (Some(tls), true) => Self::from_tcp_direct_tls(tcp, domain, tls.clone()).await?,
            (None, true) => {
                return Err(ClientError::Tls(
                    "direct TLS needs a TLS configuration".into(),
                ));
            }
            (_, false) => Self::from_tcp(tcp, domain).await?,
        };
        stream.salted_cache.clone_from(&options.salted_cache);
        if let Some(tls) = &options.tls
            && !stream.tls
            && stream.features.get_child("starttls", ns::TLS).is_some()
        {
            stream = stream.starttls(tls.clone()).await?;
        }
        let profile = if options.sasl2 && stream.offers_bind2() {
            SaslProfile::Sasl2
        } else {
            SaslProfile::Rfc6120
        };
        let offered = stream.offered(profile);
        let mechanism = [
            "SCRAM-SHA-256-PLUS",
            "SCRAM-SHA-256",
            "SCRAM-SHA-1",
            "PLAIN",
        ]
        .into_iter()
        .find(|m| offered.iter().any(|o| o == m))
        .and_then(Mechanism::from_name)
        .ok_or_else(|| ClientError::Protocol(format!("no usable mechanism in {offered:?}")))?;
        let resource = options.resource.as_deref();
        let jid = if profile == SaslProfile::Sasl2 {
            stream
                .authenticate_sasl2(mechanism, username, password, Some(resource.unwrap_or("")))
                .await?
                .jid
        } else {
            stream.authenticate(mechanism, username, password).await?;
            stream.bind(resource).await?
        };
        Ok((stream, jid))
    }

    /// Splits a negotiated stream so that one task can read while another writes; neither
    /// half's operations are cancel-safe, so a single task cannot `select!` over both.
    pub fn into_split(self) -> (Reader, Writer) {
        (self.reader, self.writer)
    }

    /// Sends one element and flushes.
    pub async fn send(&mut self, e: &Element) -> Result<(), ClientError> {
        Ok(self.writer.write_element(e).await?)
    }

    /// Queues one element without flushing (for batching).
    pub fn queue(&mut self, e: &Element) {
        self.writer.queue_element(e);
    }

    /// Flushes queued elements.
    pub async fn flush(&mut self) -> Result<(), ClientError> {
        Ok(self.writer.flush().await?)
    }

    /// Sends raw text (for tests of malformed input).
    pub async fn send_raw(&mut self, s: &str) -> Result<(), ClientError> {
        Ok(self.writer.write_raw(s).await?)
    }

    /// Closes our stream (RFC 6120 §4.4).
    pub async fn close(&mut self) -> Result<(), ClientError> {
        Ok(self.writer.write_close().await?)
    }

    /// The next stream event.
    pub async fn next_event(&mut self) -> Result<StreamEvent, ClientError> {
        Ok(self.reader.next().await?)
    }

    /// The next element, skipping keepalives; a `<stream:error/>` becomes
    /// [`ClientError::Stream`], a stream close a protocol error.
    pub async fn next_element(&mut self) -> Result<Element, ClientError> {
        loop {
            match self.reader.next().await? {
                StreamEvent::Element(e) => {
                    if let Some(err) = StreamError::from_element(&e) {
                        return Err(ClientError::Stream(err));
                    }
                    return Ok(e);
                }
                StreamEvent::Keepalive => {}
                other => {
                    return Err(ClientError::Protocol(format!(
                        "expected an element, got {other:?}"
                    )));
                }
            }
        }
    }
}

fn sasl_error(profile: SaslProfile, e: &Element) -> ClientError {
    if let Some(condition) = profile.failure_condition(e) {
        return ClientError::Sasl(condition);
    }
    match StreamError::from_element(e) {
        Some(err) => ClientError::Stream(err),
        None => ClientError::Protocol(format!("unexpected {e}")),
    }
}

/// Negotiates TLS on `tcp`, with `first` queued to leave as soon as the handshake is done.
async fn tls_connect(
    tcp: TcpStream,
    domain: &str,
    config: Arc<rustls::ClientConfig>,
    first: &[u8],
) -> Result<Transport<TcpStream>, ClientError> {
    let name =
        ServerName::try_from(domain.to_owned()).map_err(|e| ClientError::Tls(e.to_string()))?;
    let mut queued = Ok(());
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect_with(name, tcp, |conn| {
            // Held in rustls's plaintext buffer (64 KiB) until the keys exist.
            queued = std::io::Write::write_all(&mut conn.writer(), first);
        })
        .await
        .map_err(|e| ClientError::Tls(e.to_string()))?;
    queued?;
    Ok(Transport::ClientTls(Box::new(tls)))
}
