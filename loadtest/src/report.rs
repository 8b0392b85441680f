//! The result of a run: a JSON document for machines, a Markdown summary for people, and the
//! verdict (anything missing or duplicated fails the run).
//!
//! `result.json` carries the latency histograms themselves, overall and per second, so that
//! the results of several generator processes can be merged exactly (see `merge`).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::accounting::{Ledger, Phase, PhaseStats, Recorded};
use crate::machine;
use crate::procstat::Sample;
use crate::scenario::{Outcome, Scenario};
use crate::topology::Ring;

/// One second of a phase.
#[derive(Debug, Serialize, Deserialize)]
pub struct Point {
    /// Seconds since the run started.
    pub t_s: usize,
    /// Deliveries received in that second.
    pub deliveries: u64,
    /// Median latency of those, microseconds.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Maximum.
    pub max_us: u64,
    /// The latencies of that second; absent when there were none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<Recorded>,
}

/// One phase's totals.
#[derive(Debug, Serialize, Deserialize)]
pub struct PhaseSummary {
    /// Which phase.
    pub phase: Phase,
    /// Deliveries expected (pairs, for the initial mesh).
    pub expected: u64,
    /// Deliveries received once.
    pub delivered: u64,
    /// Repeated receipts: failures, except for the initial mesh where RFC 6121 allows them.
    pub duplicates: u64,
    /// Never received.
    pub missing: u64,
    /// Deliveries per second over the seconds in which any arrived.
    pub deliveries_per_s: f64,
    /// Latency percentiles and maximum, microseconds.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Maximum.
    pub max_us: u64,
    /// Every latency of the phase (stamped deliveries only), microseconds.
    #[serde(default)]
    pub histogram: Option<Recorded>,
    /// Per-second series.
    pub series: Vec<Point>,
}

/// The totals, percentiles and series of one phase's statistics.
pub fn summarize(phase: Phase, s: &PhaseStats) -> PhaseSummary {
    let q = |h: &Histogram<u64>, q: f64| {
        if h.is_empty() {
            0
        } else {
            h.value_at_quantile(q)
        }
    };
    let series: Vec<Point> = s
        .series
        .iter()
        .enumerate()
        .map(|(t_s, h)| Point {
            t_s,
            deliveries: h.len(),
            p50_us: q(h, 0.5),
            p99_us: q(h, 0.99),
            max_us: h.max(),
            histogram: (!h.is_empty()).then(|| Recorded::of(h)),
        })
        .collect();
    let span = match active(&series) {
        Some((a, b)) => (b - a + 1) as f64,
        None => 1.0,
    };
    PhaseSummary {
        phase,
        expected: s.expected,
        delivered: s.delivered,
        duplicates: s.duplicates,
        missing: s.missing,
        deliveries_per_s: s.latency.len() as f64 / span,
        p50_us: q(&s.latency, 0.5),
        p99_us: q(&s.latency, 0.99),
        p999_us: q(&s.latency, 0.999),
        max_us: s.latency.max(),
        histogram: Some(Recorded::of(&s.latency)),
        series,
    }
}

/// The first and last second in which deliveries arrived.
fn active(series: &[Point]) -> Option<(usize, usize)> {
    let mut seconds = series.iter().filter(|p| p.deliveries > 0).map(|p| p.t_s);
    let first = seconds.next()?;
    Some((first, seconds.next_back().unwrap_or(first)))
}

impl PhaseSummary {
    /// The machine while this phase's deliveries arrived.
    pub fn machine(&self, seconds: &[machine::Second]) -> Option<machine::Span> {
        let (first, last) = active(&self.series)?;
        machine::span(seconds, first, last)
    }
}

