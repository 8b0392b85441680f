//! The report's reading and arithmetic.

use super::peer::parse_report;
use super::*;

#[test]
fn the_report_is_read_exactly() {
    assert_eq!(parse_report("done 2500 0.37"), Some((2500, 0.37)));
    assert_eq!(parse_report("done 2500"), None);
    assert_eq!(parse_report("done 2500 0.37 x"), None);
    assert_eq!(parse_report("ready"), None);
    assert_eq!(parse_report("done -1 0.3"), None);
}

#[test]
fn cost_per_message_and_cores_at_a_rate() {
    let floor = Floor {
        asked: 1_000_000,
        done: 500_000,
        load_s: 10.0,
        server_cpu_s: 6.0,
        client_cpu_s: 1.5,
    };
    assert!((floor.server_us() - 6.0).abs() < 1e-9);
    assert!((floor.client_us() - 3.0).abs() < 1e-9);
    let (server, client) = floor.cores_at(140_000.0);
    assert!((server - 0.84).abs() < 1e-9);
    assert!((client - 0.42).abs() < 1e-9);
    let nothing = Floor {
        asked: 0,
        done: 0,
        ..floor
    };
    assert_eq!(nothing.server_us(), 0.0);
}
