//! `socket-floor`: what the kernel alone charges for a delivery, or for a login's exchange,
//! on this machine, with no XMPP, TLS or server in the way: the floor under any server's and
//! generator's cost on the same cores, whatever either does besides.
//!
//! Two processes of this binary, on loopback: this one plays the server and a second one
//! (`--receive-from`, started here) the clients, on one single-threaded runtime as the
//! generator runs. For deliveries (`deliveries.rs`) this process writes messages of a
//! delivery's size over N connections at a set total rate, one `send` each, each to the next
//! connection in turn, as a server writes deliveries to its sessions, and the second reads
//! them. For logins (`--logins`, `logins.rs`) the second opens N connections at a set rate,
//! each then exchanging `--round-trips` messages and answers with this one, as a login's
//! negotiation does, and keeps it open. Each side's CPU per message or login comes from
//! /proc. On loopback the sender's `send` also runs the receiving side's TCP processing,
//! which on a network would run on the other machine.
//!
//! Bounded: at most an hour of load, connections within the descriptor limit, loopback only
//! (the listener is on 127.0.0.1). The second process reports once everything has arrived or
//! the load's time plus [`peer::GRACE`] has passed, and stops when this one closes its
//! connections; this process ends it by its PID if it is still there when the run ends.

mod deliveries;
mod logins;
mod peer;

use std::io::Write as _;
use std::net::SocketAddr;

use anyhow::{Context, bail};

/// Longest load asked for, in seconds.
const MAX_DURATION_S: f64 = 3600.0;

#[derive(Clone, Debug, clap::Args)]
pub struct SocketFloorArgs {
    /// Connections, as many as a run's sessions (for --logins, the logins).
    #[arg(long, default_value_t = 10_000)]
    connections: u32,
    /// Messages per second in all (for --logins, logins per second).
    #[arg(long, default_value_t = 100_000.0)]
    rate: f64,
    /// Bytes per message: a presence delivery in its TLS record is about 200–300.
    #[arg(long, default_value_t = 200)]
    bytes: usize,
    /// Seconds of writing (for --logins, the logins take connections / rate).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Logins instead of deliveries: each connection made at --rate, then --round-trips
    /// exchanges of --bytes each way, then held open.
    #[arg(long)]
    logins: bool,
    /// A login's round trips: an RFC 6120 login over plain TCP takes five (the stream
    /// header, SASL's two steps, the restarted stream, the binding).
    #[arg(long, default_value_t = 5)]
    round_trips: u32,
    /// The second process's part: connect to this address (given by the first to the
    /// process it starts).
    #[arg(long, hide = true)]
    receive_from: Option<SocketAddr>,
    /// The second process's part, for deliveries: the messages to wait for.
    #[arg(long, hide = true, default_value_t = 0)]
    expect: u64,
}

impl SocketFloorArgs {
    /// Seconds the load takes: as asked for deliveries, connections / rate for logins.
    fn load_s(&self) -> f64 {
        if self.logins {
            f64::from(self.connections) / self.rate
        } else {
            self.duration
        }
    }
}

/// What one run measured: the messages written or logins asked, those that arrived or
/// completed, and each side's CPU meanwhile.
#[derive(Clone, Copy, Debug)]
pub struct Floor {
    pub asked: u64,
    pub done: u64,
    /// Wall-clock seconds of the load.
    pub load_s: f64,
    /// This process's CPU: the writer, or the server's side of the logins.
    pub server_cpu_s: f64,
    /// The second process's CPU: the reader, or the clients' side of the logins.
    pub client_cpu_s: f64,
}

impl Floor {
    /// Microseconds of this process's CPU per message or login.
    pub fn server_us(&self) -> f64 {
        per_unit_us(self.server_cpu_s, self.asked)
    }

    /// Microseconds of the second process's CPU per message or login.
    pub fn client_us(&self) -> f64 {
        per_unit_us(self.client_cpu_s, self.done)
    }

    /// Cores the two sides took at `rate` per second, from their cost per message or login.
    pub fn cores_at(&self, rate: f64) -> (f64, f64) {
        (self.server_us() * rate / 1e6, self.client_us() * rate / 1e6)
    }
}

fn per_unit_us(cpu_s: f64, units: u64) -> f64 {
    if units == 0 {
        return 0.0;
    }
    cpu_s * 1e6 / units as f64
}

/// Runs either side; true when every message written arrived, or every login completed.
pub async fn execute(args: &SocketFloorArgs) -> anyhow::Result<bool> {
    if !(args.rate.is_finite() && args.rate > 0.0) {
        bail!("--rate must be a positive number per second");
    }
    if !(args.duration > 0.0 && args.duration <= MAX_DURATION_S) {
        bail!("--duration must be more than 0 and at most {MAX_DURATION_S} seconds");
    }
    if args.logins && args.load_s() > MAX_DURATION_S {
        bail!("--connections / --rate must be at most {MAX_DURATION_S} seconds of logins");
    }
    if args.bytes == 0 || args.bytes > 65_536 {
        bail!("--bytes must be 1 to 65,536");
    }
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    if args.logins && args.round_trips == 0 {
        bail!("--round-trips must be at least 1");
    }
    crate::ensure_descriptors(
        args.connections,
        "connections",
        "each side holds one per connection; ask for fewer, or raise the hard limit",
    )?;
    if let Some(address) = args.receive_from {
        if !address.ip().is_loopback() {
            bail!("socket-floor connects to loopback addresses only, not {address}");
        }
        return if args.logins {
            logins::client_side(args, address).await
        } else {
            deliveries::reading_side(args, address).await
        };
    }
    let floor = if args.logins {
        logins::server_side(args).await?
    } else {
        let writing = args.clone();
        tokio::task::spawn_blocking(move || deliveries::writing_side(&writing))
            .await
            .context("the writing side panicked")??
    };
    writeln!(std::io::stdout(), "{}", table(args, &floor))?;
    Ok(floor.done == floor.asked)
}

/// The run as a Markdown table: what was asked, what arrived, each side's CPU per message or
/// login and the cores it took over the load.
fn table(args: &SocketFloorArgs, floor: &Floor) -> String {
    let (server_cores, client_cores) = floor.cores_at(floor.asked as f64 / floor.load_s);
    let (shape, count, unit, done, server, client) = if args.logins {
        (
            "round trips",
            args.round_trips,
            "logins",
            "completed",
            "server",
            "clients",
        )
    } else {
        (
            "connections",
            args.connections,
            "messages",
            "received",
            "writer",
            "reader",
        )
    };
    format!(
        "| {shape} | bytes | {unit}/s asked | {unit} ({done}) | {server} µs each, cores | \
         {client} µs each, cores | both, cores |\n\
         | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n\
         | {count} | {} | {} | {} ({}) | {:.2}, {:.2} | {:.2}, {:.2} | {:.2} |",
        args.bytes,
        args.rate,
        floor.asked,
        floor.done,
        floor.server_us(),
        server_cores,
        floor.client_us(),
        client_cores,
        server_cores + client_cores,
    )
}

#[cfg(test)]
mod tests;
