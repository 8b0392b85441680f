//! CPU time and resident memory of a process, from /proc: the server's (given its PID) and the
//! generator's own, so that a result says what the load cost and that the generator was not
//! itself the bottleneck.

use serde::Serialize;

/// Clock ticks per second of /proc's CPU times. Linux reports them in USER_HZ, which is 100 on
/// every architecture it supports; reading it from sysconf would need `unsafe` or another
/// dependency.
const TICKS_PER_S: f64 = 100.0;

/// One reading.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Sample {
    /// User plus system CPU seconds since the process started.
    pub cpu_s: f64,
    /// Resident set size in bytes.
    pub rss_bytes: u64,
}

/// Reads `/proc/<pid>` (`"self"` for this process).
pub fn sample(pid: &str) -> std::io::Result<Sample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse(&stat, &status).ok_or_else(|| std::io::Error::other(format!("unreadable /proc/{pid}")))
}

fn parse(stat: &str, status: &str) -> Option<Sample> {
    // The command name (field 2) may contain spaces and parentheses; fields after the last
    // ')' start with field 3 (state), so utime and stime (14, 15) are at 11 and 12.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(Sample {
        cpu_s: ticks as f64 / TICKS_PER_S,
        rss_bytes: rss_kb * 1024,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_ticks_and_rss() {
        let stat = "123 (my (odd) name) S 1 2 3 4 5 6 7 8 9 10 250 150 0 0 20 0";
        let status = "Name:\tx\nVmRSS:\t   2048 kB\nThreads: 1\n";
        let s = parse(stat, status).unwrap();
        assert!((s.cpu_s - 4.0).abs() < 1e-9);
        assert_eq!(s.rss_bytes, 2048 * 1024);
    }

    #[test]
    fn this_process_can_be_read() {
        assert!(sample("self").unwrap().rss_bytes > 0);
    }
}
