use super::*;
use crate::machine::Second;
use crate::report::{PhaseSummary, Point as Sec};
use crate::scenario::{Outcome, Scenario};

/// A presence run: `expected` deliveries offered over `send_s` seconds, with these results;
/// its deliveries arrive in seconds 10 and 11, when the machine was as `machine` says.
fn report(expected: u64, send_s: f64, missing: u64, p99_us: u64) -> Report {
    let second = |t_s| Sec {
        t_s,
        deliveries: (expected - missing) / 2,
        p50_us: p99_us / 4,
        p99_us,
        max_us: p99_us * 2,
        histogram: None,
    };
    let phase = |phase, expected: u64, missing| PhaseSummary {
        phase,
        expected,
        delivered: expected - missing,
        duplicates: 0,
        missing,
        deliveries_per_s: (expected - missing) as f64 / 2.0,
        p50_us: p99_us / 4,
        p99_us,
        p999_us: p99_us,
        max_us: p99_us * 2,
        histogram: None,
        series: Vec::new(),
    };
    let mut measured = phase(Phase::Presence, expected, missing);
    measured.series = vec![second(10), second(11)];
    let machine = [(9, 0.1), (10, 1.2), (11, 1.4), (12, 0.1)].map(|(t_s, cores)| Second {
        t_s,
        steal_pct: 0.0,
        idle_pct: 10.0,
        server_cores: Some(cores),
        generator_cores: 0.5,
    });
    Report {
        scenario: Scenario::Presence,
        users: 100,
        first_user: 0,
        contacts: 4,
        series_start_s: 0,
        outcome: Outcome {
            sent: expected / 4,
            send_s,
            ..Outcome::default()
        },
        phases: vec![phase(Phase::Initial, 400, 0), measured],
        unexpected: 0,
        unexpected_examples: Vec::new(),
        disconnects: 0,
        errors: 0,
        server: None,
        generator_cpu_s: 1.0,
        machine: machine.to_vec(),
        ok: missing == 0,
        merged: None,
    }
}

fn point(offered_per_s: f64, missing: u64, p99_us: u64) -> Point {
    Point {
        offered_per_s,
        delivered_per_s: offered_per_s,
        missing,
        duplicates: 0,
        p50_us: p99_us / 4,
        p99_us,
        max_us: p99_us * 2,
        machine: None,
        ended_early: false,
    }
}

#[test]
fn the_server_is_the_run_directory_up_to_its_rate() {
    for (input, server) in [
        ("out/ejabberd-600", "ejabberd"),
        ("out/starling-4000-again", "starling"),
        ("out/prosody-150/result.json", "prosody"),
        ("out/some-name-3", "some-name"),
        ("out/starling", "starling"),
    ] {
        assert_eq!(server_of(Path::new(input)), server, "{input}");
    }
}

#[test]
fn the_offered_load_is_the_measured_phase_expected_over_its_sending_time() {
    // 1,500 deliveries expected over 20 s of sending: 75/s offered; 1,200 arrived over the
    // two seconds they took, 300 never did.
    let p = Point::of(&report(1_500, 20.0, 300, 40_000)).unwrap();
    assert_eq!(p.offered_per_s, 75.0);
    assert_eq!(p.delivered_per_s, 600.0);
    assert_eq!(
        (p.missing, p.p50_us, p.p99_us, p.max_us),
        (300, 10_000, 40_000, 80_000)
    );
    // The machine over seconds 10 and 11, when the deliveries arrived.
    let m = p.machine.unwrap();
    assert_eq!(m.seconds, 2);
    assert!((m.server_cores.unwrap() - 1.3).abs() < 1e-9);
    assert_eq!((m.generator_cores, m.idle_pct), (0.5, 10.0));
}

#[test]
fn a_login_storm_has_no_curve() {
    let mut r = report(1_500, 20.0, 0, 40_000);
    r.phases.retain(|p| p.phase == Phase::Initial);
    let e = Point::of(&r).unwrap_err();
    assert!(e.to_string().contains("no measured phase"), "{e}");
}

