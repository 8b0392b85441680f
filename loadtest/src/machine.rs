//! What the machine did in each second of a run: the CPU time the hypervisor took from it
//! (steal), how idle it was, and how many cores the server and the generator used.
//!
//! A latency pause in one second means little by itself on a shared machine: these readings,
//! on the same time axis as the latency series, tell a pause caused by stolen CPU or by the
//! generator falling behind from one caused by the server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::driver::lock;
use crate::procstat;
use crate::stamp::now_us;

/// One second of the run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Second {
    /// Seconds since time zero of the latency series (the report's `series_start_s`).
    pub t_s: usize,
    /// Share of the machine's CPU time taken by the hypervisor for other guests, percent.
    pub steal_pct: f64,
    /// Share of the machine's CPU time spent idle (or waiting for I/O), percent.
    pub idle_pct: f64,
    /// Cores the server used (CPU seconds per second), if its PID was given.
    pub server_cores: Option<f64>,
    /// Cores the generator used.
    pub generator_cores: f64,
}

/// The machine's CPU time counters, from the `cpu` line of /proc/stat, in clock ticks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTimes {
    /// Every tick counted (user, nice, system, idle, iowait, irq, softirq, steal; guest time
    /// is already inside user).
    pub total: u64,
    /// Idle plus iowait.
    pub idle: u64,
    /// Steal.
    pub steal: u64,
}

impl CpuTimes {
    /// Reads /proc/stat.
    pub fn read() -> std::io::Result<Self> {
        let stat = std::fs::read_to_string("/proc/stat")?;
        Self::parse(&stat).ok_or_else(|| std::io::Error::other("unreadable /proc/stat"))
    }

    fn parse(stat: &str) -> Option<Self> {
        let line = stat.lines().find(|l| l.starts_with("cpu "))?;
        let ticks: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .take(8)
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        // Kernels before 2.6.11 lack steal; every kernel this runs on has all eight.
        let [user, nice, system, idle, iowait, irq, softirq, steal] = ticks[..] else {
            return None;
        };
        Some(Self {
            total: user + nice + system + idle + iowait + irq + softirq + steal,
            idle: idle + iowait,
            steal,
        })
    }
}

/// The readings at one instant.
#[derive(Clone, Copy, Debug)]
struct Reading {
    at_us: u64,
    cpu: CpuTimes,
    server_cpu_s: Option<f64>,
    generator_cpu_s: f64,
}

impl Reading {
    fn take(server_pid: Option<u32>) -> Option<Self> {
        Some(Self {
            at_us: now_us(),
            cpu: CpuTimes::read().ok()?,
            server_cpu_s: match server_pid {
                Some(pid) => Some(procstat::sample(&pid.to_string()).ok()?.cpu_s),
                None => None,
            },
            generator_cpu_s: procstat::sample("self").ok()?.cpu_s,
        })
    }
}

/// The second from `a` to `b`, placed at `a`'s second after `start_us`.
fn between(a: &Reading, b: &Reading, start_us: u64) -> Option<Second> {
    let elapsed_s = b.at_us.checked_sub(a.at_us)? as f64 / 1e6;
    let ticks = b.cpu.total.checked_sub(a.cpu.total)?;
    if elapsed_s <= 0.0 || ticks == 0 {
        return None;
    }
    let pct = |x: u64, y: u64| y.saturating_sub(x) as f64 * 100.0 / ticks as f64;
    Some(Second {
        t_s: usize::try_from(a.at_us.checked_sub(start_us)? / 1_000_000).ok()?,
        steal_pct: pct(a.cpu.steal, b.cpu.steal),
        idle_pct: pct(a.cpu.idle, b.cpu.idle),
        server_cores: a
            .server_cpu_s
            .zip(b.server_cpu_s)
            .map(|(x, y)| (y - x).max(0.0) / elapsed_s),
        generator_cores: (b.generator_cpu_s - a.generator_cpu_s).max(0.0) / elapsed_s,
    })
}

/// Samples the machine once a second, on whole wall-clock seconds, until dropped.
pub struct Sampler {
    seconds: Arc<Mutex<Vec<Second>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    /// Starts sampling; `start_us` is time zero of the latency series (a whole second).
    pub fn start(start_us: u64, server_pid: Option<u32>) -> Self {
        let seconds = Arc::new(Mutex::new(Vec::new()));
        let out = seconds.clone();
        let task = tokio::spawn(async move {
            let mut last: Option<Reading> = None;
            loop {
                // To the next whole second, so that a reading's second is the series' second.
                let now = now_us();
                let next = now - now % 1_000_000 + 1_000_000;
                tokio::time::sleep(Duration::from_micros(next - now)).await;
                let Some(reading) = Reading::take(server_pid) else {
                    // The server exited (or /proc is unreadable): nothing more to sample.
                    return;
                };
                if let Some(second) = last.and_then(|a| between(&a, &reading, start_us)) {
                    lock(&out).push(second);
                }
                last = Some(reading);
            }
        });
        Self { seconds, task }
    }

