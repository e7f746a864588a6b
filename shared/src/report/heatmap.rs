//! SVG heatmaps: one or more panels of a matrix side by side on a shared colour scale (per-head
//! attention scores, layer × position perturbation grids).

use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::plot::PlotError;

/// One matrix of a heatmap, drawn row 0 at the top.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// Title above the panel.
    pub title: String,
    /// `values[row][column]`; rows may not differ in length.
    pub values: Vec<Vec<f64>>,
}

impl Panel {
    /// A panel.
    pub fn new(title: impl Into<String>, values: Vec<Vec<f64>>) -> Self {
        Self {
            title: title.into(),
            values,
        }
    }
}

/// Panels side by side, sharing one colour scale from the smallest to the largest value.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    /// Title above all panels.
    pub title: String,
    /// What the columns are.
    pub x_label: String,
    /// What the rows are.
    pub y_label: String,
    /// The matrices.
    pub panels: Vec<Panel>,
    /// Print each cell's value in it (for small grids).
    pub annotate: bool,
}

impl Heatmap {
    /// An empty heatmap.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            panels: vec![],
            annotate: false,
        }
    }

    /// Adds a panel.
    pub fn with(mut self, panel: Panel) -> Self {
        self.panels.push(panel);
        self
    }

    /// Prints values in the cells.
    pub fn annotated(mut self) -> Self {
        self.annotate = true;
        self
    }

    /// The shared colour scale: the smallest and largest finite value.
    pub fn range(&self) -> Option<(f64, f64)> {
        let finite = self
            .panels
            .iter()
            .flat_map(|p| p.values.iter().flatten())
            .copied()
            .filter(|v| v.is_finite());
        finite.fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
    }

    /// The heatmap as an SVG document.
    pub fn to_svg(&self) -> Result<String, PlotError> {
        let err = |e: &dyn std::fmt::Display| self.error(e);
        let (lo, hi) = self.range().ok_or_else(|| err(&"no finite values"))?;
        for panel in &self.panels {
            let width = panel.values.first().map_or(0, Vec::len);
            if width == 0 || panel.values.iter().any(|r| r.len() != width) {
                return Err(err(&format!("panel `{}` is empty or ragged", panel.title)));
            }
        }
        let span = if hi > lo { hi - lo } else { 1.0 };
        let n = self.panels.len() as u32;
        let (panel_w, height) = (420u32, 420u32);
        let mut svg = String::new();
        {
            let root =
                SVGBackend::with_string(&mut svg, (panel_w * n, height + 60)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| err(&e))?;
            let (top, bottom) = root.split_vertically(height);
            let top = top
                .titled(&self.title, ("sans-serif", 20))
                .map_err(|e| err(&e))?;
            for (panel, area) in self.panels.iter().zip(top.split_evenly((1, n as usize))) {
                self.draw_panel(panel, &area, (lo, span))?;
            }
            self.draw_scale(&bottom, (lo, hi))?;
            root.present().map_err(|e| err(&e))?;
        }
        Ok(svg)
    }

    fn error(&self, e: &dyn std::fmt::Display) -> PlotError {
        PlotError {
            title: self.title.clone(),
            problem: e.to_string(),
        }
    }

    /// One panel's cells (and values, when annotated), coloured by `(v − lo) / span`.
    fn draw_panel(
        &self,
        panel: &Panel,
        area: &DrawingArea<SVGBackend<'_>, Shift>,
        (lo, span): (f64, f64),
    ) -> Result<(), PlotError> {
        let err = |e: &dyn std::fmt::Display| self.error(e);
        let (rows, cols) = (panel.values.len(), panel.values[0].len());
        // One segment per cell, so that labels and values sit at cell centres.
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(36)
            .y_label_area_size(44)
            // `(0..n − 1).into_segmented()` has the n segments 0..=n − 1.
            .build_cartesian_2d(
                (0..cols - 1).into_segmented(),
                (0..rows - 1).into_segmented(),
            )
            .map_err(|e| err(&e))?;
        let centre = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) => Some(*i),
            _ => None,
        };
        let x_label =
            |v: &SegmentValue<usize>| centre(v).map(|c| c.to_string()).unwrap_or_default();
        // Row 0 is drawn at the top, as in a matrix.
        let y_label = |v: &SegmentValue<usize>| {
            centre(v)
                .filter(|&y| y < rows)
                .map(|y| (rows - 1 - y).to_string())
                .unwrap_or_default()
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_labels(cols.min(12))
            .y_labels(rows.min(12))
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .draw()
            .map_err(|e| err(&e))?;
        let cells: Vec<(usize, usize, f64)> = panel
            .values
            .iter()
            .enumerate()
            .flat_map(|(r, row)| {
                row.iter()
                    .enumerate()
                    .map(move |(c, &v)| (rows - 1 - r, c, v))
            })
            .collect();
        chart
            .draw_series(cells.iter().map(|&(y, c, v)| {
                Rectangle::new(
                    [
                        (SegmentValue::Exact(c), SegmentValue::Exact(y)),
                        (SegmentValue::Exact(c + 1), SegmentValue::Exact(y + 1)),
                    ],
                    colour((v - lo) / span).filled(),
                )
            }))
            .map_err(|e| err(&e))?;
        if self.annotate {
            chart
                .draw_series(annotations(&cells, (lo, span)))
                .map_err(|e| err(&e))?;
        }
        Ok(())
    }

    /// The colour scale, left to right, labelled with `lo` and `hi`.
    fn draw_scale(
        &self,
        bottom: &DrawingArea<SVGBackend<'_>, Shift>,
        (lo, hi): (f64, f64),
    ) -> Result<(), PlotError> {
        let err = |e: &dyn std::fmt::Display| self.error(e);
        let steps = 40;
        let bar = bottom.margin(14, 14, 40, 40);
        let (w, _) = bar.dim_in_pixel();
        for i in 0..steps {
            let x0 = (w as i32 * i) / steps;
            let x1 = (w as i32 * (i + 1)) / steps;
            bar.draw(&Rectangle::new(
                [(x0, 0), (x1, 14)],
                colour(f64::from(i) / f64::from(steps - 1)).filled(),
            ))
            .map_err(|e| err(&e))?;
        }
        let style = ("sans-serif", 12).into_font();
        bar.draw(&Text::new(format!("{lo:.3}"), (0, 18), style.clone()))
            .map_err(|e| err(&e))?;
        bar.draw(&Text::new(format!("{hi:.3}"), (w as i32 - 40, 18), style))
            .map_err(|e| err(&e))?;
        Ok(())
    }
}