/// The server's cost, when its PID was given.
#[derive(Debug, Serialize, Deserialize)]
pub struct ServerCost {
    /// The server process measured (absent in merged reports, which list them apart).
    #[serde(default)]
    pub pid: Option<u32>,
    /// CPU seconds the server used during the run.
    pub cpu_s: f64,
    /// The server's CPU seconds since it started, when the run began and ended (so that the
    /// runs of several generators measuring the same server can be merged); summed over the
    /// server processes in a merged report.
    #[serde(default)]
    pub cpu_start_s: f64,
    /// See `cpu_start_s`.
    #[serde(default)]
    pub cpu_end_s: f64,
    /// Resident memory before the logins.
    pub rss_before_bytes: u64,
    /// Resident memory with every session bound.
    pub rss_bound_bytes: u64,
    /// (bound − before) / sessions.
    pub bytes_per_session: f64,
    /// Resident memory once the initial presence settled (0 when not measured: the login
    /// scenario, or a run without `--server-pid`). Higher than `rss_bound_bytes` by what a
    /// session holds after presence: its contacts' presence on the way, the roster the
    /// shard keeps of an online user.
    #[serde(default)]
    pub rss_idle_bytes: u64,
    /// (idle − before) / sessions: memory per idle session.
    #[serde(default)]
    pub idle_bytes_per_session: f64,
}

/// Everything a run reports.
#[derive(Debug, Serialize, Deserialize)]
pub struct Report {
    /// The scenario run.
    pub scenario: Scenario,
    /// The run's users, one session each (fewer were bound if the logins stopped early:
    /// `outcome.login.sessions`).
    pub users: u32,
    /// The first user of the run's partition: its users were user{first_user} onwards.
    #[serde(default)]
    pub first_user: u32,
    /// Contacts per user.
    pub contacts: u32,
    /// Time zero of the per-second series (`t_s`), Unix seconds.
    #[serde(default)]
    pub series_start_s: u64,
    /// Login, mesh and send figures.
    pub outcome: Outcome,
    /// Per phase; phases with nothing expected are left out.
    pub phases: Vec<PhaseSummary>,
    /// Receipts that matched nothing.
    pub unexpected: u64,
    /// The first of them, described (`accounting::UNEXPECTED_EXAMPLES` per process).
    #[serde(default)]
    pub unexpected_examples: Vec<String>,
    /// Streams that ended during the run.
    pub disconnects: u64,
    /// Error stanzas received.
    pub errors: u64,
    /// The server's cost, if measured.
    pub server: Option<ServerCost>,
    /// The generator's own CPU seconds.
    pub generator_cpu_s: f64,
    /// The machine second by second (steal, idle, the server's and the generator's cores).
    #[serde(default)]
    pub machine: Vec<machine::Second>,
    /// No missing or duplicate delivery, no misdelivery, no disconnect, no error, and the
    /// run not ended early ([`Outcome::ended_early`]).
    pub ok: bool,
    /// For a report merged from several generator processes: which.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<Merged>,
}

/// What a merged report was merged from.
#[derive(Debug, Serialize, Deserialize)]
pub struct Merged {
    /// Generator processes.
    pub processes: usize,
    /// The server processes they measured, each once.
    pub server_pids: Vec<u32>,
    /// Each process's part, in the order of its users.
    pub runs: Vec<RunPart>,
    /// What the merged figures cannot vouch for.
    pub notes: Vec<String>,
}

/// One generator process's part of a merged report.
#[derive(Debug, Serialize, Deserialize)]
pub struct RunPart {
    /// Where its result.json was read from.
    pub source: String,
    /// Its first user.
    pub first_user: u32,
    /// Its users.
    pub users: u32,
    /// The server PID it measured.
    pub server_pid: Option<u32>,
    /// Its measured deliveries (every phase but the initial mesh): expected, delivered, missing.
    pub expected: u64,
    /// See `expected`.
    pub delivered: u64,
    /// See `expected`.
    pub missing: u64,
    /// Its generator CPU seconds.
    pub generator_cpu_s: f64,
    /// Its own verdict.
    pub ok: bool,
}

/// A server's samples: its PID, before the logins, with every session bound, at the end.
pub type ServerSamples = (u32, Sample, Sample, Sample);

/// The verdict: no missing delivery, no duplicate one (the initial mesh may repeat), no
/// misdelivery, no disconnect, no error stanza.
pub fn verdict(phases: &[PhaseSummary], unexpected: u64, disconnects: u64, errors: u64) -> bool {
    let failed = phases
        .iter()
        .any(|p| p.missing > 0 || (p.duplicates > 0 && p.phase != Phase::Initial));
    !failed && unexpected == 0 && disconnects == 0 && errors == 0
}

