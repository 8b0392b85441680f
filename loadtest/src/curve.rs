//! The saturation curve of a series of runs: for each server, latency and deliveries per
//! second against the load offered, which shows where each server stops keeping up.
//!
//! A side-by-side series (`loadtest/compare` with `COMPARE_RATES`) runs each server at
//! several rates, one `result.json` per run in a directory named `<server>-<rate>`. One run's
//! plot shows how its latency moved second by second; what a reader comparing servers wants is
//! one picture of every run: p50 and p99 of the measured phase against the offered deliveries
//! per second, per server, both axes logarithmic, since the servers' rates lie a decade apart.
//! The Markdown table beside it states, for each server, the highest rate it held (p99 under
//! 1 s, the measure the targets were set with, and under 100 ms), at that rate and every
//! lower one, with nothing missing or repeated.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use plotters::prelude::*;

use crate::accounting::Phase;
use crate::machine;
use crate::report::Report;

/// `starling-loadtest curve --out DIR RUN...`
#[derive(Debug, clap::Args)]
pub struct CurveArgs {
    /// Directory for curve.svg and curve.md.
    #[arg(long)]
    pub out: PathBuf,
    /// Each run's output directory (or its result.json). The server's name is the directory's
    /// name up to the first '-' followed by a digit (`ejabberd-600` is ejabberd's), as
    /// `loadtest/compare` names them; a `version.txt` beside the result names its version.
    #[arg(required = true, num_args = 1..)]
    pub inputs: Vec<PathBuf>,
}

/// p99 limits a server "holds" a rate under: the targets' measure, and the latency the
/// targets ask of Starling.
const LIMITS_US: [u64; 2] = [1_000_000, 100_000];

/// One run, reduced to what the curve shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Deliveries expected per second of sending: the load offered.
    pub offered_per_s: f64,
    /// Deliveries per second over the seconds in which any arrived.
    pub delivered_per_s: f64,
    /// Never received.
    pub missing: u64,
    /// Received more than once.
    pub duplicates: u64,
    /// Latency, microseconds.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Maximum.
    pub max_us: u64,
    /// The machine while the deliveries arrived: the server's and the generator's cores,
    /// idle and steal.
    pub machine: Option<machine::Span>,
    /// The run ended early (a session closed, the server went away): not held, whatever
    /// arrived of what was sent.
    pub ended_early: bool,
}

impl Point {
    /// The measured phase of `report` (not the initial presence): a login storm has none.
    pub fn of(report: &Report) -> anyhow::Result<Point> {
        let Some(phase) = report.phases.iter().find(|p| p.phase != Phase::Initial) else {
            bail!("no measured phase (a login storm has none)");
        };
        if report.outcome.send_s <= 0.0 {
            bail!("nothing was sent in the measured phase");
        }
        Ok(Point {
            offered_per_s: phase.expected as f64 / report.outcome.send_s,
            delivered_per_s: phase.deliveries_per_s,
            missing: phase.missing,
            duplicates: phase.duplicates,
            p50_us: phase.p50_us,
            p99_us: phase.p99_us,
            max_us: phase.max_us,
            machine: phase.machine(&report.machine),
            ended_early: report.outcome.ended_early.is_some(),
        })
    }

    /// Every delivery arrived once, p99 under `limit_us`, and the run went to its end.
    fn holds(&self, limit_us: u64) -> bool {
        !self.ended_early && self.missing == 0 && self.duplicates == 0 && self.p99_us < limit_us
    }
}

/// One server's runs, by offered load.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The server's name.
    pub server: String,
    /// Its version, if the runs recorded it.
    pub version: Option<String>,
    /// Its runs, lowest offered load first.
    pub points: Vec<Point>,
}

impl Series {
    /// The highest offered load held under `limit_us`, with every lower one held too.
    pub fn held(&self, limit_us: u64) -> Option<&Point> {
        self.points.iter().take_while(|p| p.holds(limit_us)).last()
    }
}

/// The run directory of an input: the input, or the directory of a `result.json` given.
fn run_dir(input: &Path) -> &Path {
    if input.extension().is_some_and(|e| e == "json") {
        input.parent().unwrap_or(input)
    } else {
        input
    }
}

