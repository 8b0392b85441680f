//! The connection manager as a library call: `run` takes already-bound listeners and a
//! shutdown token, so tests bind `127.0.0.1:0` and drive the real server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use storage::AccountStore;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use xmpp_core::{StreamError, StreamErrorCondition};

use crate::cluster::{self, Cluster};
use crate::config::C2sConfig;
use crate::registry::SessionRegistry;
use crate::session::serve_connection;

/// Everything a session needs from the server, shared by all sessions.
pub struct C2sServer {
    /// Validated configuration.
    pub config: C2sConfig,
    /// TLS for STARTTLS and direct TLS.
    pub tls_acceptor: xmpp_stream::ServerTls,
    /// Where accounts and their credentials live.
    pub accounts: Arc<dyn AccountStore>,
    /// Bound sessions of this process.
    pub sessions: SessionRegistry,
    /// The shards this node calls and its bus subscriptions.
    pub cluster: Cluster,
    /// Secret from which SCRAM derives a stable fake salt for accounts that do not exist, so
    /// that a login attempt cannot tell which accounts exist (every process of a deployment
    /// and every restart must use the same one).
    pub(crate) scram_decoy_secret: [u8; 32],
}

impl std::fmt::Debug for C2sServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("C2sServer")
            .field("domain", &self.config.domain)
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

impl C2sServer {
    /// A server over `accounts` with `tls` as its TLS configuration, `scram_decoy_secret`
    /// as the deployment's secret for fake SCRAM salts, and `cluster` as its link to the
    /// roster-presence shards.
    pub fn new(
        config: C2sConfig,
        tls: Arc<rustls::ServerConfig>,
        accounts: Arc<dyn AccountStore>,
        scram_decoy_secret: [u8; 32],
        cluster: Cluster,
    ) -> Arc<Self> {
        let cluster = cluster.with_call_limits(&config.limits);
        let tls_acceptor = xmpp_stream::ServerTls::new(tls, config.tls.compact_sessions);
        Arc::new(Self {
            config,
            tls_acceptor,
            accounts,
            sessions: SessionRegistry::new(),
            cluster,
            scram_decoy_secret,
        })
    }
}

/// The listening sockets of a connection manager.
#[derive(Debug)]
pub struct Listeners {
    /// STARTTLS listener (RFC 6120 §5).
    pub starttls: TcpListener,
    /// Direct TLS listener (XEP-0368), if enabled.
    pub direct_tls: Option<TcpListener>,
}

impl Listeners {
    /// Binds the addresses of `config`, each with the backlog of `limits.listen_backlog`.
    pub async fn bind(config: &C2sConfig) -> std::io::Result<Self> {
        let backlog = config.limits.listen_backlog;
        let starttls = listen(config.listen, backlog)?;
        let direct_tls = match config.listen_tls {
            Some(addr) => Some(listen(addr, backlog)?),
            None => None,
        };
        Ok(Self {
            starttls,
            direct_tls,
        })
    }
}

/// A listener on `addr` made as `TcpListener::bind` makes one (`SO_REUSEADDR`, so a
/// restarted server binds while old connections are in TIME_WAIT), but with `backlog`
/// instead of its 128.
fn listen(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// Accepts and serves clients until `shutdown` is cancelled, then closes every stream with
/// `<system-shutdown/>` and returns once they are closed or the grace period is over.
/// Deliveries arriving in `inbox` (the node inbox whose subscriptions `server.cluster`
/// manages) are written to the local sessions meanwhile.
pub async fn run(
    server: Arc<C2sServer>,
    listeners: Listeners,
    inbox: bus::Inbox,
    shutdown: CancellationToken,
) {
    let inbox_task = tokio::spawn(cluster::run_inbox(
        server.clone(),
        inbox,
        shutdown.child_token(),
    ));
    let max = server.config.limits.max_connections;
    let permits = Arc::new(Semaphore::new(max));
    for (listener, direct_tls) in [
        (Some(&listeners.starttls), false),
        (listeners.direct_tls.as_ref(), true),
    ] {
        if let Some(addr) = listener.and_then(|l| l.local_addr().ok()) {
            tracing::info!(%addr, direct_tls, "listening for clients");
        }
    }
    accept_loop(&server, &listeners, &permits, &shutdown).await;
    // Bound sessions end through their controls, on which their readers wait (not on the
    // shared token: `session::bound`); one bound after this sees the token cancelled.
    for session in server.sessions.all() {
        session
            .control()
            .terminate(StreamError::new(StreamErrorCondition::SystemShutdown));
    }
    // Every session holds a permit until it has closed its stream: all permits back means
    // all streams closed.
    let grace = Duration::from_secs(server.config.limits.shutdown_grace_secs);
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(grace, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace period over with sessions still open");
    }
    inbox_task.abort();
}

/// Takes a connection permit, then accepts from whichever listener has a connection (so the
/// limit is backpressure, not rejection). One loop serves both listeners: with a loop each,
/// an idle listener's loop could sit on the only free permit while clients wait on the other.
async fn accept_loop(
    server: &Arc<C2sServer>,
    listeners: &Listeners,
    permits: &Arc<Semaphore>,
    shutdown: &CancellationToken,
) {
    let direct_accept = async |l: Option<&TcpListener>| match l {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    };
    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => return,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let (accepted, direct_tls) = tokio::select! {
            () = shutdown.cancelled() => return,
            a = listeners.starttls.accept() => (a, false),
            a = direct_accept(listeners.direct_tls.as_ref()) => (a, true),
        };
        match accepted {
            Ok((tcp, peer)) => {
                tokio::spawn(serve_connection(
                    server.clone(),
                    tcp,
                    peer,
                    direct_tls,
                    shutdown.clone(),
                    permit,
                ));
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::net::TcpStream;
    use tokio::time::timeout;

    use super::*;

    /// The kernel queues `backlog` + 1 connections that nobody accepted yet and drops the
    /// SYN of the next, so a listener made with a backlog of 2 completes three connects and
    /// leaves the fourth waiting for its retransmission; once one is accepted, it completes.
    #[tokio::test]
    async fn the_listener_queues_what_its_backlog_allows() {
        let listener = listen("127.0.0.1:0".parse().unwrap(), 2).unwrap();
        let addr = listener.local_addr().unwrap();
        let connect = |within| timeout(within, TcpStream::connect(addr));
        let mut queued = Vec::new();
        for _ in 0..3 {
            let queue = connect(Duration::from_secs(5)).await;
            queued.push(queue.expect("queued in the backlog").unwrap());
        }
        assert!(
            connect(Duration::from_millis(300)).await.is_err(),
            "past the backlog the SYN is dropped"
        );
        let (_first, _) = listener.accept().await.unwrap();
        let late = connect(Duration::from_secs(5)).await;
        assert!(late.expect("room again after an accept").is_ok());
    }
}
