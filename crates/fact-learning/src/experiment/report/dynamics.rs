//! The learning curve: the three phases, the plateau against N and the α sweep (§2.1, §3.1).

use kiln_core::report::{Check, Claim, LinePlot, Report, ReportError, Series};

use super::{View, curve, one};
use crate::experiment::training::RunResult;
use crate::metrics::fit_power_law;

pub(super) fn phases(report: &mut Report, view: &View<'_>) -> Result<(), ReportError> {
    let runs = view.size_runs();
    let Some(largest) = runs.last() else {
        return Ok(());
    };
    let baseline = view.baseline();
    let steps = runs.iter().map(|r| r.job.steps).max().unwrap_or(0) as f64;
    let mut plot = LinePlot::new(
        "Attribute loss of trained people (held-out templates)",
        "step",
        "attribute loss (nats)",
    )
    .with(Series::line(
        "no-knowledge baseline",
        [(0.0, baseline), (steps, baseline)],
    ));
    for run in &runs {
        let points = curve(run).into_iter().map(|(s, l)| (s as f64, l));
        plot = plot.with(Series::line(format!("N = {}", run.job.n), points));
    }
    report.plot("phases", plot);
    // The plateau: evaluations within 0.3 nats of the baseline before its end.
    let end = view.plateau_end(largest).unwrap_or(largest.job.steps);
    let on_plateau: Vec<_> = largest
        .curve
        .iter()
        .filter(|p| p.step < end && (p.seen.loss - baseline).abs() <= 0.3)
        .collect();
    let plateau_loss =
        on_plateau.iter().map(|p| p.seen.loss).sum::<f64>() / on_plateau.len().max(1) as f64;
    let plateau_acc =
        on_plateau.iter().map(|p| p.seen.accuracy).sum::<f64>() / on_plateau.len().max(1) as f64;
    let n = largest.job.n;
    report.claim(Claim::new(
        format!("Plateau at the no-knowledge baseline: mean attribute loss minus baseline over the {} evaluations within 0.3 nats of it before the drop (N = {n})", on_plateau.len()),
        "≈ 0 (\"exactly at the baseline\")",
        one(if on_plateau.is_empty() { f64::NAN } else { plateau_loss - baseline }),
        Check::Within { paper: 0.0, tolerance: 0.3 },
    ));
    report.claim(Claim::new(
        format!("Near-zero attribute accuracy on the plateau (N = {n})"),
        "near 0",
        one(if on_plateau.is_empty() {
            f64::NAN
        } else {
            plateau_acc
        }),
        Check::AtMost(0.05),
    ));
    plateau_vs_n(report, view, &runs)
}

fn plateau_vs_n(
    report: &mut Report,
    view: &View<'_>,
    runs: &[&RunResult],
) -> Result<(), ReportError> {
    let ends: Vec<(usize, Option<usize>)> = runs
        .iter()
        .map(|r| (r.job.n, view.plateau_end(r)))
        .collect();
    let mut csv = String::from("n,steps,plateau_end\n");
    for (run, (n, end)) in runs.iter().zip(&ends) {
        let end = end.map_or(String::new(), |e| e.to_string());
        csv.push_str(&format!("{n},{},{end}\n", run.job.steps));
    }
    report.file("plateau_vs_N.csv", csv);
    let found: Vec<(f64, f64)> = ends
        .iter()
        .filter_map(|(n, e)| e.map(|e| (*n as f64, e.max(1) as f64)))
        .collect();
    let increasing = ends.windows(2).filter(|w| match (w[0].1, w[1].1) {
        (Some(a), Some(b)) => b > a,
        (Some(_), None) => true,
        _ => false,
    });
    let pairs = ends.len().saturating_sub(1).max(1);
    report.claim(Claim::new(
        format!("Plateau end grows with N: fraction of consecutive N pairs (of {:?}) whose plateau ends later", ends.iter().map(|e| e.0).collect::<Vec<_>>()),
        "grows almost linearly",
        one(increasing.count() as f64 / pairs as f64),
        Check::AtLeast(1.0),
    ));
    let (xs, ys): (Vec<f64>, Vec<f64>) = found.iter().copied().unzip();
    let fit = fit_power_law(&xs, &ys);
    report.claim(Claim::new(
        format!(
            "Exponent b of plateau end ≈ a·N^b (R² = {})",
            fit.map_or("–".into(), |f| format!("{:.3}", f.r2))
        ),
        "0.81 (R² = 0.998, N = 4k–256k)",
        one(fit.map_or(f64::NAN, |f| f.b)),
        Check::Within {
            paper: 0.81,
            tolerance: 0.31,
        },
    ));
    if found.is_empty() {
        return Ok(());
    }
    let log = |(x, y): (f64, f64)| (x.log10(), y.log10());
    let mut plot = LinePlot::new(
        "Plateau end against the number of people",
        "log10 N",
        "log10 plateau end (steps)",
    )
    .with(Series::line("measured", found.iter().copied().map(log)));
    if let Some(f) = fit {
        let line = |b: f64, a: f64| xs.iter().map(move |&x| log((x, a * x.powf(b))));
        plot = plot.with(Series::line(
            format!("fit: {:.2}·N^{:.2}", f.a, f.b),
            line(f.b, f.a),
        ));
        // The paper's exponent through the geometric mean of our points.
        let (mx, my) = (mean_log(&xs), mean_log(&ys));
        let a = (my - 0.81 * mx).exp();
        plot = plot.with(Series::line("paper's exponent 0.81", line(0.81, a)));
    }
    report.plot("plateau_vs_N", plot);
    Ok(())
}