impl Report {
    /// Builds the report from a finished ledger.
    pub fn new(
        scenario: Scenario,
        ring: Ring,
        outcome: Outcome,
        ledger: &Ledger,
        counters: (u64, u64),
        server: Option<ServerSamples>,
        generator: Sample,
    ) -> Self {
        let phases: Vec<PhaseSummary> = [Phase::Initial, Phase::Presence, Phase::Message]
            .into_iter()
            .filter(|&p| ledger.stats(p).expected > 0)
            .map(|p| summarize(p, ledger.stats(p)))
            .collect();
        // Per session, of those bound (all of the run's users unless the logins stopped).
        let sessions = outcome.login.sessions;
        let idle = outcome.server_idle;
        let server = server.map(|(pid, before, bound, end)| ServerCost {
            pid: Some(pid),
            cpu_s: end.cpu_s - before.cpu_s,
            cpu_start_s: before.cpu_s,
            cpu_end_s: end.cpu_s,
            rss_before_bytes: before.rss_bytes,
            rss_bound_bytes: bound.rss_bytes,
            bytes_per_session: (bound.rss_bytes as f64 - before.rss_bytes as f64)
                / f64::from(sessions.max(1)),
            rss_idle_bytes: idle.map_or(0, |s| s.rss_bytes),
            idle_bytes_per_session: idle.map_or(0.0, |s| {
                (s.rss_bytes as f64 - before.rss_bytes as f64) / f64::from(sessions.max(1))
            }),
        });
        let (disconnects, errors) = counters;
        let ok = verdict(&phases, ledger.unexpected, disconnects, errors)
            && outcome.ended_early.is_none();
        Self {
            scenario,
            users: ring.n,
            first_user: ring.first,
            contacts: ring.k,
            series_start_s: ledger.start_us() / 1_000_000,
            outcome,
            phases,
            unexpected: ledger.unexpected,
            unexpected_examples: ledger.unexpected_examples.clone(),
            disconnects,
            errors,
            server,
            generator_cpu_s: generator.cpu_s,
            machine: Vec::new(),
            ok,
            merged: None,
        }
    }

