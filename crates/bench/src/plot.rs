//! `--plot FILE.svg`: two charts side by side, one line per target — the latency
//! percentile curve (x: percentile on a log scale of 1/(1−p), as HdrHistogram plots it, so
//! the tail is visible) and throughput over time (replies per whole second).

use crate::report::Report;
use plotters::prelude::*;
use std::path::Path;

/// Draw `series` (name, report) into an SVG file at `path`.
pub fn write_svg(path: &Path, series: &[(String, Report)]) -> Result<(), String> {
    draw(path, series).map_err(|e| format!("plot {}: {e}", path.display()))
}

fn draw(path: &Path, series: &[(String, Report)]) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (1200, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(600);

    // x = -log10(1 - p): 0 is p0, 1 is p90, 2 is p99 … 5 is p99.999.
    let max_ms = series
        .iter()
        .flat_map(|(_, r)| r.curve.iter().map(|p| p.latency_us / 1e3))
        .fold(0.0f64, f64::max)
        .max(0.001);
    let mut lat = ChartBuilder::on(&left)
        .caption("Latency by percentile", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..5f64, 0f64..max_ms * 1.05)?;
    lat.configure_mesh()
        .x_labels(6)
        .x_desc("percentile")
        .y_desc("latency (ms)")
        .x_label_formatter(&|x| {
            let p = 100.0 * (1.0 - 10f64.powf(-x));
            format!("{}", (p * 1000.0).round() / 1000.0)
        })
        .draw()?;
    for (i, (name, r)) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let pts = r.curve.iter().map(|c| {
            let x = -(1.0 - c.percentile / 100.0).max(1e-5).log10();
            (x.min(5.0), c.latency_us / 1e3)
        });
        lat.draw_series(LineSeries::new(pts, color.stroke_width(2)))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    lat.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()?;

    let secs = series
        .iter()
        .map(|(_, r)| r.per_second.len())
        .max()
        .unwrap_or(1)
        .max(1);
    let max_rps = series
        .iter()
        .flat_map(|(_, r)| r.per_second.iter().copied())
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let mut thr = ChartBuilder::on(&right)
        .caption("Throughput", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..secs as f64, 0f64..max_rps * 1.1)?;
    thr.configure_mesh()
        .x_desc("seconds")
        .y_desc("requests/s")
        .draw()?;
    for (i, (name, r)) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        // Each sample is the whole second that ends at x.
        let pts = r
            .per_second
            .iter()
            .enumerate()
            .map(|(s, &n)| ((s + 1) as f64, n as f64));
        thr.draw_series(LineSeries::new(pts, color.stroke_width(2)))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    thr.configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()?;
    root.present()?;
    Ok(())
}
