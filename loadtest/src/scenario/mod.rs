//! The scenarios. Each one logs everybody in, does its part at a given rate for a bounded
//! time, then waits a bounded time for what is still on its way.
//!
//! With a start time ([`Timing::start_at_us`]) the measured part begins exactly then, so that
//! several generator processes, each with its own partition of the users, load the server
//! during the same window and their results can be merged.

use std::time::{Duration, Instant};

use anyhow::bail;
use serde::{Deserialize, Serialize};
use xmpp_core::{Element, ns};

use crate::accounting::Phase;
use crate::driver::{Driver, LoginReport};
use crate::session::Session;
use crate::stamp::now_us;

mod messages;

/// How long the initial presence traffic must have been silent before the measured phase.
const QUIET: Duration = Duration::from_secs(1);
mod presence;

/// Which load to apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// A login storm: connect, STARTTLS, SASL and bind everybody at the login rate.
    Login,
    /// Initial presence, then presence changes, each to the sender's K contacts.
    Presence,
    /// Initial presence, then one-to-one chat messages to random contacts.
    Messages,
}

/// How long each part of a scenario may take.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Logins per second.
    pub login_rate: f64,
    /// Stanzas per second, in total, in the measured phase.
    pub rate: f64,
    /// Length of the measured phase.
    pub duration: Duration,
    /// Most measured stanzas sent, whatever the duration.
    pub max_stanzas: u64,
    /// How long the initial presence mesh may take to complete.
    pub settle: Duration,
    /// How long deliveries may still arrive after the last send.
    pub drain: Duration,
    /// When the measured part starts (wall clock, microseconds since the Unix epoch): the
    /// logins of the login scenario, the presence changes or messages of the others. It must
    /// leave time for everything before; a run that is not ready by then fails.
    pub start_at_us: Option<u64>,
}

impl Timing {
    /// The measured stanzas the phase sends if it keeps its rate: `rate` × `duration`, at
    /// most `max_stanzas`.
    pub fn planned_stanzas(&self) -> u64 {
        let at_rate = (self.rate.max(0.0) * self.duration.as_secs_f64()).ceil() as u64;
        at_rate.min(self.max_stanzas)
    }
}

/// What a scenario reports besides the ledger.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Outcome {
    /// The login phase.
    pub login: LoginReport,
    /// Seconds from the first initial presence to the last pair seen, if completed.
    pub mesh_s: Option<f64>,
    /// The agreed start of the measured part (`--start-at`), Unix seconds.
    #[serde(default)]
    pub start_at_s: Option<u64>,
    /// Measured stanzas sent.
    pub sent: u64,
    /// Seconds the measured phase took to send them.
    pub send_s: f64,
    /// When the measured phase started sending, microseconds since the Unix epoch (0 if it
    /// did not).
    #[serde(default)]
    pub send_start_us: u64,
    /// Sessions that were open when the measured phase ended (before closing).
    #[serde(skip)]
    pub sessions: Vec<Session>,
    /// The server process once the initial presence settled, every session bound and idle
    /// (with `--server-pid`).
    #[serde(skip)]
    pub server_idle: Option<crate::procstat::Sample>,
}

/// Runs `scenario`.
pub async fn run(d: &Driver, scenario: Scenario, t: Timing) -> anyhow::Result<Outcome> {
    if let Some(at) = t.start_at_us {
        ready_by(at, "the run started")?;
    }
    if scenario == Scenario::Login {
        wait_until(d, t.start_at_us, "logins").await?;
    }
    let (sessions, login) = d.login_all(t.login_rate).await?;
    let mut out = Outcome {
        login,
        start_at_s: t.start_at_us.map(|us| us / 1_000_000),
        sessions,
        ..Outcome::default()
    };
    if scenario == Scenario::Login {
        return Ok(out);
    }
    out.mesh_s = initial_presence(d, &out.sessions, t).await?;
    out.server_idle = d
        .server_pid
        .and_then(|pid| crate::procstat::sample(&pid.to_string()).ok());
    d.ledger().reserve(t.planned_stanzas());
    wait_until(d, t.start_at_us, "the measured phase").await?;
    d.progress
        .set_prefix(format!("{scenario:?}").to_lowercase());
    let start = Instant::now();
    out.send_start_us = now_us();
    out.sent = match scenario {
        Scenario::Presence => presence::changes(d, &out.sessions, t).await?,
        _ => messages::chat(d, &out.sessions, t).await?,
    };
    out.send_s = start.elapsed().as_secs_f64();
    d.progress.set_prefix("drain");
    d.wait_for(t.drain, |l| l.outstanding() == 0).await;
    Ok(out)
}

