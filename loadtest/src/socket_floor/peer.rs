//! The second process of a run: started by the first with the same settings and the
//! address to connect to; it says `ready` once it is set to go, then reports `done <count>
//! <cpu seconds>` (the messages received or logins completed, and its CPU from `ready` on).

use std::future::Future;
use std::io::{BufRead, BufReader, Write as _};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

use super::SocketFloorArgs;
use crate::procstat;

/// Time the second process waits for everything beyond the load's own duration.
pub const GRACE: Duration = Duration::from_secs(30);

/// The second process as the first sees it, ended by its PID if the run ends before it does.
pub struct Peer {
    pub child: Child,
    stdout: BufReader<ChildStdout>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Peer {
    /// Starts this program again as the second process, to connect to `address` and, for
    /// deliveries, expect `expect` messages (for logins it counts `--connections`).
    pub fn start(
        args: &SocketFloorArgs,
        address: SocketAddr,
        expect: Option<u64>,
    ) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("finding this program to start its peer")?;
        let mut command = Command::new(exe);
        command
            .arg("socket-floor")
            .args(["--receive-from", &address.to_string()])
            .args(["--connections", &args.connections.to_string()])
            .args(["--bytes", &args.bytes.to_string()])
            .args(["--duration", &args.duration.to_string()])
            .args(["--rate", &args.rate.to_string()])
            .args(["--round-trips", &args.round_trips.to_string()]);
        if let Some(expect) = expect {
            command.args(["--expect", &expect.to_string()]);
        }
        if args.logins {
            command.arg("--logins");
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the second process")?;
        let stdout = BufReader::new(child.stdout.take().context("the second process's stdout")?);
        Ok(Peer { child, stdout })
    }

    /// Waits for the second process to say it is ready.
    pub fn ready(&mut self) -> anyhow::Result<()> {
        let line = self.line()?;
        if line != "ready" {
            bail!("the second process said {line:?} instead of ready");
        }
        Ok(())
    }

    /// Waits for the second process's report: what it counted, and its CPU seconds.
    pub fn report(&mut self) -> anyhow::Result<(u64, f64)> {
        let line = self.line()?;
        parse_report(&line).with_context(|| format!("the second process reported {line:?}"))
    }

    fn line(&mut self) -> anyhow::Result<String> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            bail!("the second process ended before it reported (its errors are above)");
        }
        Ok(line.trim_end().to_owned())
    }
}

/// The second process's side of the exchange: says `ready`, runs `work` (which returns what
/// it counted), and reports the count with the CPU it took.
pub async fn report_on(work: impl Future<Output = u64>) -> anyhow::Result<u64> {
    let mut stdout = std::io::stdout();
    writeln!(stdout, "ready")?;
    stdout.flush()?;
    let before = procstat::sample("self")?;
    let count = work.await;
    let after = procstat::sample("self")?;
    writeln!(stdout, "done {count} {}", after.cpu_s - before.cpu_s)?;
    stdout.flush()?;
    Ok(count)
}

/// Reads `done <count> <cpu seconds>`.
pub fn parse_report(report: &str) -> Option<(u64, f64)> {
    let mut fields = report.strip_prefix("done ")?.split(' ');
    let count = fields.next()?.parse().ok()?;
    let cpu_s = fields.next()?.parse().ok()?;
    fields.next().is_none().then_some((count, cpu_s))
}
