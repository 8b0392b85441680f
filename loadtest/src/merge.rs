//! Merging the results of several generator processes into one report.
//!
//! One process may hold only so many descriptors, so a large run is split: each process logs
//! in its own partition of the users (`--first-user`, `--users`), whose contacts are all
//! within it, and all of them start their measured phase at the same wall-clock time
//! (`--start-at`). Every expected delivery is then between the users of one process, which
//! accounts for it exactly; merging adds up the counts and the latency histograms that each
//! `result.json` carries, so the merged percentiles are those of one histogram holding every
//! latency, and lines the per-second series up on the wall clock.
//!
//! The server's cost is counted once per server process: several generators may have
//! measured the same PID, and then its CPU time is taken over the union of their windows and
//! its memory once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;

use crate::accounting::{Phase, PhaseStats, Recorded, histogram};
use crate::driver::LoginReport;
use crate::report::{self, Merged, PhaseSummary, Report, RunPart, ServerCost};
use crate::scenario::Outcome;

/// `starling-loadtest merge --out DIR IN...`
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Directory for the merged result.json, summary.md and latency.svg.
    #[arg(long)]
    pub out: PathBuf,
    /// Each process's output directory (or its result.json).
    #[arg(required = true, num_args = 1..)]
    pub inputs: Vec<PathBuf>,
}

/// Merges the runs, writes the merged result into `args.out` and its summary to `summary`;
/// returns the merged verdict.
pub fn execute(args: &MergeArgs, summary: &mut impl std::io::Write) -> anyhow::Result<bool> {
    let mut runs = Vec::with_capacity(args.inputs.len());
    for input in &args.inputs {
        runs.push(read(input)?);
    }
    let report = merge(runs)?;
    report.write(&args.out)?;
    let _ = summary.write_all(report.markdown().as_bytes());
    Ok(report.ok)
}

/// Reads one process's result: `DIR/result.json`, or the file itself.
pub fn read(input: &Path) -> anyhow::Result<(String, Report)> {
    let file = if input.is_dir() {
        input.join("result.json")
    } else {
        input.to_path_buf()
    };
    let text = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let report: Report = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a starling-loadtest result", file.display()))?;
    Ok((input.display().to_string(), report))
}

/// Merges the reports of processes that ran at the same time on disjoint partitions.
pub fn merge(mut runs: Vec<(String, Report)>) -> anyhow::Result<Report> {
    check(&mut runs)?;
    let mut notes = Vec::new();
    let reports: Vec<&Report> = runs.iter().map(|(_, r)| r).collect();
    let origin = reports.iter().map(|r| r.series_start_s).min().unwrap_or(0);
    let mut phases = Vec::new();
    for phase in Phase::ALL {
        let parts: Vec<(&Report, &PhaseSummary)> = reports
            .iter()
            .filter_map(|r| Some((*r, r.phases.iter().find(|p| p.phase == phase)?)))
            .collect();
        if !parts.is_empty() {
            phases.push(report::summarize(phase, &phase_stats(&parts, origin)?));
        }
    }
    let outcome = outcome(&reports, &mut notes)?;
    let (server, server_pids) = server(&reports, outcome.login.sessions, &mut notes);
    let sum = |f: fn(&Report) -> u64| reports.iter().map(|r| f(r)).sum::<u64>();
    let (unexpected, disconnects, errors) = (
        sum(|r| r.unexpected),
        sum(|r| r.disconnects),
        sum(|r| r.errors),
    );
    let ok =
        report::verdict(&phases, unexpected, disconnects, errors) && reports.iter().all(|r| r.ok);
    let parts = runs.iter().map(|(source, r)| run_part(source, r)).collect();
    Ok(Report {
        scenario: reports[0].scenario,
        users: outcome.login.sessions,
        first_user: reports[0].first_user,
        contacts: reports[0].contacts,
        series_start_s: origin,
        outcome,
        phases,
        unexpected,
        unexpected_examples: reports
            .iter()
            .flat_map(|r| &r.unexpected_examples)
            .cloned()
            .collect(),
        disconnects,
        errors,
        server,
        generator_cpu_s: reports.iter().map(|r| r.generator_cpu_s).sum(),
        machine: machine(&reports, origin)?,
        ok,
        merged: Some(Merged {
            processes: runs.len(),
            server_pids,
            runs: parts,
            notes,
        }),
    })
}

