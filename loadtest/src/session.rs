//! One logged-in user: a TCP (optionally TLS) stream split into a reader task, which turns
//! every presence and message into a [`Receipt`] for the ledger (read with
//! [`crate::receive`] once logged in), and a writer task, which
//! batches what the scenario sends. The halves live in separate tasks because neither the
//! reader's nor the writer's futures may be cancelled mid-way, which rules out one task
//! `select!`ing over both.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use quick_xml::escape::unescape;
use socket2::{Domain, Socket, Type};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use xmpp_core::sasl::SaltedPasswordCache;
use xmpp_core::{Element, ns};
use xmpp_stream::client::{ClientStream, LoginOptions, Reader, Writer};

use crate::accounting::{Ledger, Receipt};
use crate::driver::lock;
use crate::provision::username;
use crate::receive::{Item, Received, Stanza};
use crate::stamp::now_us;

/// Stanzas queued for one session's writer; the scenario waits when it is full, which is the
/// honest outcome when the server reads slower than the scenario sends.
const WRITE_QUEUE: usize = 64;
/// Most stanzas written per flush.
const BATCH: usize = 64;
/// Room made for each read from the transport: a few stanzas; what does not fit stays in
/// the TLS layer's buffer for the next read.
const READ_CHUNK: usize = 2048;
/// The resource each session asks for (RFC 6120 binding), or its tag (Bind 2, where the
/// server adds a part of its own).
const RESOURCE: &str = "load";

/// What every session needs to log in.
#[derive(Debug)]
pub struct LoginParams {
    /// The server's client port.
    pub server: SocketAddr,
    /// The XMPP domain.
    pub domain: String,
    /// Everyone's password.
    pub password: String,
    /// Source addresses to spread connections over; empty lets the kernel choose.
    pub sources: Vec<IpAddr>,
    /// How every session logs in ([`login_options`]): TLS (`None` is plain TCP), direct
    /// TLS (then `server` is the direct TLS port), SASL2, and the SaltedPassword values
    /// all logins share (RFC 5802 §5.1).
    pub options: LoginOptions,
}

/// The options every session logs in with; the resource is [`RESOURCE`].
pub fn login_options(
    tls: Option<Arc<rustls::ClientConfig>>,
    salted_cache: Option<Arc<SaltedPasswordCache>>,
    sasl2: bool,
    direct_tls: bool,
) -> LoginOptions {
    LoginOptions {
        resource: Some(RESOURCE.to_owned()),
        tls,
        salted_cache,
        sasl2,
        direct_tls,
    }
}

/// Counters every session's tasks update.
#[derive(Debug, Default)]
pub struct Counters {
    /// Streams that ended while the run was going on.
    pub disconnects: AtomicU64,
    /// Error stanzas received (type='error').
    pub errors: AtomicU64,
    /// Stanzas received in all.
    pub received: AtomicU64,
}

/// A logged-in session, as the scenario sees it.
#[derive(Debug)]
pub struct Session {
    /// The user index.
    pub index: u32,
    /// Stanzas to write.
    pub tx: mpsc::Sender<Element>,
    /// Set by the reader when the server's stream has ended. The writer stops only when a
    /// write fails, which on TCP is the second one after the peer has gone (the first
    /// draws its reset); checked before each send, it keeps stanzas that could never arrive
    /// from being sent and counted as missing.
    pub ended: Arc<AtomicBool>,
}

/// Opens a TCP connection from `source` (if given) to `server`.
///
/// Binding with port 0 makes the kernel choose a port per source address, so each 127.0.0.x
/// brings its own 28k ephemeral ports. (IP_BIND_ADDRESS_NO_PORT would defer the choice to
/// connect time; socket2 0.6 has no setter for it and this workspace forbids `unsafe`, and
/// with a single destination it would not add ports anyway.)
pub async fn connect_tcp(server: SocketAddr, source: Option<IpAddr>) -> anyhow::Result<TcpStream> {
    let Some(src) = source else {
        return Ok(TcpStream::connect(server).await?);
    };
    let socket = Socket::new(Domain::for_address(server), Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    socket
        .bind(&SocketAddr::new(src, 0).into())
        .with_context(|| format!("cannot bind to {src}"))?;
    let socket = TcpSocket::from_std_stream(std::net::TcpStream::from(socket));
    Ok(socket.connect(server).await?)
}

/// Logs user `index` in and starts its reader and writer tasks.
pub async fn login(
    index: u32,
    p: &LoginParams,
    ledger: Arc<Mutex<Ledger>>,
    counters: Arc<Counters>,
) -> anyhow::Result<Session> {
    let source = (!p.sources.is_empty()).then(|| p.sources[index as usize % p.sources.len()]);
    let tcp = connect_tcp(p.server, source).await?;
    let user = username(index);
    let (stream, _jid) = ClientStream::login_with(tcp, &p.domain, &user, &p.password, &p.options)
        .await
        .with_context(|| format!("login of {user}"))?;
    let (reader, writer) = stream.into_split();
    let (tx, rx) = mpsc::channel(WRITE_QUEUE);
    tokio::spawn(write_loop(writer, rx));
    let ended = Arc::new(AtomicBool::new(false));
    let reader_task = ReadLoop {
        index,
        domain: p.domain.clone(),
        ledger,
        counters,
        tx: tx.clone(),
        ended: ended.clone(),
    };
    tokio::spawn(reader_task.run(reader));
    Ok(Session { index, tx, ended })
}

async fn write_loop(mut w: Writer, mut rx: mpsc::Receiver<Element>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        for e in batch.drain(..) {
            w.queue_element(&e);
        }
        if w.flush().await.is_err() {
            return;
        }
    }
    let _ = w.write_close().await;
}

