//! SVG line plots: learning curves with a mean line and a ±std band over seeds.

use plotters::prelude::*;

use crate::train::Summary;

/// One line of a plot, with an optional band.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// `(x, mean, std)`; a zero std draws no band.
    pub points: Vec<(f64, f64, f64)>,
}

impl Series {
    /// The points whose coordinates and band are all finite (the others are not drawn).
    pub fn finite_points(&self) -> Vec<(f64, f64, f64)> {
        self.points
            .iter()
            .copied()
            .filter(|(x, y, s)| x.is_finite() && y.is_finite() && s.is_finite())
            .collect()
    }

    /// A plain line through `(x, y)` points.
    pub fn line(label: impl Into<String>, points: impl IntoIterator<Item = (f64, f64)>) -> Self {
        Self {
            label: label.into(),
            points: points.into_iter().map(|(x, y)| (x, y, 0.0)).collect(),
        }
    }

    /// Mean ± std over several runs (one curve per seed) sampled at the same `xs`.
    pub fn from_runs(label: impl Into<String>, xs: &[f64], runs: &[Vec<f64>]) -> Self {
        let summaries = Summary::per_step(runs);
        Self {
            label: label.into(),
            points: xs
                .iter()
                .zip(summaries)
                .map(|(&x, s)| (x, s.mean, s.std))
                .collect(),
        }
    }
}

/// A line plot with a title, axis labels and a legend.
#[derive(Debug, Clone, PartialEq)]
pub struct LinePlot {
    /// Title above the plot.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
}

/// A plot that could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("could not draw plot `{title}`: {problem}")]
pub struct PlotError {
    /// The plot's title.
    pub title: String,
    /// What went wrong.
    pub problem: String,
}

/// Colour-blind-friendly colours (Okabe and Ito), cycled over series.
pub(super) const COLOURS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

impl LinePlot {
    /// A plot with no series yet.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: vec![],
        }
    }

    /// Adds a series.
    pub fn with(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// The plot as an SVG document (800×480).
    pub fn to_svg(&self) -> Result<String, PlotError> {
        let err = |e: &dyn std::fmt::Display| PlotError {
            title: self.title.clone(),
            problem: e.to_string(),
        };
        let finite: Vec<&(f64, f64, f64)> = self
            .series
            .iter()
            .flat_map(|s| &s.points)
            .filter(|(x, y, s)| x.is_finite() && y.is_finite() && s.is_finite())
            .collect();
        if finite.is_empty() {
            return Err(err(&"no finite points to plot"));
        }
        let (x_range, y_range) = ranges(&finite);
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (800, 480)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| err(&e))?;
            let mut chart = ChartBuilder::on(&root)
                .caption(&self.title, ("sans-serif", 22))
                .margin(16)
                .x_label_area_size(48)
                .y_label_area_size(64)
                .build_cartesian_2d(x_range, y_range)
                .map_err(|e| err(&e))?;
            let (x_ticks, whole_x) = x_ticks(&finite);
            let whole = |x: &f64| format!("{x:.0}");
            let decimal = |x: &f64| format!("{x}");
            let x_format: &dyn Fn(&f64) -> String = if whole_x { &whole } else { &decimal };
            chart
                .configure_mesh()
                .x_desc(&self.x_label)
                .y_desc(&self.y_label)
                .x_labels(x_ticks)
                .x_label_formatter(x_format)
                .light_line_style(RGBColor(235, 235, 235))
                .draw()
                .map_err(|e| err(&e))?;
            for (i, series) in self.series.iter().enumerate() {
                let colour = COLOURS[i % COLOURS.len()];
                let points = series.finite_points();
                if points.iter().any(|p| p.2 > 0.0) {
                    let upper = points.iter().map(|&(x, y, s)| (x, y + s));
                    let lower = points.iter().rev().map(|&(x, y, s)| (x, y - s));
                    chart
                        .draw_series(std::iter::once(Polygon::new(
                            upper.chain(lower).collect::<Vec<_>>(),
                            colour.mix(0.18).filled(),
                        )))
                        .map_err(|e| err(&e))?;
                }
                chart
                    .draw_series(LineSeries::new(
                        points.iter().map(|&(x, y, _)| (x, y)),
                        colour.stroke_width(2),
                    ))
                    .map_err(|e| err(&e))?
                    .label(series.label.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                    });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(160, 160, 160))
                .draw()
                .map_err(|e| err(&e))?;
            root.present().map_err(|e| err(&e))?;
        }
        Ok(svg)
    }
}

/// How many x ticks, and whether they are whole numbers: epochs, steps and positions are, and
/// are labelled so, one tick each (at most 12).
fn x_ticks(points: &[&(f64, f64, f64)]) -> (usize, bool) {
    if !points.iter().all(|p| p.0.fract() == 0.0) {
        return (10, false);
    }
    let (lo, hi) = points.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p.0), hi.max(p.0))
    });
    (((hi - lo) as usize + 1).min(12), true)
}

/// Axis ranges covering every point and band, with 5% padding.
fn ranges(points: &[&(f64, f64, f64)]) -> (std::ops::Range<f64>, std::ops::Range<f64>) {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &&(x, y, s) in points {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y - s);
        y1 = y1.max(y + s);
    }
    let pad = |lo: f64, hi: f64| {
        let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
        (lo - 0.05 * span, hi + 0.05 * span)
    };
    let (x0, x1) = if x1 > x0 { (x0, x1) } else { pad(x0, x1) };
    let (y0, y1) = pad(y0, y1);
    (x0..x1, y0..y1)
}
