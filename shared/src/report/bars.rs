//! Grouped bar charts with error bars: one group per category on the x axis (a test split, a
//! task), one bar per series in each group (a condition, a method), and an optional reference
//! mark per group (chance level).

use plotters::prelude::*;

use super::plot::{COLOURS, PlotError};

/// One series of bars: a value and an error (half-length of the error bar; 0 for none) per
/// group.
#[derive(Debug, Clone, PartialEq)]
pub struct BarSeries {
    /// Legend label.
    pub label: String,
    /// `(value, error)` per group; a NaN value draws no bar.
    pub values: Vec<(f64, f64)>,
}

/// A grouped bar chart.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    /// Title above the chart.
    pub title: String,
    /// What the bars measure.
    pub y_label: String,
    /// The groups, left to right.
    pub groups: Vec<String>,
    /// The series, in legend order.
    pub series: Vec<BarSeries>,
    /// A dashed mark across each group (e.g. chance), if any.
    pub reference: Option<(String, Vec<f64>)>,
}

impl BarChart {
    /// A chart of `groups` with no series yet.
    pub fn new(title: impl Into<String>, y_label: impl Into<String>, groups: Vec<String>) -> Self {
        Self {
            title: title.into(),
            y_label: y_label.into(),
            groups,
            series: Vec::new(),
            reference: None,
        }
    }

    /// Adds a series (one value per group).
    pub fn with(mut self, series: BarSeries) -> Self {
        self.series.push(series);
        self
    }

    /// Marks `values` (one per group) with a dashed line named `label`.
    pub fn with_reference(mut self, label: impl Into<String>, values: Vec<f64>) -> Self {
        self.reference = Some((label.into(), values));
        self
    }

    /// The chart as an SVG document (900×480).
    ///
    /// # Errors
    /// If a series does not have one value per group, or nothing is finite.
    pub fn to_svg(&self) -> Result<String, PlotError> {
        let err = |e: &dyn std::fmt::Display| PlotError {
            title: self.title.clone(),
            problem: e.to_string(),
        };
        let n = self.groups.len();
        if let Some(s) = self.series.iter().find(|s| s.values.len() != n) {
            return Err(err(&format!(
                "series `{}` has {} values for {n} groups",
                s.label,
                s.values.len()
            )));
        }
        let tops = self
            .series
            .iter()
            .flat_map(|s| s.values.iter().map(|(v, e)| v + e.max(0.0)))
            .chain(self.reference.iter().flat_map(|r| r.1.iter().copied()))
            .filter(|v| v.is_finite());
        let top = tops.fold(f64::NAN, f64::max);
        if !top.is_finite() {
            return Err(err(&"no finite values to plot"));
        }
        let y_max = if top > 0.0 { top * 1.08 } else { 1.0 };
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (900, 480)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| err(&e))?;
            let mut chart = ChartBuilder::on(&root)
                .caption(&self.title, ("sans-serif", 22))
                .margin(16)
                .x_label_area_size(40)
                .y_label_area_size(64)
                .build_cartesian_2d(0.0..n as f64, 0.0..y_max)
                .map_err(|e| err(&e))?;
            let groups = self.groups.clone();
            let name = move |x: &f64| {
                let i = x.floor() as usize;
                let centred = (x - i as f64 - 0.5).abs() < 1e-6;
                groups
                    .get(i)
                    .filter(|_| centred)
                    .cloned()
                    .unwrap_or_default()
            };
            chart
                .configure_mesh()
                .disable_x_mesh()
                .y_desc(&self.y_label)
                .x_labels(2 * n + 1)
                .x_label_formatter(&name)
                .light_line_style(RGBColor(235, 235, 235))
                .draw()
                .map_err(|e| err(&e))?;
            self.draw_bars(&mut chart).map_err(|e| err(&e))?;
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(160, 160, 160))
                .draw()
                .map_err(|e| err(&e))?;
            root.present().map_err(|e| err(&e))?;
        }
        Ok(svg)
    }

    fn draw_bars<DB: DrawingBackend>(
        &self,
        chart: &mut ChartContext<
            '_,
            DB,
            Cartesian2d<
                plotters::coord::types::RangedCoordf64,
                plotters::coord::types::RangedCoordf64,
            >,
        >,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let width = 0.8 / self.series.len().max(1) as f64;
        for (k, series) in self.series.iter().enumerate() {
            let colour = COLOURS[k % COLOURS.len()];
            let bars = series
                .values
                .iter()
                .enumerate()
                .filter(|(_, (v, _))| v.is_finite());
            let left = |g: usize| g as f64 + 0.1 + k as f64 * width;
            chart
                .draw_series(bars.clone().map(|(g, &(v, _))| {
                    Rectangle::new(
                        [(left(g), 0.0), (left(g) + width * 0.92, v)],
                        colour.filled(),
                    )
                }))?
                .label(series.label.clone())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour.filled())
                });
            chart.draw_series(bars.filter(|(_, (_, e))| *e > 0.0).map(|(g, &(v, e))| {
                let x = left(g) + width * 0.46;
                PathElement::new(
                    vec![(x, (v - e).max(0.0)), (x, v + e)],
                    BLACK.stroke_width(1),
                )
            }))?;
        }
        if let Some((label, values)) = &self.reference {
            let marks = values.iter().enumerate().filter(|(_, v)| v.is_finite());
            chart
                .draw_series(marks.map(|(g, &v)| {
                    PathElement::new(
                        vec![(g as f64 + 0.05, v), (g as f64 + 0.95, v)],
                        BLACK.stroke_width(1),
                    )
                }))?
                .label(label.clone())
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 14, y)], BLACK.stroke_width(1))
                });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart() -> BarChart {
        BarChart::new(
            "Accuracy",
            "accuracy",
            vec!["reversal".into(), "syllogism".into()],
        )
        .with(BarSeries {
            label: "icl".into(),
            values: vec![(0.9, 0.05), (0.7, 0.0)],
        })
        .with(BarSeries {
            label: "ft".into(),
            values: vec![(0.5, 0.1), (f64::NAN, 0.0)],
        })
        .with_reference("chance", vec![0.5, 0.2])
    }

    #[test]
    fn bars_labels_and_legend_reach_the_svg() {
        let svg = chart().to_svg().unwrap();
        for text in ["Accuracy", "reversal", "syllogism", "icl", "ft", "chance"] {
            assert!(svg.contains(text), "{text} missing");
        }
        // Three finite bars and their legend swatches.
        assert!(svg.matches("<rect").count() >= 5);
    }

    #[test]
    fn a_series_of_the_wrong_length_is_refused() {
        let mut c = chart();
        c.series[0].values.pop();
        let e = c.to_svg().unwrap_err();
        assert!(e.problem.contains("1 values for 2 groups"), "{e}");
    }
}