    /// The Markdown summary.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let o = &self.outcome;
        let processes = match &self.merged {
            Some(m) => format!(" in {} generator processes", m.processes),
            None if self.first_user > 0 => format!(
                " (user{} … user{})",
                self.first_user,
                u64::from(self.first_user) + u64::from(self.users) - 1
            ),
            None => String::new(),
        };
        let _ = writeln!(
            s,
            "# Load test: {:?}, {} users{processes}, {} contacts each\n",
            self.scenario, self.users, self.contacts
        );
        let _ = writeln!(s, "Result: **{}**\n", if self.ok { "pass" } else { "FAIL" });
        if let Some(why) = &o.ended_early {
            let _ = writeln!(s, "- Ended early: {why}");
        }
        let _ = writeln!(
            s,
            "- Logins: {} in {:.2} s ({:.0}/s); connect-to-bound p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            o.login.sessions,
            o.login.elapsed_s,
            o.login.rate_per_s,
            o.login.p50_ms,
            o.login.p99_ms,
            o.login.max_ms
        );
        if let Some(m) = o.mesh_s {
            let _ = writeln!(s, "- Initial presence mesh complete after {m:.2} s");
        }
        if let Some(at) = o.start_at_s {
            let _ = writeln!(
                s,
                "- Measured phase started at {at} (Unix time, --start-at)"
            );
        }
        if o.sent > 0 {
            let _ = writeln!(
                s,
                "- Measured stanzas sent: {} in {:.2} s ({:.0}/s)",
                o.sent,
                o.send_s,
                o.sent as f64 / o.send_s.max(1e-9)
            );
        }
        let _ = writeln!(
            s,
            "- Unexpected receipts {}, disconnects {}, error stanzas {}",
            self.unexpected, self.disconnects, self.errors
        );
        for example in &self.unexpected_examples {
            let _ = writeln!(s, "  - {example}");
        }
        if let Some(c) = &self.server {
            let pids = match (&self.merged, c.pid) {
                (Some(m), _) => {
                    let pids: Vec<String> = m.server_pids.iter().map(u32::to_string).collect();
                    format!(" (PID {})", pids.join(", "))
                }
                (None, Some(pid)) => format!(" (PID {pid})"),
                (None, None) => String::new(),
            };
            let _ = writeln!(
                s,
                "- Server{pids}: {:.2} CPU s; RSS {:.1} → {:.1} MiB ({:.1} KiB per session)",
                c.cpu_s,
                c.rss_before_bytes as f64 / 1048576.0,
                c.rss_bound_bytes as f64 / 1048576.0,
                c.bytes_per_session / 1024.0
            );
            if c.rss_idle_bytes > 0 {
                let _ = writeln!(
                    s,
                    "- Server after the initial presence, every session idle: RSS {:.1} MiB \
                     ({:.1} KiB per idle session)",
                    c.rss_idle_bytes as f64 / 1048576.0,
                    c.idle_bytes_per_session / 1024.0
                );
            }
        }
        let _ = writeln!(s, "- Generator: {:.2} CPU s\n", self.generator_cpu_s);
        let _ = writeln!(
            s,
            "| phase | expected | delivered | missing | duplicates | deliveries/s | p50 ms | p99 ms | p99.9 ms | max ms |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for p in &self.phases {
            let ms = |us: u64| us as f64 / 1000.0;
            let _ = writeln!(
                s,
                "| {:?} | {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} |",
                p.phase,
                p.expected,
                p.delivered,
                p.missing,
                p.duplicates,
                p.deliveries_per_s,
                ms(p.p50_us),
                ms(p.p99_us),
                ms(p.p999_us),
                ms(p.max_us)
            );
        }
        self.machine_markdown(&mut s);
        if let Some(m) = &self.merged {
            m.markdown(&mut s);
        }
        s
    }

    /// The machine during each phase, when it was sampled.
    fn machine_markdown(&self, s: &mut String) {
        let spans: Vec<(Phase, machine::Span)> = self
            .phases
            .iter()
            .filter_map(|p| Some((p.phase, p.machine(&self.machine)?)))
            .collect();
        if spans.is_empty() {
            return;
        }
        let _ = writeln!(
            s,
            "\nThe machine while each phase's deliveries arrived (steal: CPU time the \
             hypervisor gave to other guests; a core is one CPU second per second):\n\n\
             | phase | seconds | steal mean | steal worst second | idle | server cores | generator cores |\n\
             |---|---:|---:|---:|---:|---:|---:|"
        );
        for (phase, m) in spans {
            let _ = writeln!(
                s,
                "| {phase:?} | {} | {:.1}% | {:.1}% | {:.1}% | {} | {:.2} |",
                m.seconds,
                m.steal_pct,
                m.steal_max_pct,
                m.idle_pct,
                m.server_cores.map_or("–".into(), |c| format!("{c:.2}")),
                m.generator_cores
            );
        }
    }

    /// Writes `result.json`, `summary.md` and `latency.svg` into `dir`.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::write(dir.join("result.json"), serde_json::to_vec_pretty(self)?)?;
        std::fs::write(dir.join("summary.md"), self.markdown())?;
        crate::plot::svg(&dir.join("latency.svg"), &self.phases, &self.machine)?;
        Ok(())
    }
}

impl Merged {
    fn markdown(&self, s: &mut String) {
        let _ = writeln!(
            s,
            "\n## Generator processes\n\n\
             | result | users | server PID | measured expected | delivered | missing | generator CPU s | verdict |"
        );
        let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---|");
        for r in &self.runs {
            let _ = writeln!(
                s,
                "| {} | user{} … user{} | {} | {} | {} | {} | {:.2} | {} |",
                r.source,
                r.first_user,
                u64::from(r.first_user) + u64::from(r.users).max(1) - 1,
                r.server_pid.map_or("–".into(), |p| p.to_string()),
                r.expected,
                r.delivered,
                r.missing,
                r.generator_cpu_s,
                if r.ok { "pass" } else { "FAIL" }
            );
        }
        if !self.notes.is_empty() {
            let _ = writeln!(s);
            for n in &self.notes {
                let _ = writeln!(s, "- {n}");
            }
        }
    }
}
