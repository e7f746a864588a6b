//! The report of a reproduction run: every claim of the paper beside our measurement, the runs
//! as a table, CSVs and SVG plots.

use kiln_core::report::{Check, Claim, LinePlot, Report, ReportError, RunInfo, Series, Table};
use kiln_core::train::Summary;

use super::Results;
use super::config::ExperimentConfig;
use super::training::RunResult;
use crate::metrics::{fit_power_law, plateau_end};

/// Builds the report of `results`.
///
/// # Errors
/// If a plot cannot be drawn or a metric serialised.
pub fn build(
    config: &ExperimentConfig,
    results: &Results,
    run: RunInfo,
) -> Result<Report, ReportError> {
    let mut report = Report::new(
        "How do language models learn facts? (Zucchet et al., 2025)",
        run,
    );
    report.section("Settings", settings(config, results));
    let view = View { config, results };
    phases_part(&mut report, &view)?;
    alpha_part(&mut report, &view)?;
    hallucination_part(&mut report, &view)?;
    finetune_part(&mut report, &view)?;
    report.section("Runs", runs_table(&view));
    Ok(report)
}

/// The results with the configuration that made them.
struct View<'a> {
    config: &'a ExperimentConfig,
    results: &'a Results,
}

impl View<'_> {
    fn baseline(&self) -> f64 {
        self.results.baseline
    }

    /// The plateau end of a run, by our rule.
    fn plateau_end(&self, run: &RunResult) -> Option<usize> {
        plateau_end(&curve(run), self.baseline(), self.config.plateau_delta)
    }

    /// The uniform runs of the size study, by increasing `N` (first seed).
    fn size_runs(&self) -> Vec<&RunResult> {
        let mut runs: Vec<&RunResult> = self
            .config
            .sizes
            .iter()
            .filter_map(|s| self.find(s.n, s.steps, 0.0))
            .collect();
        runs.sort_by_key(|r| r.job.n);
        runs
    }

    fn find(&self, n: usize, steps: usize, alpha: f64) -> Option<&RunResult> {
        self.results
            .runs
            .iter()
            .find(|r| (r.job.n, r.job.steps, r.job.alpha) == (n, steps, alpha))
    }

    /// The run whose hallucinations are shown: the fine-tuning base, else the largest `N`.
    fn hallucination_run(&self) -> Option<&RunResult> {
        self.results
            .runs
            .iter()
            .find(|r| r.job.finetune)
            .or_else(|| self.size_runs().last().copied())
    }
}

/// `(step, attribute loss on seen people)`.
fn curve(run: &RunResult) -> Vec<(usize, f64)> {
    run.curve.iter().map(|p| (p.step, p.seen.loss)).collect()
}

fn one(value: f64) -> Summary {
    Summary::of(&[value])
}

fn settings(config: &ExperimentConfig, results: &Results) -> String {
    let m = config.model;
    let t = config.train;
    format!(
        "- World: the CPU lists of the paper's structure (invented words), {} templates per \
         attribute, {} for training; no-knowledge baseline **{:.3} nats**.\n\
         - Model: decoder with {} layers, d = {}, {} heads, SwiGLU {} (RoPE, RMSNorm, untied \
         embeddings): {} parameters, {} outside the embeddings.\n\
         - Training: batch {}, AdamW (0.9, 0.95), weight decay {}, cosine from {:.1e} to {:.1e} \
         without warm-up; next-token loss on every token; a fresh biography per sequence.\n\
         - Evaluation every {} steps on {} fixed sequences of trained people (held-out \
         templates) and {} of {} never-trained people. Plateau end: first evaluation with \
         attribute loss below baseline − {}.\n\
         - Seeds: {:?}.\n",
        config.world.templates_per_attr,
        config.world.train_templates,
        results.baseline,
        m.n_layers,
        m.d_model,
        m.n_heads,
        m.ffn_hidden,
        results.parameters.0,
        results.parameters.1,
        t.batch_size,
        t.weight_decay,
        t.lr,
        t.lr * t.min_lr_fraction,
        t.log_every,
        t.eval_size,
        t.eval_size,
        config.held_out,
        config.plateau_delta,
        config.seeds,
    )
}

