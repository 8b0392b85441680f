//! The result of a run: a JSON document for machines, a Markdown summary for people, and the
//! verdict (anything missing or duplicated fails the run).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::accounting::{Ledger, Phase, PhaseStats};
use crate::procstat::Sample;
use crate::scenario::{Outcome, Scenario};

/// One second of a phase.
#[derive(Debug, Serialize)]
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
}

/// One phase's totals.
#[derive(Debug, Serialize)]
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
    /// Per-second series.
    pub series: Vec<Point>,
}

fn summarize(phase: Phase, s: &PhaseStats) -> PhaseSummary {
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
        })
        .collect();
    let active: Vec<usize> = series
        .iter()
        .filter(|p| p.deliveries > 0)
        .map(|p| p.t_s)
        .collect();
    let span = match (active.first(), active.last()) {
        (Some(a), Some(b)) => (b - a + 1) as f64,
        _ => 1.0,
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
        series,
    }
}

/// The server's cost, when its PID was given.
#[derive(Debug, Serialize)]
pub struct ServerCost {
    /// CPU seconds the server used during the run.
    pub cpu_s: f64,
    /// Resident memory before the logins.
    pub rss_before_bytes: u64,
    /// Resident memory with every session bound.
    pub rss_bound_bytes: u64,
    /// (bound − before) / sessions.
    pub bytes_per_session: f64,
}

/// Everything a run reports.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The scenario run.
    pub scenario: Scenario,
    /// Users (sessions).
    pub users: u32,
    /// Contacts per user.
    pub contacts: u32,
    /// Login, mesh and send figures.
    pub outcome: Outcome,
    /// Per phase; phases with nothing expected are left out.
    pub phases: Vec<PhaseSummary>,
    /// Receipts that matched nothing.
    pub unexpected: u64,
    /// Streams that ended during the run.
    pub disconnects: u64,
    /// Error stanzas received.
    pub errors: u64,
    /// The server's cost, if measured.
    pub server: Option<ServerCost>,
    /// The generator's own CPU seconds.
    pub generator_cpu_s: f64,
    /// No missing or duplicate delivery, no misdelivery, no disconnect, no error.
    pub ok: bool,
}

impl Report {
    /// Builds the report from a finished ledger.
    pub fn new(
        scenario: Scenario,
        contacts: u32,
        outcome: Outcome,
        ledger: &Ledger,
        counters: (u64, u64),
        server: Option<(Sample, Sample, Sample)>,
        generator: Sample,
    ) -> Self {
        let phases: Vec<PhaseSummary> = [Phase::Initial, Phase::Presence, Phase::Message]
            .into_iter()
            .filter(|&p| ledger.stats(p).expected > 0)
            .map(|p| summarize(p, ledger.stats(p)))
            .collect();
        let users = outcome.login.sessions;
        let server = server.map(|(before, bound, end)| ServerCost {
            cpu_s: end.cpu_s - before.cpu_s,
            rss_before_bytes: before.rss_bytes,
            rss_bound_bytes: bound.rss_bytes,
            bytes_per_session: (bound.rss_bytes as f64 - before.rss_bytes as f64)
                / f64::from(users.max(1)),
        });
        let failed = phases
            .iter()
            .any(|p| p.missing > 0 || (p.duplicates > 0 && p.phase != Phase::Initial));
        let (disconnects, errors) = counters;
        let ok = !failed && ledger.unexpected == 0 && disconnects == 0 && errors == 0;
        Self {
            scenario,
            users,
            contacts,
            outcome,
            phases,
            unexpected: ledger.unexpected,
            disconnects,
            errors,
            server,
            generator_cpu_s: generator.cpu_s,
            ok,
        }
    }

    /// The Markdown summary.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let o = &self.outcome;
        let _ = writeln!(
            s,
            "# Load test: {:?}, {} users, {} contacts each\n",
            self.scenario, self.users, self.contacts
        );
        let _ = writeln!(s, "Result: **{}**\n", if self.ok { "pass" } else { "FAIL" });
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
        if let Some(c) = &self.server {
            let _ = writeln!(
                s,
                "- Server: {:.2} CPU s; RSS {:.1} → {:.1} MiB ({:.1} KiB per session)",
                c.cpu_s,
                c.rss_before_bytes as f64 / 1048576.0,
                c.rss_bound_bytes as f64 / 1048576.0,
                c.bytes_per_session / 1024.0
            );
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
        s
    }

    /// Writes `result.json`, `summary.md` and `latency.svg` into `dir`.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::write(dir.join("result.json"), serde_json::to_vec_pretty(self)?)?;
        std::fs::write(dir.join("summary.md"), self.markdown())?;
        crate::plot::svg(&dir.join("latency.svg"), &self.phases)?;
        Ok(())
    }
}