/// Each cell's value printed at its centre, in white on dark cells and black on pale ones.
fn annotations(
    cells: &[(usize, usize, f64)],
    (lo, span): (f64, f64),
) -> impl Iterator<Item = Text<'static, (SegmentValue<usize>, SegmentValue<usize>), String>> + '_ {
    cells.iter().map(move |&(y, c, v)| {
        let ink = if (v - lo) / span > 0.6 {
            &WHITE
        } else {
            &BLACK
        };
        Text::new(
            format!("{v:.2}"),
            (SegmentValue::CenterOf(c), SegmentValue::CenterOf(y)),
            ("sans-serif", 12)
                .into_font()
                .color(ink)
                .pos(Pos::new(HPos::Center, VPos::Center)),
        )
    })
}

/// A sequential scale from pale yellow (0) through orange to dark purple (1).
fn colour(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let stops = [
        (255.0, 247.0, 236.0),
        (239.0, 101.0, 72.0),
        (63.0, 0.0, 95.0),
    ];
    let (a, b, u) = if t < 0.5 {
        (stops[0], stops[1], t * 2.0)
    } else {
        (stops[1], stops[2], (t - 0.5) * 2.0)
    };
    let mix = |x: f64, y: f64| (x + (y - x) * u).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heatmap_draws_one_cell_per_value_with_titles() {
        let map = Heatmap::new("Per-head scores", "head", "layer")
            .with(Panel::new(
                "with bos",
                vec![vec![0.0, 1.0], vec![0.5, 0.25]],
            ))
            .with(Panel::new(
                "text only",
                vec![vec![0.1, 0.2], vec![0.3, 0.4]],
            ))
            .annotated();
        assert_eq!(map.range(), Some((0.0, 1.0)));
        let svg = map.to_svg().unwrap();
        for text in [
            "Per-head scores",
            "with bos",
            "text only",
            "head",
            "layer",
            "0.25",
        ] {
            assert!(svg.contains(text), "missing {text}");
        }
        // The largest value gets the darkest colour, the smallest the palest.
        assert!(svg.contains("#3F005F"), "darkest cell");
        assert!(svg.contains("#FFF7EC"), "palest cell");
    }

    #[test]
    fn ragged_or_empty_panels_are_errors() {
        let ragged = Heatmap::new("r", "x", "y").with(Panel::new("p", vec![vec![1.0], vec![]]));
        assert!(ragged.to_svg().unwrap_err().to_string().contains("ragged"));
        let single = Heatmap::new("s", "x", "y").with(Panel::new("p", vec![vec![2.0]]));
        assert!(single.to_svg().is_ok(), "a 1 × 1 panel draws");
        let empty = Heatmap::new("e", "x", "y");
        assert!(
            empty
                .to_svg()
                .unwrap_err()
                .to_string()
                .contains("no finite")
        );
    }
}
