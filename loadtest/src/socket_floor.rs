//! `socket-floor`: what the kernel alone charges for a delivery on this machine, with no XMPP,
//! TLS or server in the way. This process writes messages of a delivery's size over N
//! loopback TCP connections at a set total rate, one `send` each and each to the next
//! connection in turn, as a server writes deliveries to its sessions; a second process (this
//! binary again, `--receive-from`) holds the other ends on one single-threaded runtime, as
//! the generator does, and reads them. Each side's CPU per message is the floor under a
//! server's and a generator's cost per delivery on the same two cores, whatever either does
//! besides: on loopback the sender's `send` also runs the receiving side's TCP processing,
//! which on a network would run on the clients' machines.
//!
//! Bounded: `--duration` seconds of writing at most an hour, connections within the
//! descriptor limit, loopback only (the listener is on 127.0.0.1). The receiving process
//! reports once everything written has arrived or `--duration` plus [`RECEIVE_GRACE`] has
//! passed, and stops by itself when its connections close; this process ends it by its PID
//! if it is still there when the run ends.

use std::io::{BufRead, BufReader, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::AsyncReadExt;
use tokio::sync::Notify;

use crate::procstat;

/// Time the receiving side waits for the last message beyond the writing's own duration.
const RECEIVE_GRACE: Duration = Duration::from_secs(30);
/// Time the connections may take to be made.
const CONNECT_DEADLINE: Duration = Duration::from_secs(60);
/// Descriptors kept free for everything besides the connections.
const SPARE_FDS: u64 = 64;
/// Longest run asked for, in seconds of writing.
const MAX_DURATION_S: f64 = 3600.0;
/// The writer's pause between paced batches; at 100,000 messages/s a batch is about 25.
const PACE_STEP: Duration = Duration::from_micros(250);
/// The receiving side's read buffer per connection: a few messages of a presence's size.
const READ_BUFFER: usize = 1024;

#[derive(Clone, Debug, clap::Args)]
pub struct SocketFloorArgs {
    /// Connections, as many as a run's sessions.
    #[arg(long, default_value_t = 10_000)]
    connections: u32,
    /// Messages per second, in total.
    #[arg(long, default_value_t = 100_000.0)]
    rate: f64,
    /// Bytes per message: a presence delivery in its TLS record is about 200–300.
    #[arg(long, default_value_t = 200)]
    bytes: usize,
    /// Seconds of writing.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// The receiving side's part: connect to this address and read (given by the writing
    /// side to the process it starts).
    #[arg(long, hide = true)]
    receive_from: Option<SocketAddr>,
    /// The receiving side's part: the messages to wait for.
    #[arg(long, hide = true, default_value_t = 0)]
    expect: u64,
}

/// What one run measured: the messages each side handled and the CPU it took.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Floor {
    pub written: u64,
    pub received: u64,
    /// Wall-clock seconds of writing.
    pub write_s: f64,
    pub writer_cpu_s: f64,
    pub reader_cpu_s: f64,
}

impl Floor {
    /// Microseconds of the writing process's CPU per message.
    pub fn writer_us(&self) -> f64 {
        per_message_us(self.writer_cpu_s, self.written)
    }

    /// Microseconds of the receiving process's CPU per message.
    pub fn reader_us(&self) -> f64 {
        per_message_us(self.reader_cpu_s, self.received)
    }

    /// Cores the two sides took at `rate` messages per second, from their cost per message.
    pub fn cores_at(&self, rate: f64) -> (f64, f64) {
        (self.writer_us() * rate / 1e6, self.reader_us() * rate / 1e6)
    }
}

fn per_message_us(cpu_s: f64, messages: u64) -> f64 {
    if messages == 0 {
        return 0.0;
    }
    cpu_s * 1e6 / messages as f64
}

/// Runs either side; true when every message written arrived.
pub async fn execute(args: &SocketFloorArgs) -> anyhow::Result<bool> {
    if !(args.rate.is_finite() && args.rate > 0.0) {
        bail!("--rate must be a positive number of messages per second");
    }
    if !(args.duration > 0.0 && args.duration <= MAX_DURATION_S) {
        bail!("--duration must be more than 0 and at most {MAX_DURATION_S} seconds");
    }
    if args.bytes == 0 || args.bytes > 65_536 {
        bail!("--bytes must be 1 to 65,536");
    }
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    ensure_descriptors(args.connections)?;
    if let Some(address) = args.receive_from {
        return receiving_side(args, address).await;
    }
    let writing = args.clone();
    let floor = tokio::task::spawn_blocking(move || writing_side(&writing))
        .await
        .context("the writing side panicked")??;
    writeln!(std::io::stdout(), "{}", table(args, &floor))?;
    Ok(floor.received == floor.written)
}

/// The receiving process: connects, says `ready`, reads until the messages expected have
/// arrived or the grace has passed, then reports `received <messages> <cpu seconds>`, the
/// CPU counted from `ready` on.
async fn receiving_side(args: &SocketFloorArgs, address: SocketAddr) -> anyhow::Result<bool> {
    if !address.ip().is_loopback() {
        bail!("socket-floor connects to loopback addresses only, not {address}");
    }
    let mut streams = Vec::with_capacity(args.connections as usize);
    for _ in 0..args.connections {
        streams.push(
            tokio::net::TcpStream::connect(address)
                .await
                .with_context(|| format!("connecting to {address}"))?,
        );
    }
    let expect_bytes = args.expect * args.bytes as u64;
    let wait = Duration::from_secs_f64(args.duration) + RECEIVE_GRACE;
    let reading = Reading::start(streams, expect_bytes);
    let mut stdout = std::io::stdout();
    writeln!(stdout, "ready")?;
    stdout.flush()?;
    let before = procstat::sample("self")?;
    let bytes = reading.wait(wait).await;
    let after = procstat::sample("self")?;
    writeln!(
        stdout,
        "received {} {}",
        bytes / args.bytes as u64,
        after.cpu_s - before.cpu_s
    )?;
    stdout.flush()?;
    Ok(bytes == expect_bytes)
}