    /// Stops sampling and returns what was sampled.
    pub fn finish(self) -> Vec<Second> {
        self.task.abort();
        std::mem::take(&mut *lock(&self.seconds))
    }
}

/// The machine over a span of seconds (a phase's): means, and the worst second's steal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Span {
    /// Seconds sampled in the span.
    pub seconds: usize,
    /// Mean steal, percent of the machine.
    pub steal_pct: f64,
    /// The highest steal of one second.
    pub steal_max_pct: f64,
    /// Mean idle, percent of the machine.
    pub idle_pct: f64,
    /// Mean cores used by the server over the span's seconds in which it was read (every
    /// server, for merged runs), if it was read in any. Merged runs' processes start and
    /// stop their samplers a second apart, so a phase's first or last second can lack one
    /// server's reading; leaving the whole phase without a figure for that hid the server's
    /// CPU from the table of a run that had it for every other second.
    pub server_cores: Option<f64>,
    /// Mean cores used by the generator.
    pub generator_cores: f64,
}

/// The seconds `first..=last` of `seconds`, if any was sampled.
pub fn span(seconds: &[Second], first: usize, last: usize) -> Option<Span> {
    let inside: Vec<&Second> = seconds
        .iter()
        .filter(|s| (first..=last).contains(&s.t_s))
        .collect();
    if inside.is_empty() {
        return None;
    }
    let n = inside.len() as f64;
    let mean = |f: fn(&Second) -> f64| inside.iter().map(|s| f(s)).sum::<f64>() / n;
    let server: Vec<f64> = inside.iter().filter_map(|s| s.server_cores).collect();
    Some(Span {
        seconds: inside.len(),
        steal_pct: mean(|s| s.steal_pct),
        steal_max_pct: inside.iter().map(|s| s.steal_pct).fold(0.0, f64::max),
        idle_pct: mean(|s| s.idle_pct),
        server_cores: (!server.is_empty())
            .then(|| server.iter().sum::<f64>() / server.len() as f64),
        generator_cores: mean(|s| s.generator_cores),
    })
}

/// One generator process's series for [`merge`]: its shift onto the common time axis, the
/// server PID it measured, its seconds.
pub type Part<'a> = (usize, Option<u32>, &'a [Second]);

