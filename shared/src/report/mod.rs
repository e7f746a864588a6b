//! Reproduction reports: `report.md` (claims table, sections, plots), `metrics.json`, SVG plots.
//!
//! Every paper's reproduction ends by filling a [`Report`] and calling [`Report::write`], which
//! writes into the run's output folder:
//! - `report.md`: run details, the table "claim | paper | ours | tolerance | verdict", free-form
//!   sections (ablations, notes on scale) and links to the plots;
//! - `metrics.json`: the same claims and every extra measurement, for tools;
//! - one `.svg` per plot.

mod bars;
mod claims;
mod heatmap;
mod plot;
mod table;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use bars::{BarChart, BarSeries};
pub use claims::{Check, Claim, Verdict, claims_table};
pub use heatmap::{Heatmap, Panel};
pub use plot::{LinePlot, PlotError, Series};
pub use table::Table;

/// A figure of a report: a line plot, a heatmap or a bar chart.
#[derive(Debug, Clone, PartialEq)]
pub enum Figure {
    /// Curves over a numeric axis.
    Line(LinePlot),
    /// Matrices on a colour scale.
    Heat(Heatmap),
    /// Grouped bars.
    Bars(BarChart),
}

impl Figure {
    /// The figure's title.
    pub fn title(&self) -> &str {
        match self {
            Figure::Line(p) => &p.title,
            Figure::Heat(h) => &h.title,
            Figure::Bars(b) => &b.title,
        }
    }

    /// The figure as an SVG document.
    pub fn to_svg(&self) -> Result<String, PlotError> {
        match self {
            Figure::Line(p) => p.to_svg(),
            Figure::Heat(h) => h.to_svg(),
            Figure::Bars(b) => b.to_svg(),
        }
    }
}

impl From<LinePlot> for Figure {
    fn from(plot: LinePlot) -> Self {
        Figure::Line(plot)
    }
}

impl From<BarChart> for Figure {
    fn from(chart: BarChart) -> Self {
        Figure::Bars(chart)
    }
}

impl From<Heatmap> for Figure {
    fn from(map: Heatmap) -> Self {
        Figure::Heat(map)
    }
}

/// How and where a run was made, printed at the top of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunInfo {
    /// The command that reproduces this run.
    pub command: String,
    /// `smoke`, `cpu` or `full`.
    pub scale: String,
    /// The backend used.
    pub backend: String,
    /// The seeds averaged over.
    pub seeds: Vec<u64>,
    /// When the run finished (UTC, RFC 3339).
    pub finished_utc: String,
    /// Wall-clock seconds for the whole run.
    pub wall_seconds: f64,
}

/// A reproduction report being assembled.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Report title (usually the paper's title).
    pub title: String,
    /// How the run was made.
    pub run: RunInfo,
    /// The claims table.
    pub claims: Vec<Claim>,
    /// Extra measurements by name, kept in `metrics.json`.
    pub metrics: BTreeMap<String, serde_json::Value>,
    #[serde(skip)]
    sections: Vec<(String, String)>,
    #[serde(skip)]
    plots: Vec<(String, Figure)>,
    #[serde(skip)]
    files: Vec<(String, String)>,
}

