//! The scenarios. Each one logs everybody in, does its part at a given rate for a bounded
//! time, then waits a bounded time for what is still on its way.
//!
//! With a start time ([`Timing::start_at_us`]) the measured part begins exactly then, so that
//! several generator processes, each with its own partition of the users, load the server
//! during the same window and their results can be merged.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::bail;
use serde::{Deserialize, Serialize};
use xmpp_core::{Element, ns};

use crate::accounting::{Ledger, Phase};
use crate::driver::{Driver, LoginReport, SessionClosed, Stopped};
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
    /// Why the run did not go as planned: a login failed once others were bound, or a
    /// session closed while stanzas were being sent (the server closed it or went away), so
    /// the phase stopped there; or the server process exited before the end. The report
    /// still gives everything measured up to then, and fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_early: Option<String>,
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
    let logins = d.login_all(t.login_rate).await?;
    let mut out = Outcome {
        login: logins.report,
        start_at_s: t.start_at_us.map(|us| us / 1_000_000),
        sessions: logins.sessions,
        ended_early: logins.stopped_by,
        ..Outcome::default()
    };
    if scenario == Scenario::Login || out.ended_early.is_some() {
        return Ok(out);
    }
    match initial_presence(d, &out.sessions, t).await {
        Ok(mesh_s) => out.mesh_s = mesh_s,
        Err(stopped) => {
            out.ended_early = Some(closed_session(stopped, "the initial presence")?);
            drain(d, &out.sessions, t.drain, Ledger::mesh_waiting).await;
            return Ok(out);
        }
    }
    out.server_idle = d
        .server_pid
        .and_then(|pid| crate::procstat::sample(&pid.to_string()).ok());
    d.ledger().reserve(t.planned_stanzas());
    wait_until(d, t.start_at_us, "the measured phase").await?;
    d.progress
        .set_prefix(format!("{scenario:?}").to_lowercase());
    let start = Instant::now();
    out.send_start_us = now_us();
    let sent = match scenario {
        Scenario::Presence => presence::changes(d, &out.sessions, t).await,
        _ => messages::chat(d, &out.sessions, t).await,
    };
    out.sent = match sent {
        Ok(sent) => sent,
        Err(stopped) => {
            let sent = stopped.calls;
            out.ended_early = Some(closed_session(stopped, "the measured phase")?);
            sent
        }
    };
    out.send_s = start.elapsed().as_secs_f64();
    drain(d, &out.sessions, t.drain, Ledger::outstanding).await;
    Ok(out)
}

/// What to report when pacing `what` stopped at a session that had closed: the server
/// closing streams or going away mid-run is a result, which the report gives with everything
/// measured up to then, rather than an error that loses it. Any other failure stays one.
fn closed_session(stopped: Stopped, what: &str) -> anyhow::Result<String> {
    match stopped.error.downcast_ref::<SessionClosed>() {
        Some(closed) => Ok(format!(
            "{what} stopped after {} stanzas: the session of user{} had closed (the server \
             closed it or went away)",
            stopped.calls, closed.user
        )),
        None => Err(stopped.into()),
    }
}

/// Waits at most `limit` for what was sent to arrive, until nothing is `awaited`; no longer
/// once every session's stream has ended, since nothing more can.
async fn drain(
    d: &Driver,
    sessions: &[Session],
    limit: Duration,
    awaited: impl Fn(&Ledger) -> u64,
) {
    d.progress.set_prefix("drain");
    let all = sessions.len() as u64;
    d.wait_for(limit, |l| {
        awaited(l) == 0 || d.counters.disconnects.load(Ordering::Relaxed) >= all
    })
    .await;
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
) -> Result<Option<f64>, Stopped> {
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
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use tokio::sync::mpsc;

    use super::*;
    use crate::session::{LoginParams, login_options};
    use crate::topology::Ring;
    use crate::workers::Workers;

    fn timing(rate: f64, max_stanzas: u64) -> Timing {
        Timing {
            login_rate: 100.0,
            rate,
            duration: Duration::from_secs(20),
            max_stanzas,
            settle: Duration::from_secs(1),
            drain: Duration::from_secs(1),
            start_at_us: None,
        }
    }

    /// A driver for `n` users with `k` contacts, and sessions whose stanzas stay in their
    /// queues (returned with them); the stream of `ended` has ended.
    fn driver_and_sessions(
        n: u32,
        k: u32,
        ended: u32,
    ) -> (Driver, Vec<Session>, Vec<mpsc::Receiver<Element>>) {
        let params = LoginParams {
            server: "127.0.0.1:5222".parse().unwrap(),
            domain: "localhost".into(),
            password: "p".into(),
            sources: Vec::new(),
            options: login_options(None, None, false, false),
        };
        let d = Driver::new(params, Ring::new(n, k).unwrap(), Workers::start(1).unwrap());
        let (sessions, queues) = (0..n)
            .map(|index| {
                let (tx, rx) = mpsc::channel(64);
                let ended = Arc::new(AtomicBool::new(index == ended));
                (Session { index, tx, ended }, rx)
            })
            .unzip();
        (d, sessions, queues)
    }

    /// The measured phase stops at the first stanza for a session whose stream has ended;
    /// what was sent before it stays expected, it does not, and the report is told why.
    #[tokio::test]
    async fn a_session_found_closed_stops_the_phase_after_what_was_sent() {
        let (d, sessions, mut queues) = driver_and_sessions(6, 2, 3);
        let stopped = presence::changes(&d, &sessions, timing(1e6, 200))
            .await
            .unwrap_err();
        assert_eq!(
            stopped
                .error
                .downcast_ref::<SessionClosed>()
                .map(|c| c.user),
            Some(3)
        );
        let queued: u64 = queues
            .iter_mut()
            .map(|q| std::iter::from_fn(|| q.try_recv().ok()).count() as u64)
            .sum();
        assert_eq!(queued, stopped.calls);
        assert!(
            stopped.calls > 0,
            "the deterministic picks reach user3 later"
        );
        assert_eq!(d.ledger().outstanding(), stopped.calls * 2);
        assert_eq!(
            d.ledger().stats(Phase::Presence).expected,
            stopped.calls * 2
        );
        let calls = stopped.calls;
        assert_eq!(
            closed_session(stopped, "the measured phase").unwrap(),
            format!(
                "the measured phase stopped after {calls} stanzas: the session of user3 had \
                 closed (the server closed it or went away)"
            )
        );
    }

    /// Only a closed session ends a run early with a report; any other failure stays an
    /// error.
    #[test]
    fn other_failures_stay_errors() {
        let stopped = Stopped {
            calls: 3,
            error: anyhow::anyhow!("the ledger is gone"),
        };
        let error = closed_session(stopped, "the measured phase").unwrap_err();
        assert_eq!(error.to_string(), "the ledger is gone");
    }

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
