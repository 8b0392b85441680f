use super::*;
use crate::accounting::{Ledger, Receipt};
use crate::procstat::Sample;
use crate::report::summarize;
use crate::scenario::{Rng, Scenario};
use crate::stamp::Stamp;
use crate::topology::Ring;

const T0: u64 = 1_700_000_000_000_000;
const K: u32 = 4;

/// What one simulated process did.
struct Run {
    ring: Ring,
    /// When its ledger started (its per-second series' origin is the whole second before).
    start_us: u64,
    /// Presence changes, 20 ms apart from `start_us` + 1 s.
    changes: u64,
    /// Deliveries of the last change that never arrive.
    lost: usize,
    /// Server PID and its CPU seconds since start at the run's start and end.
    server: Option<(u32, f64, f64)>,
}

/// Feeds the process's own ledger and `all`, one ledger holding everything.
fn ledger(run: &Run, seed: u64, all: &mut Ledger) -> Ledger {
    let mut l = Ledger::new(run.start_us);
    let mut rng = Rng::new(seed);
    let ring = run.ring;
    for u in ring.users() {
        l.expect_mesh(u, &ring.contacts(u));
        all.expect_mesh(u, &ring.contacts(u));
        for c in ring.contacts(u) {
            let r = Receipt {
                recipient: c,
                sender: Some(u),
                stamp: None,
                recv_us: run.start_us + 500_000,
            };
            l.receive(r);
            all.receive(r);
        }
    }
    for step in 0..run.changes {
        let sender = ring.first + rng.below(ring.n);
        // Sequence numbers are per process; `all` needs them distinct.
        let seq = seed * 1_000_000 + step;
        let sent_us = run.start_us + 1_000_000 + step * 20_000;
        let recipients = ring.contacts(sender);
        l.expect(Phase::Presence, seq, sender, recipients.clone());
        all.expect(Phase::Presence, seq, sender, recipients.clone());
        let keep = if step + 1 == run.changes {
            recipients.len() - run.lost
        } else {
            recipients.len()
        };
        for &recipient in &recipients[..keep] {
            let latency = 100 + u64::from(rng.below(20_000)) * u64::from(rng.below(8) + 1);
            let r = Receipt {
                recipient,
                sender: Some(sender),
                stamp: Some(Stamp { seq, sent_us }),
                recv_us: sent_us + latency,
            };
            l.receive(r);
            all.receive(r);
        }
    }
    l.finish();
    l
}

fn report(run: &Run, seed: u64, all: &mut Ledger) -> Report {
    report_ending(run, seed, all, None)
}

/// [`report`], of a run that ended early for the reason given.
fn report_ending(run: &Run, seed: u64, all: &mut Ledger, ended_early: Option<String>) -> Report {
    let l = ledger(run, seed, all);
    let mut logins = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    logins.record(1000 + seed * 100).unwrap();
    let outcome = Outcome {
        login: LoginReport {
            sessions: run.ring.n,
            start_us: run.start_us,
            elapsed_s: 0.5,
            histogram: Some(Recorded::of(&logins)),
            ..LoginReport::default()
        },
        mesh_s: Some(0.5),
        start_at_s: Some(T0 / 1_000_000 + 10),
        sent: run.changes,
        send_s: run.changes as f64 * 0.02,
        send_start_us: run.start_us + 1_000_000,
        sessions: Vec::new(),
        ended_early,
        server_idle: run.server.map(|(pid, _, _)| Sample {
            cpu_s: 0.0,
            rss_bytes: (11 + u64::from(pid) - 40) << 20,
        }),
    };
    let mb = 1 << 20;
    let server = run.server.map(|(pid, start, end)| {
        let before = Sample {
            cpu_s: start,
            rss_bytes: 10 * mb,
        };
        let bound = Sample {
            cpu_s: start,
            rss_bytes: (10 + u64::from(pid) - 40) * mb,
        };
        (
            pid,
            before,
            bound,
            Sample {
                cpu_s: end,
                ..bound
            },
        )
    });
    let generator = Sample {
        cpu_s: 1.5,
        rss_bytes: mb,
    };
    let r = Report::new(
        Scenario::Presence,
        run.ring,
        outcome,
        &l,
        (0, 0),
        server,
        generator,
    );
    // What `merge` reads is what a process wrote.
    serde_json::from_slice(&serde_json::to_vec_pretty(&r).unwrap()).unwrap()
}

