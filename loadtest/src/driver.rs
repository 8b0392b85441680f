//! What every scenario shares: the ledger and the task that feeds it, paced logins, stamped
//! sends that register their expectations first, and bounded waits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;
use xmpp_core::Element;

use crate::accounting::{Ledger, Phase, Recorded};
use crate::session::{Counters, LoginParams, Session, login};
use crate::stamp::{Stamp, now_us};
use crate::topology::Ring;
use crate::workers::Workers;

/// Logins in progress at once, whatever the rate: a server that stalls must not make the
/// generator open connections without bound.
const LOGINS_IN_FLIGHT: usize = 512;

/// How the login phase went.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct LoginReport {
    /// Sessions bound.
    pub sessions: u32,
    /// When the first connect started, microseconds since the Unix epoch.
    #[serde(default)]
    pub start_us: u64,
    /// Seconds from the first connect to the last bind.
    pub elapsed_s: f64,
    /// Sessions bound per second over that time.
    pub rate_per_s: f64,
    /// Connect-to-bound time per session, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile of the same.
    pub p99_ms: f64,
    /// Maximum of the same.
    pub max_ms: f64,
    /// Connect-to-bound times in microseconds, for merging the reports of several processes.
    #[serde(default)]
    pub histogram: Option<Recorded>,
    /// The server's CPU and memory once every session was bound, if its PID was given.
    #[serde(skip)]
    pub server_bound: Option<crate::procstat::Sample>,
}

impl LoginReport {
    /// The report of `sessions` logins over `elapsed_s` seconds from `start_us`, whose
    /// connect-to-bound times (microseconds) are in `times`.
    pub fn of(sessions: u32, start_us: u64, elapsed_s: f64, times: &Histogram<u64>) -> Self {
        let ms = |v: u64| v as f64 / 1000.0;
        LoginReport {
            sessions,
            start_us,
            elapsed_s,
            rate_per_s: f64::from(sessions) / elapsed_s.max(1e-9),
            p50_ms: ms(times.value_at_quantile(0.5)),
            p99_ms: ms(times.value_at_quantile(0.99)),
            max_ms: ms(times.max()),
            histogram: Some(Recorded::of(times)),
            server_bound: None,
        }
    }
}

/// The login phase's result.
#[derive(Debug)]
pub struct Logins {
    /// The sessions bound, by user.
    pub sessions: Vec<Session>,
    /// Their figures.
    pub report: LoginReport,
    /// The login that failed and stopped the phase, described, if one did.
    pub stopped_by: Option<String>,
}

/// A run in progress.
#[derive(Debug)]
pub struct Driver {
    /// Login parameters.
    pub params: Arc<LoginParams>,
    /// The contact graph.
    pub ring: Ring,
    /// Counters of the sessions' tasks.
    pub counters: Arc<Counters>,
    /// Progress display.
    pub progress: ProgressBar,
    /// The server's PID, for sampling its memory once everybody is bound.
    pub server_pid: Option<u32>,
    /// Written by every session's reader as stanzas arrive (a lock held for one receipt),
    /// and by the scenario as it sends.
    ledger: Arc<Mutex<Ledger>>,
    seq: AtomicU64,
    /// The runtimes the sessions run on.
    workers: Workers,
}

impl Driver {
    /// A driver with an empty ledger, whose sessions run on `workers`.
    pub fn new(params: LoginParams, ring: Ring, workers: Workers) -> Self {
        let ledger = Arc::new(Mutex::new(Ledger::new(now_us())));
        let progress = ProgressBar::new_spinner();
        progress.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {prefix}: {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        progress.enable_steady_tick(Duration::from_millis(200));
        Self {
            params: Arc::new(params),
            ring,
            counters: Arc::default(),
            progress,
            server_pid: None,
            ledger,
            seq: AtomicU64::new(1),
            workers,
        }
    }

    /// The ledger, for reading results.
    pub fn ledger(&self) -> MutexGuard<'_, Ledger> {
        lock(&self.ledger)
    }

