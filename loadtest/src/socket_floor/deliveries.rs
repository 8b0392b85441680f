//! Deliveries: this process writes messages over N connections at the rate asked, one
//! `send` each to the next connection in turn, as a server writes deliveries to its
//! sessions; the second process reads them, one task per connection on one runtime, as the
//! generator does.

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::AsyncReadExt;
use tokio::sync::Notify;

use super::peer::{self, Peer};
use super::{Floor, SocketFloorArgs};
use crate::procstat;

/// Time the connections may take to be made.
const CONNECT_DEADLINE: Duration = Duration::from_secs(60);
/// The writer's pause between paced batches; at 100,000 messages/s a batch is about 25.
const PACE_STEP: Duration = Duration::from_micros(250);
/// The reading side's buffer per connection: a few messages of a presence's size.
const READ_BUFFER: usize = 1024;

/// This process's part: listens, starts the reader, writes at the rate asked, and reads the
/// reader's report.
pub fn writing_side(args: &SocketFloorArgs) -> anyhow::Result<Floor> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("listening on loopback")?;
    let address = listener.local_addr()?;
    let expect = (args.rate * args.duration).round() as u64;
    let mut reader = Peer::start(args, address, Some(expect))?;
    let mut connections = accept(&listener, args.connections, &mut reader.child)?;
    reader.ready()?;
    let message = vec![b'x'; args.bytes];
    let before = procstat::sample("self")?;
    let started = Instant::now();
    let written = write_paced(&mut connections, &message, args.rate, expect)?;
    let load_s = started.elapsed().as_secs_f64();
    let after = procstat::sample("self")?;
    let (received, client_cpu_s) = reader.report()?;
    Ok(Floor {
        asked: written,
        done: received,
        load_s,
        server_cpu_s: after.cpu_s - before.cpu_s,
        client_cpu_s,
    })
}

/// The second process's part: connects, then reads until the messages expected have arrived
/// or the load's time and [`peer::GRACE`] have passed.
pub async fn reading_side(args: &SocketFloorArgs, address: SocketAddr) -> anyhow::Result<bool> {
    let mut streams = Vec::with_capacity(args.connections as usize);
    for _ in 0..args.connections {
        streams.push(
            tokio::net::TcpStream::connect(address)
                .await
                .with_context(|| format!("connecting to {address}"))?,
        );
    }
    let expect_bytes = args.expect * args.bytes as u64;
    let reading = Reading::start(streams, expect_bytes);
    let wait = Duration::from_secs_f64(args.load_s()) + peer::GRACE;
    let bytes = peer::report_on(async { reading.wait(wait).await / args.bytes as u64 }).await?;
    Ok(bytes == args.expect)
}

/// The reading of every connection, one task each on the current runtime, counting bytes.
pub(super) struct Reading {
    received: Arc<AtomicU64>,
    complete: Arc<Notify>,
    expect_bytes: u64,
}

impl Reading {
    /// Starts reading `streams` until each closes; `complete` is told once `expect_bytes`
    /// have arrived in all.
    pub(super) fn start(streams: Vec<tokio::net::TcpStream>, expect_bytes: u64) -> Self {
        let received = Arc::new(AtomicU64::new(0));
        let complete = Arc::new(Notify::new());
        for mut stream in streams {
            let received = Arc::clone(&received);
            let complete = Arc::clone(&complete);
            tokio::spawn(async move {
                let mut buffer = [0_u8; READ_BUFFER];
                while let Ok(n @ 1..) = stream.read(&mut buffer).await {
                    let total = received.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
                    if total >= expect_bytes {
                        complete.notify_one();
                    }
                }
            });
        }
        Reading {
            received,
            complete,
            expect_bytes,
        }
    }

    /// The bytes received once all expected have arrived, or when `wait` has passed.
    pub(super) async fn wait(&self, wait: Duration) -> u64 {
        if self.expect_bytes > 0 {
            let _ = tokio::time::timeout(wait, self.complete.notified()).await;
        }
        self.received.load(Ordering::Relaxed)
    }
}

/// Accepts `n` connections, as blocking sockets without Nagle's delay (as a server's
/// sessions are), unless the reader ends or [`CONNECT_DEADLINE`] passes first.
fn accept(listener: &TcpListener, n: u32, reader: &mut Child) -> anyhow::Result<Vec<TcpStream>> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + CONNECT_DEADLINE;
    let mut accepted = Vec::with_capacity(n as usize);
    while accepted.len() < n as usize {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false)?;
                stream.set_nodelay(true)?;
                accepted.push(stream);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Some(status) = reader.try_wait()? {
                    bail!("the reading process ended ({status}) while connecting");
                }
                if Instant::now() > deadline {
                    bail!(
                        "{} of {n} connections made in {CONNECT_DEADLINE:?}",
                        accepted.len()
                    );
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(e).context("accepting"),
        }
    }
    Ok(accepted)
}

/// Writes `total` copies of `message`, each to the next connection in turn, paced at `rate`
/// per second from now; returns how many were written.
pub(super) fn write_paced(
    connections: &mut [TcpStream],
    message: &[u8],
    rate: f64,
    total: u64,
) -> std::io::Result<u64> {
    let started = Instant::now();
    let mut written = 0_u64;
    let mut next = 0;
    while written < total {
        let due = ((started.elapsed().as_secs_f64() * rate) as u64).min(total);
        while written < due {
            connections[next].write_all(message)?;
            next = (next + 1) % connections.len();
            written += 1;
        }
        if written < total {
            std::thread::sleep(PACE_STEP);
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests;