fn ring(first: u32, n: u32) -> Ring {
    Ring::new(n, K).unwrap().starting_at(first).unwrap()
}

fn two_runs(server: [Option<(u32, f64, f64)>; 2], lost: usize) -> (Vec<(String, Report)>, Ledger) {
    let runs = [
        Run {
            ring: ring(0, 40),
            start_us: T0 + 300_000,
            changes: 150,
            lost: 0,
            server: server[0],
        },
        Run {
            ring: ring(40, 30),
            start_us: T0 + 2_700_000,
            changes: 90,
            lost,
            server: server[1],
        },
    ];
    let mut all = Ledger::new(T0 + 300_000);
    // The second process first: merging must not depend on the order given.
    let b = report(&runs[1], 2, &mut all);
    let a = report(&runs[0], 1, &mut all);
    all.finish();
    (vec![("b".into(), b), ("a".into(), a)], all)
}

#[test]
fn counts_are_summed_and_percentiles_are_those_of_all_samples_together() {
    let (runs, all) = two_runs([Some((42, 5.0, 9.0)), Some((43, 1.0, 2.0))], 2);
    let merged = merge(runs).unwrap();
    assert_eq!(merged.users, 70);
    assert_eq!(merged.outcome.login.sessions, 70);
    assert_eq!(merged.outcome.sent, 240);
    assert_eq!(merged.series_start_s, T0 / 1_000_000);
    for phase in [Phase::Initial, Phase::Presence] {
        let want = summarize(phase, all.stats(phase));
        let got = merged.phases.iter().find(|p| p.phase == phase).unwrap();
        assert_eq!(
            (got.expected, got.delivered, got.missing, got.duplicates),
            (want.expected, want.delivered, want.missing, want.duplicates),
            "{phase:?}"
        );
        assert_eq!(
            (got.p50_us, got.p99_us, got.p999_us, got.max_us),
            (want.p50_us, want.p99_us, want.p999_us, want.max_us),
            "{phase:?}"
        );
        assert_eq!(got.histogram, want.histogram);
        assert_eq!(got.deliveries_per_s, want.deliveries_per_s);
        assert_eq!(got.series.len(), want.series.len());
        for (g, w) in got.series.iter().zip(&want.series) {
            assert_eq!(
                (g.t_s, g.deliveries, g.p50_us, g.p99_us, g.max_us),
                (w.t_s, w.deliveries, w.p50_us, w.p99_us, w.max_us)
            );
        }
    }
    let presence = merged
        .phases
        .iter()
        .find(|p| p.phase == Phase::Presence)
        .unwrap();
    assert_eq!(presence.expected, (150 + 90) * u64::from(K));
    assert_eq!(presence.missing, 2);
    assert!(!merged.ok, "a missing delivery fails the merged run");
    let m = merged.merged.as_ref().unwrap();
    assert_eq!(m.processes, 2);
    assert_eq!(m.server_pids, [42, 43]);
    let parts: Vec<(&str, u32, bool)> = m
        .runs
        .iter()
        .map(|r| (r.source.as_str(), r.first_user, r.ok))
        .collect();
    assert_eq!(parts, [("a", 0, true), ("b", 40, false)]);
    // Different server processes: CPU and memory add up.
    let s = merged.server.as_ref().unwrap();
    assert_eq!(s.cpu_s, (9.0 - 5.0) + (2.0 - 1.0));
    assert_eq!(s.rss_before_bytes, 20 << 20);
    assert_eq!(s.rss_bound_bytes, (12 + 13) << 20);
    assert_eq!(s.rss_idle_bytes, (13 + 14) << 20);
    assert_eq!(s.idle_bytes_per_session, f64::from(7 << 20) / 70.0);
    assert_eq!(merged.generator_cpu_s, 3.0);
    assert!(m.notes.is_empty(), "{:?}", m.notes);
    let md = merged.markdown();
    assert!(md.contains("70 users in 2 generator processes"), "{md}");
    assert!(md.contains("(PID 42, 43)"), "{md}");
}