#[test]
fn a_load_is_held_only_if_it_and_every_lower_one_kept_up() {
    let s = Series {
        server: "x".into(),
        version: None,
        points: vec![
            point(1_000.0, 0, 5_000),
            point(2_000.0, 0, 80_000),
            point(4_000.0, 0, 500_000),
            point(8_000.0, 0, 3_000_000),
            // Kept up again by chance above a load it did not: not held.
            point(16_000.0, 0, 50_000),
        ],
    };
    assert_eq!(s.held(1_000_000).unwrap().offered_per_s, 4_000.0);
    assert_eq!(s.held(100_000).unwrap().offered_per_s, 2_000.0);
    assert_eq!(s.held(1_000).map(|p| p.offered_per_s), None);
    // A missing delivery is not held, however fast the rest arrived.
    let s = Series {
        points: vec![point(1_000.0, 0, 5_000), point(2_000.0, 1, 5_000)],
        ..s
    };
    assert_eq!(s.held(1_000_000).unwrap().offered_per_s, 1_000.0);
}

#[test]
fn runs_are_grouped_by_server_most_held_first_and_sorted_by_load() {
    let all = series(vec![
        ("ejabberd".into(), None, point(8.0, 0, 1)),
        (
            "starling".into(),
            Some("starling 0.1.0".into()),
            point(80.0, 0, 1),
        ),
        ("prosody".into(), None, point(3.0, 0, 2_000_000)),
        ("starling".into(), None, point(60.0, 0, 1)),
        (
            "ejabberd".into(),
            Some("ejabberd 23.01-1".into()),
            point(6.0, 0, 1),
        ),
    ]);
    let shape: Vec<(&str, Option<&str>, Vec<f64>)> = all
        .iter()
        .map(|s| {
            (
                s.server.as_str(),
                s.version.as_deref(),
                s.points.iter().map(|p| p.offered_per_s).collect(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("starling", Some("starling 0.1.0"), vec![60.0, 80.0]),
            ("ejabberd", Some("ejabberd 23.01-1"), vec![6.0, 8.0]),
            // Held nothing: last.
            ("prosody", None, vec![3.0]),
        ]
    );
}

#[test]
fn the_table_lists_every_run_and_what_each_server_held() {
    let mut fast = point(60_000.0, 0, 55_000);
    fast.machine = Some(machine::Span {
        seconds: 20,
        steal_pct: 0.0,
        steal_max_pct: 0.0,
        idle_pct: 11.4,
        server_cores: Some(1.17),
        generator_cores: 0.58,
    });
    let all = series(vec![
        ("starling".into(), Some("starling 0.1.0".into()), fast),
        ("starling".into(), None, point(80_000.0, 0, 1_191_000)),
        (
            "ejabberd".into(),
            Some("ejabberd 23.01-1".into()),
            point(9_000.0, 0, 1_432_000),
        ),
    ]);
    assert_eq!(
        markdown("Presence, 10000 users, 20 contacts each", &all),
        "# Saturation: Presence, 10000 users, 20 contacts each\n\
         \n\
         Servers: starling 0.1.0, ejabberd 23.01-1.\n\
         \n\
         | server | offered deliveries/s | delivered per second | missing | duplicated | p50 ms | p99 ms | max ms | server / generator cores, idle |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n\
         | starling | 60000 | 60000 | 0 | 0 | 13.8 | 55.0 | 110 | 1.17 / 0.58, 11% |\n\
         | starling | 80000 | 80000 | 0 | 0 | 298 | 1191 | 2382 | - |\n\
         | ejabberd | 9000 | 9000 | 0 | 0 | 358 | 1432 | 2864 | - |\n\
         \n\
         Held: the highest offered load with every delivery arriving once, p99 under the \
         limit and the run not ended early, at that load and every lower one.\n\
         \n\
         | server | p99 under 1 s | p99 under 100 ms |\n\
         |---|---:|---:|\n\
         | starling | 60000/s (p99 55.0 ms) | 60000/s (p99 55.0 ms) |\n\
         | ejabberd | none of these loads | none of these loads |\n\
         \n\
         starling / ejabberd: - with p99 under 1 s for both, - under 100 ms for both, - with \
         starling under 100 ms against ejabberd under 1 s (the targets' comparison).\n"
    );
}

#[test]
fn a_series_of_run_directories_gives_the_table_and_the_plot() {
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = Vec::new();
    for (name, expected, p99_us) in [
        ("starling-3000", 1_200_000, 30_000),
        ("starling-3500", 1_400_000, 500_000),
        ("starling-4000", 1_600_000, 1_500_000),
        ("ejabberd-300", 120_000, 50_000),
        ("ejabberd-400", 160_000, 400_000),
    ] {
        let run = dir.path().join(name);
        report(expected, 20.0, 0, p99_us).write(&run).unwrap();
        let server = name.split('-').next().unwrap();
        std::fs::write(run.join("version.txt"), format!("{server} 1.0\n")).unwrap();
        inputs.push(run);
    }
    // A result file given directly counts as its directory.
    inputs[3] = inputs[3].join("result.json");
    let out = dir.path().join("curve");
    let table = execute(&CurveArgs {
        out: out.clone(),
        inputs: inputs.clone(),
    })
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(out.join("curve.md")).unwrap(),
        table
    );
    assert!(
        table.contains("Servers: starling 1.0, ejabberd 1.0."),
        "{table}"
    );
    assert!(
        table.contains("| starling | 70000/s (p99 500 ms) | 60000/s (p99 30.0 ms) |"),
        "{table}"
    );
    assert!(
        table.contains("| ejabberd | 8000/s (p99 400 ms) | 6000/s (p99 50.0 ms) |"),
        "{table}"
    );
    // 70,000 / 8,000, 60,000 / 6,000 and 60,000 / 8,000.
    assert!(
        table.ends_with(
            "\nstarling / ejabberd: 8.75 with p99 under 1 s for both, 10.00 under 100 ms for \
             both, 7.50 with starling under 100 ms against ejabberd under 1 s (the targets' \
             comparison).\n"
        ),
        "{table}"
    );
    let svg = std::fs::read_to_string(out.join("curve.svg")).unwrap();
    for legend in ["starling p99", "starling p50", "ejabberd p99", "offered"] {
        assert!(svg.contains(legend), "{legend}");
    }

    // Runs of another N, K or scenario are not one curve.
    let other = dir.path().join("prosody-150");
    let mut r = report(60_000, 20.0, 0, 50_000);
    r.contacts = 10;
    r.write(&other).unwrap();
    inputs.push(other);
    let e = execute(&CurveArgs { out, inputs }).unwrap_err();
    assert!(e.to_string().contains("another scenario, N or K"), "{e}");
}

/// A run that ended early (its server went away) is a point on the curve but not held, even
/// with nothing in flight lost; one that ended before its measured phase offered no load to
/// draw, and is named below the table instead.
#[test]
fn runs_that_ended_early_are_not_held_and_those_without_a_measured_phase_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let why = "the measured phase stopped after 3000 stanzas: the session of user7 had closed \
               (the server closed it or went away)";
    let mut inputs = Vec::new();
    for (name, expected, ended_early, measured) in [
        ("prosody-300", 120_000, false, true),
        ("prosody-400", 160_000, true, true),
        ("prosody-500", 200_000, true, false),
    ] {
        let mut r = report(expected, 20.0, 0, 50_000);
        if ended_early {
            r.outcome.ended_early = Some(why.to_owned());
            r.ok = false;
        }
        if !measured {
            r.phases.retain(|p| p.phase == Phase::Initial);
            r.outcome.send_s = 0.0;
        }
        let run = dir.path().join(name);
        r.write(&run).unwrap();
        inputs.push(run);
    }
    let out = dir.path().join("curve");
    let table = execute(&CurveArgs {
        out,
        inputs: inputs.clone(),
    })
    .unwrap();
    assert!(
        table.contains("| prosody | 8000 | 80000 | 0 (ended early) | 0 |"),
        "{table}"
    );
    assert!(
        table.contains("| prosody | 6000/s (p99 50.0 ms) | 6000/s (p99 50.0 ms) |"),
        "{table}"
    );
    let left_out = format!(
        "\nLeft out, ended before their measured phase:\n\n- {}: ended early: {why}\n",
        inputs[2].display()
    );
    assert!(table.ends_with(&left_out), "{table}");

    // Nothing to draw at all.
    let e = execute(&CurveArgs {
        out: dir.path().join("none"),
        inputs: vec![inputs[2].clone()],
    })
    .unwrap_err();
    assert!(
        e.to_string().contains("no run with a measured phase"),
        "{e}"
    );
}

#[test]
fn axes_are_ticked_at_round_numbers() {
    assert_eq!(
        ticks(&(1_500.0..71_000.0)),
        [2_000.0, 5_000.0, 10_000.0, 20_000.0, 50_000.0]
    );
    // Past two decades, only the powers of ten.
    assert_eq!(
        ticks(&(0.4..20_000.0)),
        [1.0, 10.0, 100.0, 1_000.0, 10_000.0]
    );
    let labels: Vec<String> = [0.5, 1.0, 20.0, 1_500.0, 60_000.0].map(short).to_vec();
    assert_eq!(labels, ["0.5", "1", "20", "1.5k", "60k"]);
}