/// Refuses what cannot be merged, and orders the runs by their first user.
fn check(runs: &mut [(String, Report)]) -> anyhow::Result<()> {
    let Some((first_source, first)) = runs.first() else {
        bail!("nothing to merge");
    };
    for (source, r) in runs.iter() {
        if r.merged.is_some() {
            bail!("{source} is itself a merged result; merge the processes' own results");
        }
        if r.scenario != first.scenario || r.contacts != first.contacts {
            bail!(
                "{source} ran {:?} with {} contacts, {first_source} {:?} with {}: \
                 only runs of one scenario and shape can be merged",
                r.scenario,
                r.contacts,
                first.scenario,
                first.contacts
            );
        }
        let lacks_histograms = r.series_start_s == 0
            || r.outcome.login.histogram.is_none()
            || r.phases.iter().any(|p| {
                p.histogram.is_none()
                    || p.series
                        .iter()
                        .any(|s| s.deliveries > 0 && s.histogram.is_none())
            });
        if lacks_histograms {
            bail!(
                "{source} carries no latency histograms (written by an older \
                 starling-loadtest?), so it cannot be merged exactly"
            );
        }
    }
    runs.sort_by_key(|(_, r)| r.first_user);
    for pair in runs.windows(2) {
        let ((a_source, a), (b_source, b)) = (&pair[0], &pair[1]);
        if u64::from(a.first_user) + u64::from(a.users) > u64::from(b.first_user) {
            bail!(
                "{a_source} (user{} onwards, {} users) and {b_source} (user{} onwards) share \
                 users: each process needs its own --first-user partition",
                a.first_user,
                a.users,
                b.first_user
            );
        }
    }
    Ok(())
}

fn decode(r: &Option<Recorded>) -> anyhow::Result<Histogram<u64>> {
    match r {
        Some(r) => r.histogram(),
        None => Ok(histogram()),
    }
}

/// One phase of every process, with the per-second series on the common time axis.
fn phase_stats(parts: &[(&Report, &PhaseSummary)], origin: u64) -> anyhow::Result<PhaseStats> {
    let mut stats = PhaseStats::new();
    for (r, p) in parts {
        stats.expected += p.expected;
        stats.delivered += p.delivered;
        stats.duplicates += p.duplicates;
        stats.missing += p.missing;
        stats.latency.add(decode(&p.histogram)?)?;
        let shift = usize::try_from(r.series_start_s - origin)?;
        for point in p.series.iter().filter(|s| s.histogram.is_some()) {
            let second = shift + point.t_s;
            if stats.series.len() <= second {
                stats.series.resize_with(second + 1, histogram);
            }
            stats.series[second].add(decode(&point.histogram)?)?;
        }
    }
    Ok(stats)
}

