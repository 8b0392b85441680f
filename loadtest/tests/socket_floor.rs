//! `starling-loadtest socket-floor` as a user runs it: both processes, on loopback.

use std::process::{Command, Output};

fn socket_floor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_starling-loadtest"))
        .arg("socket-floor")
        .args(args)
        .output()
        .unwrap()
}

/// The table's one row of a run that must succeed.
fn row_of_a_run(args: &[&str]) -> String {
    let output = socket_floor(args);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.lines().nth(2).unwrap().to_owned()
}

#[test]
fn a_small_run_reports_every_message_written_as_received() {
    let row = row_of_a_run(&[
        "--connections",
        "40",
        "--rate",
        "5000",
        "--duration",
        "0.4",
        "--bytes",
        "120",
    ]);
    assert!(
        row.starts_with("| 40 | 120 | 5000 | 2000 (2000) | "),
        "{row}"
    );
}

#[test]
fn a_small_login_run_reports_every_login_completed() {
    let row = row_of_a_run(&[
        "--logins",
        "--connections",
        "30",
        "--rate",
        "1000",
        "--round-trips",
        "3",
        "--bytes",
        "64",
    ]);
    assert!(row.starts_with("| 3 | 64 | 1000 | 30 (30) | "), "{row}");
}

#[test]
fn arguments_out_of_bounds_are_refused() {
    for args in [
        ["--rate", "0"],
        ["--duration", "7200"],
        ["--bytes", "0"],
        ["--connections", "0"],
        ["--round-trips", "0"],
    ] {
        let output = socket_floor(&[&["--logins"], &args[..]].concat());
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!output.stderr.is_empty(), "{args:?}");
    }
}