fn mean_log(v: &[f64]) -> f64 {
    v.iter().map(|x| x.ln()).sum::<f64>() / v.len().max(1) as f64
}

pub(super) fn alpha(report: &mut Report, view: &View<'_>) -> Result<(), ReportError> {
    let Some(alpha) = &view.config.alpha else {
        return Ok(());
    };
    let runs: Vec<(f64, &RunResult)> = alpha
        .alphas
        .iter()
        .filter_map(|&a| view.find(alpha.run.n, alpha.run.steps, a).map(|r| (a, r)))
        .collect();
    let mut csv = String::from("alpha,plateau_end,final_loss,final_accuracy\n");
    for (a, run) in &runs {
        let last = run.curve.last().map(|p| p.seen);
        let end = view
            .plateau_end(run)
            .map_or(String::new(), |e| e.to_string());
        csv.push_str(&format!(
            "{a},{end},{},{}\n",
            last.map_or(f64::NAN, |s| s.loss),
            last.map_or(f64::NAN, |s| s.accuracy)
        ));
    }
    report.file("alpha_sweep.csv", csv);
    let mut plot = LinePlot::new(
        format!(
            "Power-law sampling, N = {}, {} steps",
            alpha.run.n, alpha.run.steps
        ),
        "step",
        "attribute loss, uniform over trained people (nats)",
    );
    for (a, run) in &runs {
        let points = curve(run).into_iter().map(|(s, l)| (s as f64, l));
        plot = plot.with(Series::line(format!("α = {a}"), points));
    }
    report.plot("alpha_sweep", plot);
    let end_of = |a: f64| {
        runs.iter()
            .find(|(x, _)| *x == a)
            .and_then(|(_, r)| view.plateau_end(r))
    };
    let uniform = end_of(0.0);
    let best = runs
        .iter()
        .filter(|(a, _)| *a > 0.0)
        .filter_map(|(_, r)| view.plateau_end(r))
        .min();
    let ratio = match (best, uniform) {
        (Some(b), Some(u)) => b as f64 / u as f64,
        // A power-law run left the plateau and the uniform one never did.
        (Some(_), None) => 0.0,
        _ => f64::NAN,
    };
    report.claim(Claim::new(
        format!("Imbalance shortens the plateau: shortest plateau end over α > 0 divided by the uniform one (N = {})", alpha.run.n),
        "< 1; shortest for α between 0.6 and 0.8",
        one(ratio),
        Check::Below(1.0),
    ));
    // Ties go to the smaller α: a sweep that cannot tell α apart does not favour a large one.
    let best = runs
        .iter()
        .filter_map(|(a, r)| view.plateau_end(r).map(|end| (end, *a)))
        .min_by(|x, y| x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)));
    // α comes from a decimal grid, so the distance is rounded to absorb its binary error
    // (0.8 − 0.7 is 0.10000000000000009 in f64).
    let outside = |a: f64| ((0.6 - a).max(a - 0.8).max(0.0) * 1e9).round() / 1e9;
    report.claim(Claim::new(
        format!(
            "The plateau-minimising α ({}), of {:?} (N = {}): its distance from the paper's range 0.6–0.8",
            best.map_or("none left the plateau".into(), |b| b.1.to_string()),
            alpha.alphas,
            alpha.run.n
        ),
        "0 (between 0.6 and 0.8, whatever N)",
        one(best.map_or(f64::NAN, |b| outside(b.1))),
        Check::AtMost(0.0),
    ));
    Ok(())
}