/// The machine series of every process on the common time axis.
fn machine(reports: &[&Report], origin: u64) -> anyhow::Result<Vec<crate::machine::Second>> {
    let parts = reports
        .iter()
        .map(|r| {
            let shift = usize::try_from(r.series_start_s - origin)?;
            Ok((shift, r.server.as_ref().and_then(|c| c.pid), &r.machine[..]))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(crate::machine::merge(&parts))
}

/// Logins, the mesh and the measured sends of every process together.
fn outcome(reports: &[&Report], notes: &mut Vec<String>) -> anyhow::Result<Outcome> {
    let logins: Vec<&LoginReport> = reports.iter().map(|r| &r.outcome.login).collect();
    let mut times = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)?;
    for l in &logins {
        times.add(decode(&l.histogram)?)?;
    }
    let start_us = logins.iter().map(|l| l.start_us).min().unwrap_or(0);
    let end_us = logins
        .iter()
        .map(|l| l.start_us + (l.elapsed_s * 1e6) as u64)
        .max()
        .unwrap_or(0);
    let sessions = logins.iter().map(|l| l.sessions).sum();
    let elapsed_s = end_us.saturating_sub(start_us) as f64 / 1e6;
    let login = LoginReport::of(sessions, start_us, elapsed_s, &times);
    let mesh_s = reports
        .iter()
        .map(|r| r.outcome.mesh_s)
        .collect::<Option<Vec<f64>>>()
        .map(|all| all.into_iter().fold(0.0, f64::max));
    let starts: Vec<Option<u64>> = reports.iter().map(|r| r.outcome.start_at_s).collect();
    let start_at_s = starts[0].filter(|_| starts.iter().all(|s| *s == starts[0]));
    if start_at_s.is_none() && reports.len() > 1 {
        let shown: Vec<String> = starts
            .iter()
            .map(|s| s.map_or("none".into(), |s| s.to_string()))
            .collect();
        notes.push(format!(
            "The processes did not share one --start-at ({}): their measured phases need \
             not have overlapped, so rates over the common window understate the load.",
            shown.join(", ")
        ));
    }
    let sending: Vec<&Outcome> = reports
        .iter()
        .map(|r| &r.outcome)
        .filter(|o| o.sent > 0)
        .collect();
    let send_start_us = sending.iter().map(|o| o.send_start_us).min().unwrap_or(0);
    let send_end_us = sending
        .iter()
        .map(|o| o.send_start_us + (o.send_s * 1e6) as u64)
        .max()
        .unwrap_or(0);
    Ok(Outcome {
        login,
        mesh_s,
        start_at_s,
        sent: reports.iter().map(|r| r.outcome.sent).sum(),
        send_s: send_end_us.saturating_sub(send_start_us) as f64 / 1e6,
        send_start_us,
        sessions: Vec::new(),
        ended_early: ended_early(reports),
        server_idle: None,
    })
}

/// Why the processes that ended early did, each named by its first user.
fn ended_early(reports: &[&Report]) -> Option<String> {
    let why: Vec<String> = reports
        .iter()
        .filter_map(|r| {
            let why = r.outcome.ended_early.as_ref()?;
            Some(format!("the process from user{}: {why}", r.first_user))
        })
        .collect();
    (!why.is_empty()).then(|| why.join("; "))
}

/// The server processes' cost, each PID once, and the PIDs.
fn server(
    reports: &[&Report],
    sessions: u32,
    notes: &mut Vec<String>,
) -> (Option<ServerCost>, Vec<u32>) {
    let mut by_pid: BTreeMap<Option<u32>, Vec<&ServerCost>> = BTreeMap::new();
    for c in reports.iter().filter_map(|r| r.server.as_ref()) {
        by_pid.entry(c.pid).or_default().push(c);
    }
    let pids: Vec<u32> = by_pid.keys().flatten().copied().collect();
    let measured: usize = by_pid.values().map(Vec::len).sum();
    if measured < reports.len() {
        if measured > 0 {
            notes.push(format!(
                "Only {measured} of {} processes measured a server PID (--server-pid), so the \
                 server's cost is left out.",
                reports.len()
            ));
        }
        return (None, pids);
    }
    let mut total = ServerCost {
        pid: None,
        cpu_s: 0.0,
        cpu_start_s: 0.0,
        cpu_end_s: 0.0,
        rss_before_bytes: 0,
        rss_bound_bytes: 0,
        bytes_per_session: 0.0,
        rss_idle_bytes: 0,
        idle_bytes_per_session: 0.0,
    };
    // Idle memory only when every process measured it.
    let mut idle_measured = true;
    for (pid, costs) in &by_pid {
        let fold = |f: fn(&ServerCost) -> f64, min: bool| {
            let values = costs.iter().map(|c| f(c));
            if min {
                values.fold(f64::INFINITY, f64::min)
            } else {
                values.fold(f64::NEG_INFINITY, f64::max)
            }
        };
        let (start, end) = (fold(|c| c.cpu_start_s, true), fold(|c| c.cpu_end_s, false));
        total.cpu_start_s += start;
        total.cpu_end_s += end;
        total.cpu_s += end - start;
        total.rss_before_bytes += costs.iter().map(|c| c.rss_before_bytes).min().unwrap_or(0);
        total.rss_bound_bytes += costs.iter().map(|c| c.rss_bound_bytes).max().unwrap_or(0);
        total.rss_idle_bytes += costs.iter().map(|c| c.rss_idle_bytes).max().unwrap_or(0);
        idle_measured &= costs.iter().all(|c| c.rss_idle_bytes > 0);
        if let (Some(pid), 2..) = (pid, costs.len()) {
            notes.push(format!(
                "Server PID {pid} was measured by {} processes: its CPU time counts once, from \
                 the earliest start to the latest end of their runs; its memory once, from \
                 the lowest reading before the logins to the highest with sessions bound.",
                costs.len()
            ));
        }
    }
    total.bytes_per_session =
        (total.rss_bound_bytes as f64 - total.rss_before_bytes as f64) / f64::from(sessions.max(1));
    if idle_measured {
        total.idle_bytes_per_session = (total.rss_idle_bytes as f64
            - total.rss_before_bytes as f64)
            / f64::from(sessions.max(1));
    } else {
        total.rss_idle_bytes = 0;
    }
    (Some(total), pids)
}

fn run_part(source: &str, r: &Report) -> RunPart {
    let measured = || r.phases.iter().filter(|p| p.phase != Phase::Initial);
    RunPart {
        source: source.to_owned(),
        first_user: r.first_user,
        users: r.users,
        server_pid: r.server.as_ref().and_then(|c| c.pid),
        expected: measured().map(|p| p.expected).sum(),
        delivered: measured().map(|p| p.delivered).sum(),
        missing: measured().map(|p| p.missing).sum(),
        generator_cpu_s: r.generator_cpu_s,
        ok: r.ok,
    }
}

#[cfg(test)]
mod tests;