/// Fails unless `at_us` is still ahead.
fn ready_by(at_us: u64, what: &str) -> anyhow::Result<()> {
    let now = now_us();
    if now >= at_us {
        bail!(
            "--start-at {} had passed {:.1} s before {what}; choose a start time further \
             ahead (logins take --users / --login-rate seconds, then the initial presence \
             mesh has to complete)",
            at_us / 1_000_000,
            (now - at_us) as f64 / 1e6
        );
    }
    Ok(())
}

/// Waits until the wall clock reaches `at_us`, if given; fails if it already has.
async fn wait_until(d: &Driver, at_us: Option<u64>, what: &str) -> anyhow::Result<()> {
    let Some(at) = at_us else {
        return Ok(());
    };
    ready_by(at, &format!("{what} could begin"))?;
    d.progress.set_prefix("waiting for --start-at");
    loop {
        let now = now_us();
        if now >= at {
            return Ok(());
        }
        let left = Duration::from_micros(at - now);
        d.progress
            .set_message(format!("{what} in {:.0} s", left.as_secs_f64().ceil()));
        // Short steps, so that the wall clock rather than the runtime's timer decides.
        tokio::time::sleep(left.min(Duration::from_millis(200))).await;
    }
}

/// Every session sends initial presence (at the login rate) and the mesh is awaited.
async fn initial_presence(
    d: &Driver,
    sessions: &[Session],
    t: Timing,
) -> anyhow::Result<Option<f64>> {
    d.progress.set_prefix("initial presence");
    let start = Instant::now();
    let start_us = now_us();
    let n = sessions.len() as u64;
    crate::driver::paced(t.login_rate, Duration::MAX / 4, n, |i| {
        let s = &sessions[i as usize];
        let contacts = d.ring.contacts(s.index);
        d.send(
            s,
            Phase::Initial,
            contacts,
            Element::new("presence", ns::JABBER_CLIENT),
        )
    })
    .await?;
    let limit = t
        .settle
        .saturating_sub(start.elapsed())
        .max(Duration::from_secs(1));
    d.wait_for(limit, |l| l.mesh_waiting() == 0).await;
    // Then until no initial presence or probe answer has arrived for QUIET.
    d.wait_for(limit, |l| {
        now_us().saturating_sub(l.last_mesh_receipt_us()) > QUIET.as_micros() as u64
    })
    .await;
    Ok(d.ledger()
        .mesh_complete_us()
        .map(|us| us.saturating_sub(start_us) as f64 / 1e6))
}

/// A small deterministic generator (xorshift64*), so that runs with the same flags send the
/// same sequence and can be compared.
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded; any seed works.
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// Uniform below `n` (n > 0); the tiny modulo bias is irrelevant here.
    pub fn below(&mut self, n: u32) -> u32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32 % n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_stanzas_are_rate_times_duration_at_most_the_maximum() {
        let t = |rate, secs, max_stanzas| Timing {
            login_rate: 100.0,
            rate,
            duration: Duration::from_secs(secs),
            max_stanzas,
            settle: Duration::from_secs(1),
            drain: Duration::from_secs(1),
            start_at_us: None,
        };
        assert_eq!(t(35_000.0, 20, u64::MAX).planned_stanzas(), 700_000);
        assert_eq!(t(0.5, 3, u64::MAX).planned_stanzas(), 2);
        assert_eq!(t(35_000.0, 20, 1_000).planned_stanzas(), 1_000);
        assert_eq!(t(1e300, 20, u64::MAX).planned_stanzas(), u64::MAX);
    }
}