fn phases_part(report: &mut Report, view: &View<'_>) -> Result<(), ReportError> {
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

fn alpha_part(report: &mut Report, view: &View<'_>) -> Result<(), ReportError> {
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
    Ok(())
}

fn hallucination_part(report: &mut Report, view: &View<'_>) -> Result<(), ReportError> {
    let Some(run) = view.hallucination_run() else {
        return Ok(());
    };
    let baseline = view.baseline();
    let xy = |f: fn(&super::training::LogPoint) -> f64| -> Vec<(f64, f64)> {
        run.curve.iter().map(|p| (p.step as f64, f(p))).collect()
    };
    let steps = run.job.steps as f64;
    let plot = LinePlot::new(
        format!("Trained and never-seen people, N = {}", run.job.n),
        "step",
        "attribute loss (nats)",
    )
    .with(Series::line(
        "no-knowledge baseline",
        [(0.0, baseline), (steps, baseline)],
    ))
    .with(Series::line("trained people", xy(|p| p.seen.loss)))
    .with(Series::line("never-seen people", xy(|p| p.unseen.loss)));
    report.plot("hallucination", plot);
    let confidence = LinePlot::new(
        "Confidence in predicted values",
        "step",
        "mean max-probability",
    )
    .with(Series::line("trained people", xy(|p| p.seen.max_prob)))
    .with(Series::line("never-seen people", xy(|p| p.unseen.max_prob)));
    report.plot("confidence", confidence);
    let knowing = run.curve.iter().find(|p| p.seen.loss < baseline - 1.0);
    report.claim(Claim::new(
        format!(
            "Hallucination: never-seen people's attribute loss minus baseline once trained people's is 1 nat below it ({})",
            knowing.map_or("never reached".into(), |p| format!("step {}", p.step))
        ),
        "> 0 (above the baseline shortly after the plateau)",
        one(knowing.map_or(f64::NAN, |p| p.unseen.loss - baseline)),
        Check::Above(0.2),
    ));
    let last = run.curve.last();
    report.claim(Claim::new(
        "Lower confidence on never-seen people: mean max-probability of trained minus never-seen people, end of training",
        "> 0",
        one(last.map_or(f64::NAN, |p| p.seen.max_prob - p.unseen.max_prob)),
        Check::Above(0.0),
    ));
    Ok(())
}

fn finetune_part(report: &mut Report, view: &View<'_>) -> Result<(), ReportError> {
    let (Some(ft), Some(run)) = (
        &view.config.finetune,
        view.results.runs.iter().find(|r| r.job.finetune),
    ) else {
        return Ok(());
    };
    let baseline = view.baseline();
    let mut plot = LinePlot::new(
        format!(
            "Fine-tuning on {} new people at lr {}",
            ft.new_people, ft.lr
        ),
        "fine-tuning step",
        "attribute loss (nats)",
    )
    .with(Series::line(
        "no-knowledge baseline",
        [(0.0, baseline), (ft.steps as f64, baseline)],
    ));
    for c in &run.finetune {
        let old = c.points.iter().map(|(s, o, _)| (*s as f64, o.loss));
        let new = c.points.iter().map(|(s, _, n)| (*s as f64, n.loss));
        plot = plot
            .with(Series::line(
                format!("old people, replay {}", c.replay_weight),
                old,
            ))
            .with(Series::line(
                format!("new people, replay {}", c.replay_weight),
                new,
            ));
    }
    report.plot("finetune", plot);
    // The paper's window: fine-tuning step 100 (or the last one, if shorter).
    let at = ft.steps.min(100);
    let rise = |w: f64| {
        let c = run.finetune.iter().find(|c| c.replay_weight == w)?;
        let start = c.points.first()?.1.loss;
        let p = c.points.iter().rev().find(|p| p.0 <= at)?;
        Some((p.1.loss - start, p.2.loss))
    };
    let none = rise(0.0);
    report.claim(Claim::new(
        format!("Fine-tuning without replay corrupts old knowledge: rise of old people's attribute loss by fine-tuning step {at}"),
        "collapse within the first few hundred steps",
        one(none.map_or(f64::NAN, |r| r.0)),
        Check::AtLeast(0.2),
    ));
    report.claim(Claim::new(
        format!("…while new knowledge is slow: new people's attribute loss minus baseline at step {at}, no replay"),
        "new knowledge arrives slowly",
        one(none.map_or(f64::NAN, |r| r.1 - baseline)),
        Check::Above(-0.3),
    ));
    let replayed = view
        .config
        .finetune
        .iter()
        .flat_map(|f| &f.replay_weights)
        .filter(|w| **w > 0.0)
        .filter_map(|&w| rise(w))
        .map(|r| r.0)
        .fold(f64::NAN, f64::min);
    report.claim(Claim::new(
        "Replay mitigates: old people's loss rise without replay minus the smallest rise with replay",
        "> 0 (\"partially mitigates\")",
        one(none.map_or(f64::NAN, |r| r.0) - replayed),
        Check::Above(0.0),
    ));
    Ok(())
}

fn runs_table(view: &View<'_>) -> String {
    let mut table = Table::new([
        "N",
        "α",
        "steps",
        "plateau end",
        "final loss",
        "final accuracy",
        "never-seen loss",
        "seconds",
    ]);
    for run in &view.results.runs {
        let last = run.curve.last();
        table.row([
            run.job.n.to_string(),
            run.job.alpha.to_string(),
            run.job.steps.to_string(),
            view.plateau_end(run)
                .map_or("not reached".into(), |e| e.to_string()),
            last.map_or("–".into(), |p| format!("{:.3}", p.seen.loss)),
            last.map_or("–".into(), |p| format!("{:.3}", p.seen.accuracy)),
            last.map_or("–".into(), |p| format!("{:.3}", p.unseen.loss)),
            format!("{:.0}", run.seconds),
        ]);
    }
    table.to_string()
}