/// The server's name of a run directory: its name up to the first '-' followed by a digit.
pub fn server_of(input: &Path) -> String {
    let name = run_dir(input)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bytes = name.as_bytes();
    let cut = (0..bytes.len())
        .find(|&i| bytes[i] == b'-' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        .unwrap_or(bytes.len());
    name[..cut].to_owned()
}

/// Groups runs by server, each by offered load, the server that held the highest load (p99
/// under 1 s) first, then in the order the servers first appear: the ratios of the table are
/// to the first.
pub fn series(runs: Vec<(String, Option<String>, Point)>) -> Vec<Series> {
    let mut all: Vec<Series> = Vec::new();
    for (server, version, point) in runs {
        match all.iter_mut().find(|s| s.server == server) {
            Some(s) => {
                s.version = s.version.take().or(version);
                s.points.push(point);
            }
            None => all.push(Series {
                server,
                version,
                points: vec![point],
            }),
        }
    }
    for s in &mut all {
        s.points
            .sort_by(|a, b| a.offered_per_s.total_cmp(&b.offered_per_s));
    }
    let held = |s: &Series| s.held(LIMITS_US[0]).map_or(0.0, |p| p.offered_per_s);
    all.sort_by(|a, b| held(b).total_cmp(&held(a)));
    all
}

/// Reads the runs, writes `curve.svg` and `curve.md` into `args.out`, and returns the
/// Markdown.
pub fn execute(args: &CurveArgs) -> anyhow::Result<String> {
    let mut runs = Vec::with_capacity(args.inputs.len());
    let mut first: Option<Report> = None;
    let mut left_out = Vec::new();
    for input in &args.inputs {
        let (_, report) = crate::merge::read(input)?;
        let point = match (Point::of(&report), &report.outcome.ended_early) {
            (Ok(point), _) => point,
            // Ended before its measured phase: no load was offered to draw.
            (Err(_), Some(why)) => {
                left_out.push(format!("{}: ended early: {why}", input.display()));
                continue;
            }
            (Err(e), None) => return Err(e.context(format!("{}", input.display()))),
        };
        let version = std::fs::read_to_string(run_dir(input).join("version.txt"))
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        if let Some(f) = &first
            && (f.scenario, f.users, f.contacts) != (report.scenario, report.users, report.contacts)
        {
            bail!(
                "{} ran another scenario, N or K than the first run; a curve compares one load",
                input.display()
            );
        }
        runs.push((server_of(input), version, point));
        first.get_or_insert(report);
    }
    let Some(first) = first else {
        bail!(
            "no run with a measured phase given ({} ended before it)",
            left_out.len()
        );
    };
    let all = series(runs);
    let title = format!(
        "{:?}, {} users, {} contacts each",
        first.scenario, first.users, first.contacts
    );
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut md = markdown(&title, &all);
    if !left_out.is_empty() {
        let _ = writeln!(md, "\nLeft out, ended before their measured phase:\n");
        for run in &left_out {
            let _ = writeln!(md, "- {run}");
        }
    }
    std::fs::write(args.out.join("curve.md"), &md)?;
    svg(&args.out.join("curve.svg"), &title, &all)?;
    Ok(md)
}

/// The table of every run and what each server held.
pub fn markdown(title: &str, all: &[Series]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Saturation: {title}\n");
    let versions: Vec<String> = all.iter().filter_map(|x| x.version.clone()).collect();
    if !versions.is_empty() {
        let _ = writeln!(s, "Servers: {}.\n", versions.join(", "));
    }
    let _ = writeln!(
        s,
        "| server | offered deliveries/s | delivered per second | missing | duplicated | p50 ms | p99 ms | max ms | server / generator cores, idle |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for x in all {
        for p in &x.points {
            let machine = match p.machine {
                Some(m) => format!(
                    "{} / {:.2}, {:.0}%",
                    m.server_cores.map_or("-".to_owned(), |c| format!("{c:.2}")),
                    m.generator_cores,
                    m.idle_pct
                ),
                None => "-".to_owned(),
            };
            let missing = if p.ended_early {
                format!("{} (ended early)", p.missing)
            } else {
                p.missing.to_string()
            };
            let _ = writeln!(
                s,
                "| {} | {:.0} | {:.0} | {missing} | {} | {} | {} | {} | {machine} |",
                x.server,
                p.offered_per_s,
                p.delivered_per_s,
                p.duplicates,
                ms(p.p50_us),
                ms(p.p99_us),
                ms(p.max_us),
            );
        }
    }
    let _ = writeln!(
        s,
        "\nHeld: the highest offered load with every delivery arriving once, p99 under the \
         limit and the run not ended early, at that load and every lower one.\n"
    );
    let _ = writeln!(s, "| server | p99 under 1 s | p99 under 100 ms |");
    let _ = writeln!(s, "|---|---:|---:|");
    for x in all {
        let held = LIMITS_US.map(|limit| match x.held(limit) {
            Some(p) => format!("{:.0}/s (p99 {} ms)", p.offered_per_s, ms(p.p99_us)),
            None => "none of these loads".to_owned(),
        });
        let _ = writeln!(s, "| {} | {} | {} |", x.server, held[0], held[1]);
    }
    if let Some((first, rest)) = all.split_first() {
        let [slow, fast] = LIMITS_US;
        for other in rest {
            // The first server's load held under `mine` over the other's under `theirs`.
            let ratio = |mine, theirs| match (first.held(mine), other.held(theirs)) {
                (Some(a), Some(b)) => format!("{:.2}", a.offered_per_s / b.offered_per_s),
                _ => "-".to_owned(),
            };
            let _ = writeln!(
                s,
                "\n{} / {}: {} with p99 under 1 s for both, {} under 100 ms for both, {} with \
                 {} under 100 ms against {} under 1 s (the targets' comparison).",
                first.server,
                other.server,
                ratio(slow, slow),
                ratio(fast, fast),
                ratio(fast, slow),
                first.server,
                other.server,
            );
        }
    }
    s
}

/// Milliseconds from microseconds, to a tenth below 100 ms and whole above.
fn ms(us: u64) -> String {
    let ms = us as f64 / 1000.0;
    if ms < 100.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

/// Line colours, one per server in order.
const COLORS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(0, 0, 0),
];
/// The limits and the diagonal: lines to read the others against.
const GUIDE: RGBColor = RGBColor(255, 127, 14);

/// Two panels over the offered load: p50 and p99 latency (ms), with the two limits, and
/// deliveries per second against the offered (the diagonal is keeping up); the key in a
/// column of its own on the right, where no point can hide it.
pub fn svg(path: &Path, title: &str, all: &[Series]) -> anyhow::Result<()> {
    let points = || all.iter().flat_map(|s| &s.points);
    let lowest = points()
        .map(|p| p.offered_per_s)
        .fold(f64::INFINITY, f64::min);
    let highest = points().map(|p| p.offered_per_s).fold(1.0, f64::max);
    let x = (lowest.min(highest) / 1.3).max(1.0)..highest * 1.3;
    let latency = |us: u64| (us as f64 / 1000.0).max(0.1);
    let y_low = points()
        .map(|p| latency(p.p50_us))
        .fold(f64::INFINITY, f64::min)
        .min(50.0)
        / 2.0;
    let y_high = points().map(|p| latency(p.p99_us)).fold(2_000.0, f64::max) * 2.0;
    let root = SVGBackend::new(path, (960, 800)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (plots, key_area) = root.split_horizontally(780);
    let (top, bottom) = plots.split_vertically(440);
    let styles: Vec<(&Series, ShapeStyle, ShapeStyle)> = all
        .iter()
        .zip(COLORS.iter().cycle())
        .map(|(s, c)| (s, c.stroke_width(2), c.mix(0.45).stroke_width(1)))
        .collect();

    let mut chart = axes(
        &top,
        &format!("{title}: latency"),
        (x.clone(), y_low..y_high),
        "ms",
    )?;
    for limit in LIMITS_US {
        let y = limit as f64 / 1000.0;
        chart
            .draw_series(LineSeries::new([(x.start, y), (x.end, y)], GUIDE))
            .map_err(err)?;
    }
    for (s, p99, p50) in &styles {
        for (pick, style) in [
            ((|p: &Point| p.p99_us) as fn(&Point) -> u64, *p99),
            (|p: &Point| p.p50_us, *p50),
        ] {
            let line = s.points.iter().map(|p| (p.offered_per_s, latency(pick(p))));
            curve(&mut chart, line.collect(), style)?;
        }
    }

    let y_max = points()
        .map(|p| p.delivered_per_s.max(p.offered_per_s))
        .fold(1.0, f64::max)
        * 1.3;
    let mut chart = axes(
        &bottom,
        "deliveries per second",
        (x.clone(), x.start..y_max),
        "delivered/s",
    )?;
    chart
        .draw_series(LineSeries::new([(x.start, x.start), (x.end, x.end)], GUIDE))
        .map_err(err)?;
    for (s, p99, _) in &styles {
        let line = s
            .points
            .iter()
            .map(|p| (p.offered_per_s, p.delivered_per_s.max(x.start)));
        curve(&mut chart, line.collect(), *p99)?;
    }

    let mut key = Vec::new();
    for (s, p99, p50) in &styles {
        key.push((format!("{} p99", s.server), *p99));
        key.push((format!("{} p50", s.server), *p50));
    }
    key.push(("p99 limits: 1 s, 100 ms".to_owned(), GUIDE.stroke_width(1)));
    key.push(("delivered = offered".to_owned(), GUIDE.stroke_width(1)));
    for (i, (label, style)) in key.into_iter().enumerate() {
        let y = 50 + 22 * i as i32;
        key_area
            .draw(&PathElement::new(vec![(5, y), (28, y)], style))
            .map_err(err)?;
        key_area
            .draw(&Text::new(label, (34, y - 7), ("sans-serif", 13)))
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// A log-log panel over `x` and `y`, its axes labelled in short numbers.
fn axes<'a>(
    area: &DrawingArea<SVGBackend<'a>, plotters::coord::Shift>,
    caption: &str,
    (x, y): (std::ops::Range<f64>, std::ops::Range<f64>),
    y_desc: &str,
) -> anyhow::Result<LogChart<'a>> {
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(
            x.clone().log_scale().with_key_points(ticks(&x)),
            y.clone().log_scale().with_key_points(ticks(&y)),
        )
        .map_err(err)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .x_label_formatter(&|v| short(*v))
        .y_label_formatter(&|v| short(*v))
        .x_desc("offered deliveries/s")
        .y_desc(y_desc)
        .draw()
        .map_err(err)?;
    Ok(chart)
}

/// A panel of [`axes`].
type LogChart<'a> = ChartContext<'a, SVGBackend<'a>, Cartesian2d<LogAxis, LogAxis>>;

/// A logarithmic axis with the ticks of [`ticks`].
type LogAxis = plotters::coord::combinators::WithKeyPoints<LogCoord<f64>>;

/// Ticks at 1, 2 and 5 times the powers of ten within `range` (only the powers of ten when
/// it spans more than two decades, so that labels do not crowd).
fn ticks(range: &std::ops::Range<f64>) -> Vec<f64> {
    let steps: &[f64] = if range.end > range.start * 300.0 {
        &[1.0]
    } else {
        &[1.0, 2.0, 5.0]
    };
    let mut ticks = Vec::new();
    let mut decade = 10f64.powi(range.start.log10().floor() as i32);
    while decade <= range.end {
        ticks.extend(
            steps
                .iter()
                .map(|m| m * decade)
                .filter(|t| range.contains(t)),
        );
        decade *= 10.0;
    }
    ticks
}

/// One line with a dot at each run.
fn curve(chart: &mut LogChart<'_>, line: Vec<(f64, f64)>, style: ShapeStyle) -> anyhow::Result<()> {
    chart
        .draw_series(line.iter().map(|&c| Circle::new(c, 3, style.filled())))
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(line, style))
        .map_err(err)?;
    Ok(())
}

/// An axis label: 0.5, 20, 1.5k, 60k.
fn short(v: f64) -> String {
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        }
    };
    if v >= 1000.0 {
        format!("{}k", trim(format!("{:.1}", v / 1000.0)))
    } else if v >= 1.0 {
        trim(format!("{v:.1}"))
    } else {
        trim(format!("{v:.2}"))
    }
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("curve: {e}")
}

#[cfg(test)]
mod tests;