/// The series of generator processes that ran on one machine at the same time, on the
/// common time axis: steal and idle are the machine's, so averaged; the generators' cores are
/// added; each server process counts once (by the first process that measured it), and a
/// second lacks the server's cores unless every server was read in it.
pub fn merge(parts: &[Part<'_>]) -> Vec<Second> {
    use std::collections::{BTreeMap, BTreeSet};
    let mut seen = BTreeSet::new();
    let measurers: Vec<usize> = parts
        .iter()
        .enumerate()
        .filter(|(_, (_, pid, _))| pid.is_some_and(|p| seen.insert(p)))
        .map(|(i, _)| i)
        .collect();
    // Per common second: (steal, idle, generator cores, readings, servers read, server cores).
    let mut by_second: BTreeMap<usize, (f64, f64, f64, usize, usize, f64)> = BTreeMap::new();
    for (i, (shift, _, seconds)) in parts.iter().enumerate() {
        for s in seconds.iter() {
            let e = by_second.entry(shift + s.t_s).or_default();
            e.0 += s.steal_pct;
            e.1 += s.idle_pct;
            e.2 += s.generator_cores;
            e.3 += 1;
            if let (true, Some(c)) = (measurers.contains(&i), s.server_cores) {
                e.4 += 1;
                e.5 += c;
            }
        }
    }
    by_second
        .into_iter()
        .map(
            |(t_s, (steal, idle, generator, n, servers, server))| Second {
                t_s,
                steal_pct: steal / n as f64,
                idle_pct: idle / n as f64,
                server_cores: (!measurers.is_empty() && servers == measurers.len())
                    .then_some(server),
                generator_cores: generator,
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  100 5 50 800 20 3 2 20 7 0\ncpu0 50 2 25 400 10 1 1 10 0 0\n";

    #[test]
    fn parses_the_machine_line_of_proc_stat() {
        let t = CpuTimes::parse(STAT).unwrap();
        assert_eq!(
            t,
            CpuTimes {
                total: 1000,
                idle: 820,
                steal: 20
            }
        );
    }

    #[test]
    fn this_machine_can_be_read() {
        assert!(CpuTimes::read().unwrap().total > 0);
    }

    fn reading(at_s: f64, total: u64, idle: u64, steal: u64, server: f64, gen_s: f64) -> Reading {
        Reading {
            at_us: (at_s * 1e6) as u64,
            cpu: CpuTimes { total, idle, steal },
            server_cpu_s: Some(server),
            generator_cpu_s: gen_s,
        }
    }

    #[test]
    fn a_second_is_shares_of_the_ticks_and_cores_per_elapsed_second() {
        // Two cores at 100 ticks/s over 2 s (a late reading): 400 ticks.
        let a = reading(1_000.0, 10_000, 5_000, 100, 10.0, 3.0);
        let b = reading(1_002.0, 10_400, 5_100, 140, 12.0, 4.0);
        let s = between(&a, &b, 995_000_000).unwrap();
        assert_eq!(s.t_s, 5);
        assert!((s.steal_pct - 10.0).abs() < 1e-9);
        assert!((s.idle_pct - 25.0).abs() < 1e-9);
        assert!((s.server_cores.unwrap() - 1.0).abs() < 1e-9);
        assert!((s.generator_cores - 0.5).abs() < 1e-9);
    }

    #[test]
    fn no_second_without_elapsed_ticks_or_before_time_zero() {
        let a = reading(1_000.0, 10_000, 5_000, 100, 10.0, 3.0);
        assert_eq!(between(&a, &a, 0), None);
        let b = reading(1_001.0, 10_200, 5_000, 100, 10.0, 3.0);
        assert_eq!(between(&a, &b, 1_000_500_000), None);
    }

    #[test]
    fn a_span_averages_its_seconds_and_keeps_the_worst_steal() {
        let second = |t_s, steal_pct, server| Second {
            t_s,
            steal_pct,
            idle_pct: 10.0,
            server_cores: server,
            generator_cores: 0.5,
        };
        let seconds = [
            second(3, 90.0, Some(0.0)),
            second(4, 2.0, Some(1.0)),
            second(5, 30.0, Some(2.0)),
            second(6, 4.0, Some(1.5)),
            second(7, 99.0, Some(0.0)),
        ];
        let s = span(&seconds, 4, 6).unwrap();
        assert_eq!(s.seconds, 3);
        assert!((s.steal_pct - 12.0).abs() < 1e-9);
        assert!((s.steal_max_pct - 30.0).abs() < 1e-9);
        assert!((s.server_cores.unwrap() - 1.5).abs() < 1e-9);
        assert!((s.generator_cores - 0.5).abs() < 1e-9);
        assert_eq!(span(&seconds, 10, 12), None);
        // A second without the server's reading is left out of the server's mean, and a
        // span with no reading has none.
        let partial = [second(4, 1.0, Some(1.0)), second(5, 1.0, None)];
        assert_eq!(span(&partial, 4, 5).unwrap().server_cores, Some(1.0));
        assert_eq!(span(&partial, 5, 5).unwrap().server_cores, None);
    }

    #[test]
    fn merged_seconds_average_the_machine_add_generators_and_count_each_server_once() {
        let second = |t_s, steal_pct, server_cores| Second {
            t_s,
            steal_pct,
            idle_pct: steal_pct,
            server_cores,
            generator_cores: 0.25,
        };
        let a = [second(0, 10.0, Some(1.0)), second(1, 20.0, Some(1.5))];
        // Started a second later, measuring the same server as `a`.
        let b = [second(0, 30.0, Some(9.0))];
        // Another server.
        let c = [second(1, 40.0, Some(0.5)), second(2, 0.0, Some(0.5))];
        let merged = merge(&[(0, Some(7), &a), (1, Some(7), &b), (0, Some(8), &c)]);
        assert_eq!(
            merged,
            vec![
                // Server 8 was not read in second 0.
                second(0, 10.0, None),
                Second {
                    t_s: 1,
                    steal_pct: 30.0,
                    idle_pct: 30.0,
                    server_cores: Some(2.0),
                    generator_cores: 0.75,
                },
                // Nor server 7 in second 2.
                second(2, 0.0, None),
            ]
        );
        assert_eq!(merge(&[(0, None, &a)])[0].server_cores, None);
    }
}