#[test]
fn a_server_measured_by_several_processes_counts_once() {
    let (runs, _) = two_runs([Some((42, 5.0, 9.0)), Some((42, 6.0, 9.5))], 0);
    let merged = merge(runs).unwrap();
    assert!(merged.ok);
    let m = merged.merged.as_ref().unwrap();
    assert_eq!(m.server_pids, [42]);
    let s = merged.server.as_ref().unwrap();
    assert_eq!(s.cpu_s, 9.5 - 5.0);
    assert_eq!((s.cpu_start_s, s.cpu_end_s), (5.0, 9.5));
    assert_eq!(s.rss_before_bytes, 10 << 20);
    assert_eq!(s.rss_bound_bytes, 12 << 20);
    assert_eq!(s.bytes_per_session, f64::from(2 << 20) / 70.0);
    assert_eq!(s.rss_idle_bytes, 13 << 20);
    assert_eq!(s.idle_bytes_per_session, f64::from(3 << 20) / 70.0);
    assert_eq!(m.notes.len(), 1, "{:?}", m.notes);

    let (runs, _) = two_runs([Some((42, 5.0, 9.0)), None], 0);
    let merged = merge(runs).unwrap();
    assert!(merged.server.is_none());
    assert_eq!(merged.merged.as_ref().unwrap().server_pids, [42]);
}

/// The report of a process with users `first`.. (`n` of them), five changes from `T0`, no
/// server measured.
fn small_report(first: u32, n: u32, seed: u64, ended_early: Option<&str>) -> Report {
    let run = Run {
        ring: ring(first, n),
        start_us: T0,
        changes: 5,
        lost: 0,
        server: None,
    };
    report_ending(
        &run,
        seed,
        &mut Ledger::new(T0),
        ended_early.map(str::to_owned),
    )
}

#[test]
fn overlapping_partitions_and_mixed_runs_are_refused() {
    let report = |first, n, seed| small_report(first, n, seed, None);
    let a = report(0, 40, 1);
    let b = report(39, 10, 2);
    let e = merge(vec![("a".into(), a), ("b".into(), b)]).unwrap_err();
    assert!(e.to_string().contains("share users"), "{e}");

    let a = report(0, 40, 1);
    let mut b = report(40, 10, 2);
    b.scenario = Scenario::Messages;
    assert!(merge(vec![("a".into(), a), ("b".into(), b)]).is_err());

    // A result without histograms cannot be merged exactly.
    let a = report(0, 40, 1);
    let mut json = serde_json::to_value(&a).unwrap();
    for p in json["phases"].as_array_mut().unwrap() {
        p.as_object_mut().unwrap().remove("histogram");
    }
    let old: Report = serde_json::from_value(json).unwrap();
    let e = merge(vec![("old".into(), old)]).unwrap_err();
    assert!(e.to_string().contains("no latency histograms"), "{e}");
}

/// A process whose run ended early (a session found closed) fails on its own, with nothing
/// missing, and fails the merged run, which says which process it was and why.
#[test]
fn a_process_that_ended_early_fails_the_merged_run_and_is_named() {
    let why = "the measured phase stopped after 5 stanzas: the session of user41 had closed \
               (the server closed it or went away)";
    let a = small_report(0, 40, 1, None);
    let b = small_report(40, 10, 2, Some(why));
    assert!(a.ok);
    assert!(b.phases.iter().all(|p| p.missing == 0));
    assert!(!b.ok);
    let md = b.markdown();
    assert!(
        md.contains(&format!("Result: **FAIL**\n\n- Ended early: {why}\n")),
        "{md}"
    );
    let merged = merge(vec![("a".into(), a), ("b".into(), b)]).unwrap();
    assert!(!merged.ok);
    assert_eq!(
        merged.outcome.ended_early,
        Some(format!("the process from user40: {why}"))
    );
}

#[test]
fn the_merged_report_is_written_and_reads_back() {
    let (runs, _) = two_runs([None, None], 0);
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = Vec::new();
    for (name, r) in &runs {
        let d = dir.path().join(name);
        r.write(&d).unwrap();
        inputs.push(d);
    }
    let out = dir.path().join("merged");
    let args = MergeArgs {
        out: out.clone(),
        inputs,
    };
    let mut summary = Vec::new();
    assert!(execute(&args, &mut summary).unwrap());
    let summary = String::from_utf8(summary).unwrap();
    assert!(summary.contains("Result: **pass**"), "{summary}");
    for f in ["result.json", "summary.md", "latency.svg"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let (_, back) = read(&out).unwrap();
    assert_eq!(back.merged.unwrap().processes, 2);
    assert_eq!(back.users, 70);
}
