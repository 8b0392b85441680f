//! Logins: the second process opens N connections at the rate asked, each then sending a
//! message and reading an answer `--round-trips` times, as a login's negotiation does, and
//! keeps it open; this process accepts them and answers, one task per connection on one
//! runtime. No XMPP, TLS or storage: what the kernel charges each end for a login's
//! connection and round trips.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::peer::{self, Peer};
use super::{Floor, SocketFloorArgs};
use crate::procstat;

/// This process's part: listens, starts the clients' process, answers every login, and
/// reads the clients' report.
pub async fn server_side(args: &SocketFloorArgs) -> anyhow::Result<Floor> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .context("listening on loopback")?;
    let address = listener.local_addr()?;
    let mut clients = Peer::start(args, address, None)?;
    clients.ready()?;
    let serving = tokio::spawn(serve(
        listener,
        args.connections,
        args.round_trips,
        args.bytes,
    ));
    let before = procstat::sample("self")?;
    let started = std::time::Instant::now();
    // The report is read on a thread of its own, while this runtime answers the logins; this
    // process's CPU is read as soon as it arrives, before the clients' connections close.
    let (report, after, clients) = tokio::task::spawn_blocking(move || {
        let report = clients.report();
        (report, procstat::sample("self"), clients)
    })
    .await
    .context("waiting for the clients' report")?;
    let load_s = started.elapsed().as_secs_f64();
    drop(clients);
    serving.abort();
    let (completed, client_cpu_s) = report?;
    Ok(Floor {
        asked: u64::from(args.connections),
        done: completed,
        load_s,
        server_cpu_s: after?.cpu_s - before.cpu_s,
        client_cpu_s,
    })
}

/// Accepts `n` connections and answers each `round_trips` messages of `bytes`, then holds it
/// until the client closes it.
pub(super) async fn serve(listener: TcpListener, n: u32, round_trips: u32, bytes: usize) {
    let answer: Arc<[u8]> = vec![b'y'; bytes].into();
    for _ in 0..n {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let answer = Arc::clone(&answer);
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let _ = answer_login(stream, round_trips, &answer).await;
        });
    }
}

async fn answer_login(
    mut stream: TcpStream,
    round_trips: u32,
    answer: &[u8],
) -> std::io::Result<()> {
    let mut message = vec![0; answer.len()];
    for _ in 0..round_trips {
        stream.read_exact(&mut message).await?;
        stream.write_all(answer).await?;
    }
    drop(message);
    // Held as a bound session is, until the client goes.
    let _ = stream.read(&mut [0; 1]).await;
    Ok(())
}

/// The second process's part: opens the logins at the rate asked and reports how many
/// completed once all have or the load's time and [`peer::GRACE`] have passed.
pub async fn client_side(args: &SocketFloorArgs, address: SocketAddr) -> anyhow::Result<bool> {
    let wait = Duration::from_secs_f64(args.load_s()) + peer::GRACE;
    let logins = Logins::new(args.connections);
    let completed = peer::report_on(async {
        logins
            .open_paced(address, args.rate, args.round_trips, args.bytes)
            .await;
        logins.wait(wait).await
    })
    .await?;
    Ok(completed == u64::from(args.connections))
}

/// Logins opened by the clients' side, counting those that completed their round trips.
pub(super) struct Logins {
    n: u32,
    completed: Arc<AtomicU64>,
    /// Whether a login has failed (the first failure is told on stderr).
    failed: Arc<AtomicBool>,
    all_done: Arc<Notify>,
    started: Instant,
}

impl Logins {
    pub(super) fn new(n: u32) -> Self {
        Logins {
            n,
            completed: Arc::new(AtomicU64::new(0)),
            failed: Arc::new(AtomicBool::new(false)),
            all_done: Arc::new(Notify::new()),
            started: Instant::now(),
        }
    }

    /// Opens the `n` logins at `rate` per second (the generator's own pacing), each a task on
    /// the current runtime.
    pub(super) async fn open_paced(
        &self,
        address: SocketAddr,
        rate: f64,
        round_trips: u32,
        bytes: usize,
    ) {
        let message: Arc<[u8]> = vec![b'x'; bytes].into();
        let n = u64::from(self.n);
        let opening = crate::driver::paced(rate, Duration::MAX / 4, n, |_| {
            let message = Arc::clone(&message);
            let completed = Arc::clone(&self.completed);
            let all_done = Arc::clone(&self.all_done);
            let failed = Arc::clone(&self.failed);
            tokio::spawn(async move {
                let mut stream = match log_in(address, round_trips, &message).await {
                    Ok(stream) => stream,
                    Err(error) => {
                        if !failed.swap(true, Ordering::Relaxed) {
                            eprintln!("socket-floor: a login failed (the first): {error}");
                        }
                        return;
                    }
                };
                if completed.fetch_add(1, Ordering::Relaxed) + 1 == n {
                    all_done.notify_one();
                }
                // Held open, as a bound session is, until the run ends.
                let _ = stream.read(&mut [0; 1]).await;
            });
            std::future::ready(Ok(()))
        });
        // Opening a login cannot fail; its failures are counted where it runs.
        let _ = opening.await;
    }

    /// The logins completed once all have, or once `wait` has passed since they started.
    pub(super) async fn wait(&self, wait: Duration) -> u64 {
        let _ = tokio::time::timeout_at(self.started + wait, self.all_done.notified()).await;
        self.completed.load(Ordering::Relaxed)
    }
}

/// Connects and exchanges `round_trips` messages and answers of `message`'s length. The
/// connection is reset when it is dropped rather than closed, leaving no TIME_WAIT behind:
/// the clients' side ends first, and runs one after another would otherwise find its
/// ephemeral ports taken by the runs before.
async fn log_in(
    address: SocketAddr,
    round_trips: u32,
    message: &[u8],
) -> std::io::Result<TcpStream> {
    let mut stream = TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO))?;
    let mut answer = vec![0; message.len()];
    for _ in 0..round_trips {
        stream.write_all(message).await?;
        stream.read_exact(&mut answer).await?;
    }
    Ok(stream)
}

#[cfg(test)]
mod tests;
