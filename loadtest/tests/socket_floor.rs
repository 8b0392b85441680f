//! `starling-loadtest socket-floor` as a user runs it: both processes, on loopback.

use std::process::Command;

#[test]
fn a_small_run_reports_every_message_written_as_received() {
    let output = Command::new(env!("CARGO_BIN_EXE_starling-loadtest"))
        .args(["socket-floor", "--connections", "40", "--rate", "5000"])
        .args(["--duration", "0.4", "--bytes", "120"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let row = stdout.lines().nth(2).unwrap();
    assert!(
        row.starts_with("| 40 | 120 | 5000 | 2000 (2000) | "),
        "{row}"
    );
}

#[test]
fn a_small_login_run_reports_every_login_completed() {
    let output = Command::new(env!("CARGO_BIN_EXE_starling-loadtest"))
        .args([
            "socket-floor",
            "--logins",
            "--connections",
            "30",
            "--rate",
            "1000",
        ])
        .args(["--round-trips", "3", "--bytes", "64"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let row = stdout.lines().nth(2).unwrap();
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
        let output = Command::new(env!("CARGO_BIN_EXE_starling-loadtest"))
            .args(["socket-floor", "--logins"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!output.stderr.is_empty(), "{args:?}");
    }
}
