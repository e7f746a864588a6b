//! Writes a demo report (table + SVG learning curves) to the folder given as the first argument.

use kiln_core::report::{Check, Claim, LinePlot, Report, RunInfo, Series, utc_now};
use kiln_core::train::{SeededRng, Summary};

fn main() -> anyhow::Result<()> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "results/plot-demo".into());
    let mut rng = SeededRng::new(0);
    let steps: Vec<f64> = (0..50).map(f64::from).collect();
    let curve = |rate: f64, rng: &mut SeededRng| -> Vec<f64> {
        steps
            .iter()
            .map(|s| 100.0 * (1.0 - (-s / rate).exp()) + rng.normal())
            .collect()
    };
    let fast: Vec<Vec<f64>> = (0..3).map(|_| curve(8.0, &mut rng)).collect();
    let slow: Vec<Vec<f64>> = (0..3).map(|_| curve(20.0, &mut rng)).collect();
    let mut report = Report::new(
        "Plot demo",
        RunInfo {
            command: "cargo run -p kiln-core --example plot_demo".into(),
            scale: "smoke".into(),
            backend: "none".into(),
            seeds: vec![0, 1, 2],
            finished_utc: utc_now(),
            wall_seconds: 0.0,
        },
    );
    let finals = |runs: &[Vec<f64>]| Summary::of(&runs.iter().map(|r| r[49]).collect::<Vec<_>>());
    report.claim(Claim::new(
        "final accuracy, fast learner (%)",
        "92",
        finals(&fast),
        Check::Within {
            paper: 92.0,
            tolerance: 2.0,
        },
    ));
    report.plot(
        "curves",
        LinePlot::new(
            "Synthetic learning curves (mean ± std over 3 seeds)",
            "step",
            "accuracy (%)",
        )
        .with(Series::from_runs("fast", &steps, &fast))
        .with(Series::from_runs("slow", &steps, &slow)),
    );
    report.write(std::path::Path::new(&out))?;
    println!("wrote {out}/report.md");
    Ok(())
}