struct ReadLoop {
    index: u32,
    domain: String,
    /// Where receipts go, straight from the reader: handing them to a task of the ledger's
    /// own cost a queue push and a task wake-up each (about 0.02 cores at 57,000/s).
    ledger: Arc<Mutex<Ledger>>,
    counters: Arc<Counters>,
    /// Answers to server pings; a clone of the session's own writer queue.
    tx: mpsc::Sender<Element>,
    /// [`Session::ended`].
    ended: Arc<AtomicBool>,
}

impl ReadLoop {
    /// Reads on from where the login's reader stopped, with the generator's own receive
    /// path ([`crate::receive`]).
    async fn run(self, reader: Reader) {
        let (mut io, unread) = reader.into_parts();
        let mut received = Received::new(unread);
        loop {
            loop {
                match received.next_item() {
                    Ok(Item::Stanza(stanza)) => self.handle(stanza),
                    Ok(Item::NeedMore) => break,
                    Ok(Item::Close) | Err(_) => return self.disconnected(),
                }
            }
            match io.read_buf(received.spare(READ_CHUNK)).await {
                Ok(0) | Err(_) => return self.disconnected(),
                Ok(_) => {}
            }
        }
    }

    fn disconnected(&self) {
        // Counted before it is marked (released to the sender's acquiring load), so that a
        // run that stops at this session reports its end.
        self.counters.disconnects.fetch_add(1, Ordering::Relaxed);
        self.ended.store(true, Ordering::Release);
    }

    /// Matches one stanza.
    fn handle(&self, s: Stanza<'_>) {
        let recv_us = now_us();
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        if s.kind == Some("error") {
            self.counters.errors.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if s.name == "iq" {
            if s.kind == Some("get") && s.ping {
                let mut pong = Element::new("iq", ns::JABBER_CLIENT).with_attr("type", "result");
                for (name, value) in [("id", s.id), ("to", s.from)] {
                    if let Some(v) = value.and_then(|v| unescape(v).ok()) {
                        pong.set_attr(name, v.into_owned());
                    }
                }
                let _ = self.tx.try_send(pong);
            }
            return;
        }
        // Only availability counts: unavailable and subscription presences are not measured.
        let measured = match s.name {
            "presence" => s.kind.is_none(),
            "message" => true,
            _ => false,
        };
        if !measured {
            return;
        }
        let sender = s.from.and_then(|f| user_index(f, &self.domain));
        if sender == Some(self.index) {
            return; // our own presence, reflected to our own resources (RFC 6121 §4.2.2)
        }
        let receipt = Receipt {
            recipient: self.index,
            sender,
            stamp: s.stamp,
            recv_us,
        };
        lock(&self.ledger).receive(receipt);
    }
}

/// The user index in `user{i}@domain[/resource]`, if the address is one of ours.
pub fn user_index(jid: &str, domain: &str) -> Option<u32> {
    let (local, rest) = jid.split_once('@')?;
    let d = rest.split('/').next()?;
    if d != domain {
        return None;
    }
    local.strip_prefix("user")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_indices_come_from_our_addresses_only() {
        assert_eq!(user_index("user12@localhost/load", "localhost"), Some(12));
        assert_eq!(user_index("user3@localhost", "localhost"), Some(3));
        assert_eq!(user_index("user3@other/load", "localhost"), None);
        assert_eq!(user_index("juliet@localhost", "localhost"), None);
        assert_eq!(user_index("localhost", "localhost"), None);
    }
}