/// A report that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Writing a file failed.
    #[error("could not write {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A plot could not be drawn.
    #[error(transparent)]
    Plot(#[from] PlotError),
    /// A metric could not be serialised.
    #[error("could not serialise metrics: {0}")]
    Json(#[from] serde_json::Error),
}

impl Report {
    /// An empty report.
    pub fn new(title: impl Into<String>, run: RunInfo) -> Self {
        Self {
            title: title.into(),
            run,
            claims: vec![],
            metrics: BTreeMap::new(),
            sections: vec![],
            plots: vec![],
            files: vec![],
        }
    }

    /// Adds a claims-table row.
    pub fn claim(&mut self, claim: Claim) {
        self.claims.push(claim);
    }

    /// Records an extra measurement in `metrics.json`.
    pub fn metric(
        &mut self,
        name: impl Into<String>,
        value: impl Serialize,
    ) -> Result<(), ReportError> {
        self.metrics
            .insert(name.into(), serde_json::to_value(value)?);
        Ok(())
    }

    /// Adds a Markdown section (heading without `#`, body as Markdown).
    pub fn section(&mut self, heading: impl Into<String>, body: impl Into<String>) {
        self.sections.push((heading.into(), body.into()));
    }

    /// Adds a figure, written as `<file_stem>.svg` and shown in the report.
    pub fn plot(&mut self, file_stem: impl Into<String>, figure: impl Into<Figure>) {
        self.plots.push((file_stem.into(), figure.into()));
    }

    /// Adds a file written beside the report (a table as Markdown or CSV, say).
    pub fn file(&mut self, name: impl Into<String>, contents: impl Into<String>) {
        self.files.push((name.into(), contents.into()));
    }

    /// The report as Markdown.
    pub fn to_markdown(&self) -> String {
        let r = &self.run;
        let seeds: Vec<String> = r.seeds.iter().map(u64::to_string).collect();
        let mut md = format!("# {}\n\n", self.title);
        md.push_str(&format!(
            "- command: `{}`\n- scale: {}, backend: {}, seeds: {}\n- finished: {} (UTC), wall time {:.0} s\n\n",
            r.command,
            r.scale,
            r.backend,
            seeds.join(", "),
            r.finished_utc,
            r.wall_seconds
        ));
        if !self.claims.is_empty() {
            md.push_str("## Claims\n\n");
            md.push_str(&claims_table(&self.claims, 2));
            md.push('\n');
        }
        for (heading, body) in &self.sections {
            md.push_str(&format!("## {heading}\n\n{}\n\n", body.trim_end()));
        }
        if !self.plots.is_empty() {
            md.push_str("## Plots\n\n");
            for (stem, plot) in &self.plots {
                md.push_str(&format!("![{}]({stem}.svg)\n\n", plot.title()));
            }
        }
        md
    }

    /// Writes `report.md`, `metrics.json` and the plots into `dir` (created if needed).
    pub fn write(&self, dir: &Path) -> Result<(), ReportError> {
        let write = |name: &str, contents: &[u8]| {
            let path = dir.join(name);
            std::fs::write(&path, contents).map_err(|source| ReportError::Io { path, source })
        };
        std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        for (stem, plot) in &self.plots {
            write(&format!("{stem}.svg"), plot.to_svg()?.as_bytes())?;
        }
        for (name, contents) in &self.files {
            write(name, contents.as_bytes())?;
        }
        let mut json = serde_json::to_value(self)?;
        if let Some(claims) = json.get_mut("claims").and_then(|c| c.as_array_mut()) {
            for (value, claim) in claims.iter_mut().zip(&self.claims) {
                value["verdict"] = serde_json::to_value(claim.verdict())?;
            }
        }
        write(
            "metrics.json",
            serde_json::to_string_pretty(&json)?.as_bytes(),
        )?;
        write("report.md", self.to_markdown().as_bytes())
    }
}

/// The current time in UTC as RFC 3339 (`2026-11-27T03:09:00Z`), without a date crate.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::Summary;

    fn run_info() -> RunInfo {
        RunInfo {
            command: "cargo xtask reproduce toy".into(),
            scale: "smoke".into(),
            backend: "flex".into(),
            seeds: vec![0, 1, 2],
            finished_utc: "2026-11-27T00:00:00Z".into(),
            wall_seconds: 12.0,
        }
    }

    #[test]
    fn claims_table_renders_known_numbers_and_verdicts() {
        let claims = vec![
            Claim::new(
                "test accuracy (%)",
                "99.47 ± 0.03",
                Summary::of(&[99.0, 99.2, 99.4]),
                Check::Within {
                    paper: 99.47,
                    tolerance: 0.5,
                },
            ),
            Claim::new(
                "gap to backprop | points",
                "< 1",
                Summary::of(&[2.5]),
                Check::AtMost(1.5),
            ),
            Claim::new(
                "CIFAR-10 accuracy",
                "80.54",
                Summary::of(&[70.0]),
                Check::NotComparable("Fashion-MNIST stands in".into()),
            ),
        ];
        let table = claims_table(&claims, 2);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "| claim | paper | ours | tolerance | verdict |");
        assert_eq!(
            lines[2],
            "| test accuracy (%) | 99.47 ± 0.03 | 99.20 ± 0.20 (n = 3) | ±0.5 | reproduced |"
        );
        assert_eq!(
            lines[3],
            "| gap to backprop \\| points | < 1 | 2.50 | ≤ 1.5 | not reproduced |"
        );
        assert!(lines[4].ends_with("| Fashion-MNIST stands in | not comparable at this scale |"));
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn nan_measurement_is_never_reproduced() {
        let c = Claim::new("x", "1", Summary::of(&[f64::NAN]), Check::AtMost(2.0));
        assert_eq!(c.verdict(), Verdict::NotReproduced);
    }

    /// Pulls the `points="x,y x,y ..."` lists of every `<polyline>` out of an SVG.
    fn polylines(svg: &str) -> Vec<Vec<(f64, f64)>> {
        svg.split("<polyline")
            .skip(1)
            .filter_map(|element| {
                let start = element.find("points=\"")? + 8;
                let end = start + element[start..].find('"')?;
                Some(
                    element[start..end]
                        .split_whitespace()
                        .filter_map(|pair| {
                            let (x, y) = pair.split_once(',')?;
                            Some((x.parse().ok()?, y.parse().ok()?))
                        })
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn svg_plot_has_labels_lines_and_bands_in_the_right_places() {
        let xs = [0.0, 1.0, 2.0, 3.0];
        let rising = Series::from_runs(
            "rising",
            &xs,
            &[vec![0.0, 1.0, 2.0, 3.0], vec![0.2, 1.2, 2.2, 3.2]],
        );
        let flat = Series::line("flat", xs.iter().map(|&x| (x, 1.5)));
        let svg = LinePlot::new("Toy curves", "step", "accuracy")
            .with(rising)
            .with(flat)
            .to_svg()
            .unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..50]);
        let texts: Vec<&str> = svg
            .split("<text")
            .skip(1)
            .filter_map(|e| Some(e[e.find('>')? + 1..e.find("</text>")?].trim()))
            .collect();
        for text in ["Toy curves", "step", "accuracy", "rising", "flat"] {
            assert!(texts.contains(&text), "missing text {text} in {texts:?}");
        }
        // One band (only `rising` has spread across seeds).
        assert_eq!(svg.matches("<polygon").count(), 1);
        // The two data lines are the polylines with four points.
        let lines: Vec<Vec<(f64, f64)>> = polylines(&svg)
            .into_iter()
            .filter(|p| p.len() == 4)
            .collect();
        assert_eq!(lines.len(), 2, "{svg}");
        let (rising, flat) = (&lines[0], &lines[1]);
        // x increases left to right; a rising curve goes up the screen (SVG y grows downwards).
        assert!(
            rising
                .windows(2)
                .all(|w| w[1].0 > w[0].0 && w[1].1 < w[0].1),
            "{rising:?}"
        );
        assert!(
            flat.iter().all(|p| (p.1 - flat[0].1).abs() < 1e-9),
            "{flat:?}"
        );
        // y = 1.5 lies between the rising curve's 2nd (mean 1.1) and 3rd (mean 2.1) points.
        assert!(flat[0].1 < rising[1].1 && flat[0].1 > rising[2].1);
    }

    #[test]
    fn plot_without_finite_points_is_an_error() {
        let plot = LinePlot::new("empty", "x", "y").with(Series::line("nan", [(0.0, f64::NAN)]));
        assert!(
            plot.to_svg()
                .unwrap_err()
                .to_string()
                .contains("no finite points")
        );
    }

    #[test]
    fn report_writes_markdown_json_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let mut report = Report::new("Toy paper", run_info());
        report.claim(Claim::new(
            "acc",
            "90",
            Summary::of(&[91.0, 92.0]),
            Check::AtLeast(90.0),
        ));
        report.metric("peak_memory_mb", 12.5).unwrap();
        report.section("Ablation", "eta = 0 gives chance.");
        report.file("table.csv", "a,b\n1,2\n");
        report.plot(
            "curves",
            LinePlot::new("Learning curves", "epoch", "acc")
                .with(Series::line("a", [(0.0, 1.0), (1.0, 2.0)])),
        );
        report.write(dir.path()).unwrap();

        let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("table.csv")).unwrap(),
            "a,b\n1,2\n"
        );
        assert!(md.starts_with("# Toy paper\n"));
        assert!(
            md.contains("| acc | 90 | 91.50 ± 0.71 (n = 2) | ≥ 90 | reproduced |"),
            "{md}"
        );
        assert!(md.contains("## Ablation\n\neta = 0 gives chance."));
        assert!(md.contains("![Learning curves](curves.svg)"));
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("metrics.json")).unwrap())
                .unwrap();
        assert_eq!(json["metrics"]["peak_memory_mb"], 12.5);
        assert_eq!(json["claims"][0]["verdict"], "Reproduced");
        assert_eq!(json["run"]["seeds"][2], 2);
        assert!(
            std::fs::read_to_string(dir.path().join("curves.svg"))
                .unwrap()
                .contains("<svg")
        );
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_784), (2026, 11, 27));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
