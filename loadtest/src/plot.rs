//! The SVG plot: latency percentiles per second (top), deliveries per second (middle) and the
//! machine (bottom: steal, and the server's and the generator's CPU) of the measured phase,
//! which shows at a glance whether latency grew with load or over time, and whether a pause
//! coincided with stolen CPU or a busy generator.

use std::path::Path;

use plotters::prelude::*;

use crate::accounting::Phase;
use crate::machine::Second;
use crate::report::{PhaseSummary, Point};

/// A latency line: its name, what it plots, its colour.
type Line = (&'static str, fn(&Point) -> u64, RGBColor);

/// Draws the measured phase (or the initial mesh, when nothing else was measured).
pub fn svg(path: &Path, phases: &[PhaseSummary], machine: &[Second]) -> anyhow::Result<()> {
    let phase = phases
        .iter()
        .find(|p| p.phase != Phase::Initial)
        .or_else(|| phases.first());
    let root = SVGBackend::new(path, (900, 840)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let Some(p) = phase else {
        root.present().map_err(err)?;
        return Ok(());
    };
    let (top, rest) = root.split_vertically(330);
    let (middle, bottom) = rest.split_vertically(260);
    let x_end = p.series.len().max(1) as f64;
    let ms = |us: u64| us as f64 / 1000.0;
    let delivered = || p.series.iter().filter(|s| s.deliveries > 0);
    let latency: [Line; 3] = [
        ("p50", |s| s.p50_us, BLUE),
        ("p99", |s| s.p99_us, RED),
        ("max", |s| s.max_us, BLACK),
    ];
    let latency = latency.map(|(name, f, color)| {
        let points = delivered().map(|s| (s.t_s as f64, ms(f(s)))).collect();
        (name, points, color)
    });
    panel(
        &top,
        &format!("{:?}: latency per second (ms)", p.phase),
        (x_end, 1.0),
        latency,
    )?;
    let deliveries = p.series.iter().map(|s| (s.t_s as f64, s.deliveries as f64));
    panel(
        &middle,
        "deliveries per second",
        (x_end, 1.0),
        [("deliveries", deliveries.collect(), GREEN)],
    )?;
    let machine_lines: [MachineLine; 3] = [
        ("steal, % of the machine", |s| Some(s.steal_pct), RED),
        (
            "server, % of a core",
            |s| s.server_cores.map(|c| c * 100.0),
            BLUE,
        ),
        (
            "generator, % of a core",
            |s| Some(s.generator_cores * 100.0),
            MAGENTA,
        ),
    ];
    let machine_lines = machine_lines.map(|(name, f, color)| {
        let points = machine
            .iter()
            .filter(|s| (s.t_s as f64) < x_end)
            .filter_map(|s| Some((s.t_s as f64, f(s)?)))
            .collect();
        (name, points, color)
    });
    // Percent: at least up to 100, so that a quiet machine does not look busy.
    panel(&bottom, "machine per second", (x_end, 100.0), machine_lines)?;
    root.present().map_err(err)?;
    Ok(())
}

/// A line ready to draw: its name, its points, its colour.
type Drawn = (&'static str, Vec<(f64, f64)>, RGBColor);

/// A machine line: its name, what it plots (percent), its colour.
type MachineLine = (&'static str, fn(&Second) -> Option<f64>, RGBColor);

/// One panel: its lines (name, points, colour) over the seconds `0..x_end`, with a legend; the
/// y axis reaches 10% past the highest point, or past `y_floor` if that is higher.
fn panel<const N: usize>(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    caption: &str,
    (x_end, y_floor): (f64, f64),
    lines: [Drawn; N],
) -> anyhow::Result<()> {
    let y_max = lines
        .iter()
        .flat_map(|(_, points, _)| points.iter().map(|&(_, y)| y))
        .fold(y_floor, f64::max)
        * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..x_end, 0.0..y_max)
        .map_err(err)?;
    chart.configure_mesh().x_desc("s").draw().map_err(err)?;
    for (name, points, color) in lines {
        chart
            .draw_series(LineSeries::new(points, color))
            .map_err(err)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE)
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    Ok(())
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("plot: {e}")
}