    /// Logs in the ring's users at `rate` per second, up to the first login that fails.
    ///
    /// A login failing once others are bound (the server refusing logins or going away
    /// under the storm) stops the phase, and what it measured is returned with the failure
    /// described; one failing before any is bound is an error (nothing was measured, and a
    /// misconfiguration, a wrong port, password or CA, fails every login).
    ///
    /// Each login is a task of its own on its user's worker runtime ([`Workers`]), which
    /// then runs that session's reader and writer, so every step of the handshake (six round
    /// trips) runs on the thread that saw its socket become ready; polled inside this task
    /// instead, every step woke this task's thread. Dropping the set on failure aborts the
    /// logins still in progress.
    pub async fn login_all(&self, rate: f64) -> anyhow::Result<Logins> {
        self.progress.set_prefix("login");
        let n = self.ring.n;
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.001)));
        tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let mut in_flight = JoinSet::new();
        let mut sessions = Vec::with_capacity(n as usize);
        let mut times = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)?;
        let start = Instant::now();
        let start_us = now_us();
        let mut next = 0;
        let mut stopped_by = None;
        while sessions.len() < n as usize {
            let can_start = next < n && in_flight.len() < LOGINS_IN_FLIGHT;
            tokio::select! {
                _ = tick.tick(), if can_start => {
                    let (params, ledger, counters) =
                        (self.params.clone(), self.ledger.clone(), self.counters.clone());
                    let i = self.ring.first + next;
                    next += 1;
                    let login = async move {
                        let t = Instant::now();
                        let s = login(i, &params, ledger, counters).await;
                        (i, s, t.elapsed())
                    };
                    in_flight.spawn_on(login, self.workers.of_user(i));
                }
                Some(joined) = in_flight.join_next() => {
                    let (i, s, took) = joined.context("a login task failed")?;
                    let s = match s {
                        Ok(s) => s,
                        Err(e) if sessions.is_empty() => return Err(e),
                        Err(e) => {
                            stopped_by = Some(format!(
                                "the logins stopped after {} of {n} were bound: user{i}'s \
                                 failed: {e:#}",
                                sessions.len()
                            ));
                            break;
                        }
                    };
                    sessions.push(s);
                    times.saturating_record(took.as_micros() as u64);
                    self.progress.set_message(format!("{}/{n} bound", sessions.len()));
                }
            }
        }
        // Logins still in progress after a failure end with their tasks.
        drop(in_flight);
        sessions.sort_by_key(|s| s.index);
        let elapsed_s = start.elapsed().as_secs_f64();
        let mut report = LoginReport::of(sessions.len() as u32, start_us, elapsed_s, &times);
        report.server_bound = self
            .server_pid
            .and_then(|pid| crate::procstat::sample(&pid.to_string()).ok());
        Ok(Logins {
            sessions,
            report,
            stopped_by,
        })
    }

    /// Stamps `stanza`, registers who must receive it, then queues it on `session`.
    pub async fn send(
        &self,
        session: &Session,
        phase: Phase,
        recipients: Vec<u32>,
        mut stanza: Element,
    ) -> anyhow::Result<()> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let stamp = Stamp {
            seq,
            sent_us: now_us(),
        };
        stanza.set_attr("id", format!("lt-{seq}"));
        stanza.push_child(stamp.element());
        // The initial presence's recipients, kept to withdraw its pairs.
        let mesh = {
            let mut l = self.ledger();
            match phase {
                Phase::Initial => {
                    l.expect_mesh(session.index, &recipients);
                    Some(recipients)
                }
                _ => {
                    l.expect(phase, seq, session.index, recipients);
                    None
                }
            }
        };
        if session.ended.load(Ordering::Acquire) || session.tx.send(stanza).await.is_err() {
            // Not sent, so not expected: what the session's end cost is counted by what was
            // sent before it and never arrived.
            let mut l = self.ledger();
            match mesh {
                Some(recipients) => l.withdraw_mesh(session.index, &recipients),
                None => l.withdraw(seq),
            }
            return Err(SessionClosed {
                user: session.index,
            }
            .into());
        }
        Ok(())
    }

    /// Waits until `done` holds or `limit` has passed; returns whether `done` held.
    pub async fn wait_for(&self, limit: Duration, done: impl Fn(&Ledger) -> bool) -> bool {
        let end = Instant::now() + limit;
        loop {
            let (ok, msg) = {
                let l = self.ledger();
                let msg = format!(
                    "{} measured deliveries outstanding, {} presence pairs awaited",
                    l.outstanding(),
                    l.mesh_waiting()
                );
                (done(&l), msg)
            };
            self.progress.set_message(msg);
            if ok {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Locks `l` even if a holder panicked: the generator's shared state is counters and samples,
/// which a panic leaves half-updated, not inconsistent.
pub fn lock<T>(l: &Mutex<T>) -> MutexGuard<'_, T> {
    l.lock().unwrap_or_else(|e| e.into_inner())
}

/// A session that could take no more stanzas: its stream had ended (the server closed it or
/// went away), so its writer had stopped.
#[derive(Debug, thiserror::Error)]
#[error("session of user{user} has closed")]
pub struct SessionClosed {
    /// The user whose session it was.
    pub user: u32,
}

/// Pacing ended by a call that failed.
#[derive(Debug, thiserror::Error)]
#[error("{error:#}")]
pub struct Stopped {
    /// The calls that succeeded before it.
    pub calls: u64,
    /// Why the call failed.
    pub error: anyhow::Error,
}

/// Calls `f(step)` at `rate` per second for `duration` (and at most `max` times); returns the
/// number of calls, or, at the first call that fails, how many succeeded and why it failed.
pub async fn paced<F, Fut>(
    rate: f64,
    duration: Duration,
    max: u64,
    mut f: F,
) -> Result<u64, Stopped>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.001)));
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let end = Instant::now() + duration;
    let mut step = 0;
    while step < max {
        tick.tick().await;
        if Instant::now() >= end {
            break;
        }
        if let Err(error) = f(step).await {
            return Err(Stopped { calls: step, error });
        }
        step += 1;
    }
    Ok(step)
}
