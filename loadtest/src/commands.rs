//! Subcommands besides the run itself: reading the `result.json` of earlier runs, a proxy
//! that puts a service a round trip away, and the kernel's own cost of a delivery or a
//! login.

use crate::{curve, delay_proxy, merge, socket_floor};

/// Subcommands besides the run itself.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Combines the results of generator processes that ran at the same time, each with its
    /// own partition of the users (--first-user) and the same --start-at, into one
    /// result.json, summary.md and latency.svg.
    Merge(merge::MergeArgs),
    /// Draws the saturation curve of a series of runs (each server at several rates): p50 and
    /// p99 latency and deliveries per second against the offered load, per server, into
    /// curve.svg, with a table of every run and the highest load each server held into
    /// curve.md.
    Curve(curve::CurveArgs),
    /// Forwards TCP connections on loopback, holding what crosses them for a set time in
    /// each direction: a service (the cluster's Redis) a network's round trip away.
    DelayProxy(delay_proxy::DelayProxyArgs),
    /// Writes messages of a delivery's size over N loopback TCP connections at a set rate,
    /// one send each, to a second process that reads them, and reports each side's CPU per
    /// message: the floor under a server's and a generator's cost per delivery here. With
    /// --logins, the second process opens the connections at the rate instead, each for a
    /// login's round trips, and each side's CPU per login is reported.
    SocketFloor(socket_floor::SocketFloorArgs),
}

/// Runs a subcommand; returns its verdict (a merged run's, true once a curve is drawn or the
/// proxy's time is up, or whether every message of a socket-floor run arrived).
pub async fn run(command: &Command) -> anyhow::Result<bool> {
    let mut stdout = std::io::stdout();
    match command {
        Command::Merge(args) => merge::execute(args, &mut stdout),
        Command::Curve(args) => {
            let table = curve::execute(args)?;
            std::io::Write::write_all(&mut stdout, table.as_bytes())?;
            Ok(true)
        }
        Command::DelayProxy(args) => delay_proxy::execute(args).await,
        Command::SocketFloor(args) => socket_floor::execute(args).await,
    }
}