/// The reading of every connection, one task each on the current runtime, counting bytes.
struct Reading {
    received: Arc<AtomicU64>,
    complete: Arc<Notify>,
    expect_bytes: u64,
}

impl Reading {
    /// Starts reading `streams` until each closes; `complete` is told once `expect_bytes`
    /// have arrived in all.
    fn start(streams: Vec<tokio::net::TcpStream>, expect_bytes: u64) -> Self {
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
    async fn wait(&self, wait: Duration) -> u64 {
        if self.expect_bytes > 0 {
            let _ = tokio::time::timeout(wait, self.complete.notified()).await;
        }
        self.received.load(Ordering::Relaxed)
    }
}

/// The receiving process, ended by its PID if the run ends before it does.
struct Receiver {
    child: Child,
    stdout: BufReader<ChildStdout>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    fn start(args: &SocketFloorArgs, address: SocketAddr, expect: u64) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("finding this program to start the reader")?;
        let mut child = Command::new(exe)
            .arg("socket-floor")
            .args(["--receive-from", &address.to_string()])
            .args(["--connections", &args.connections.to_string()])
            .args(["--bytes", &args.bytes.to_string()])
            .args(["--duration", &args.duration.to_string()])
            .args(["--rate", &args.rate.to_string()])
            .args(["--expect", &expect.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the receiving process")?;
        let stdout = BufReader::new(child.stdout.take().context("the reader's stdout")?);
        Ok(Receiver { child, stdout })
    }

    fn line(&mut self) -> anyhow::Result<String> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            bail!("the receiving process ended before it reported (its errors are above)");
        }
        Ok(line.trim_end().to_owned())
    }
}

/// This process's part: listens, starts the receiver, writes at the rate asked, and reads the
/// receiver's report.
fn writing_side(args: &SocketFloorArgs) -> anyhow::Result<Floor> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("listening on loopback")?;
    let address = listener.local_addr()?;
    let expect = (args.rate * args.duration).round() as u64;
    let mut receiver = Receiver::start(args, address, expect)?;
    let mut connections = accept(&listener, args.connections, &mut receiver.child)?;
    let ready = receiver.line()?;
    if ready != "ready" {
        bail!("the receiving process said {ready:?} instead of ready");
    }
    let message = vec![b'x'; args.bytes];
    let before = procstat::sample("self")?;
    let started = Instant::now();
    let written = write_paced(&mut connections, &message, args.rate, expect)?;
    let write_s = started.elapsed().as_secs_f64();
    let after = procstat::sample("self")?;
    let report = receiver.line()?;
    drop(connections);
    let (received, reader_cpu_s) =
        parse_report(&report).with_context(|| format!("the receiver reported {report:?}"))?;
    Ok(Floor {
        written,
        received,
        write_s,
        writer_cpu_s: after.cpu_s - before.cpu_s,
        reader_cpu_s,
    })
}

/// Accepts `n` connections, as blocking sockets without Nagle's delay (as a server's
/// sessions are), unless the receiver ends or [`CONNECT_DEADLINE`] passes first.
fn accept(listener: &TcpListener, n: u32, receiver: &mut Child) -> anyhow::Result<Vec<TcpStream>> {
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
                if let Some(status) = receiver.try_wait()? {
                    bail!("the receiving process ended ({status}) while connecting");
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
fn write_paced(
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

/// Reads the receiver's `received <messages> <cpu seconds>`.
fn parse_report(report: &str) -> Option<(u64, f64)> {
    let mut fields = report.strip_prefix("received ")?.split(' ');
    let received = fields.next()?.parse().ok()?;
    let cpu_s = fields.next()?.parse().ok()?;
    fields.next().is_none().then_some((received, cpu_s))
}

/// The run as a Markdown table: what was asked, what arrived, each side's CPU per message and
/// the cores it took over the writing.
fn table(args: &SocketFloorArgs, floor: &Floor) -> String {
    let (writer_cores, reader_cores) = floor.cores_at(floor.written as f64 / floor.write_s);
    format!(
        "| connections | bytes | messages/s asked | written (received) | writer µs/message, cores | \
         reader µs/message, cores | both, cores |\n\
         | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n\
         | {} | {} | {} | {} ({}) | {:.2}, {:.2} | {:.2}, {:.2} | {:.2} |",
        args.connections,
        args.bytes,
        args.rate,
        floor.written,
        floor.received,
        floor.writer_us(),
        writer_cores,
        floor.reader_us(),
        reader_cores,
        writer_cores + reader_cores,
    )
}

/// Raises the descriptor limit to the hard limit and checks that `n` connections fit.
fn ensure_descriptors(n: u32) -> anyhow::Result<()> {
    let need = u64::from(n) + SPARE_FDS;
    let have = rlimit::increase_nofile_limit(u64::MAX).context("cannot raise RLIMIT_NOFILE")?;
    if have < need {
        bail!(
            "{n} connections need {need} file descriptors on each side, but this process may \
             open only {have} (the hard limit of RLIMIT_NOFILE)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
