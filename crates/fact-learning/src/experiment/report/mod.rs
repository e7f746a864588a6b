//! The report of a reproduction run: every claim of the paper beside our measurement, the runs
//! as a table, CSVs and SVG plots. [`dynamics`] covers the learning curve (§2–3), [`memory`]
//! hallucination and fine-tuning (§4) and the claims this scale does not test.

use kiln_core::report::{Report, ReportError, RunInfo, Table};
use kiln_core::train::Summary;

mod dynamics;
mod memory;

use super::Results;
use super::config::ExperimentConfig;
use super::training::RunResult;
use crate::metrics::plateau_end;

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
    dynamics::phases(&mut report, &view)?;
    dynamics::alpha(&mut report, &view)?;
    memory::hallucination(&mut report, &view)?;
    memory::finetune(&mut report, &view)?;
    memory::not_tested(&mut report);
    report.section("Runs", runs_table(&view));
    Ok(report)
}

/// The results with the configuration that made them.
pub(super) struct View<'a> {
    pub(super) config: &'a ExperimentConfig,
    pub(super) results: &'a Results,
}

impl View<'_> {
    pub(super) fn baseline(&self) -> f64 {
        self.results.baseline
    }

    /// The plateau end of a run, by our rule.
    pub(super) fn plateau_end(&self, run: &RunResult) -> Option<usize> {
        plateau_end(&curve(run), self.baseline(), self.config.plateau_delta)
    }

    /// The uniform runs of the size study, by increasing `N` (first seed).
    pub(super) fn size_runs(&self) -> Vec<&RunResult> {
        let mut runs: Vec<&RunResult> = self
            .config
            .sizes
            .iter()
            .filter_map(|s| self.find(s.n, s.steps, 0.0))
            .collect();
        runs.sort_by_key(|r| r.job.n);
        runs
    }

    pub(super) fn find(&self, n: usize, steps: usize, alpha: f64) -> Option<&RunResult> {
        self.results
            .runs
            .iter()
            .find(|r| (r.job.n, r.job.steps, r.job.alpha) == (n, steps, alpha))
    }

    /// The run whose hallucinations are shown: the fine-tuning base, else the largest `N`.
    pub(super) fn hallucination_run(&self) -> Option<&RunResult> {
        self.results
            .runs
            .iter()
            .find(|r| r.job.finetune)
            .or_else(|| self.size_runs().last().copied())
    }
}

/// `(step, attribute loss on seen people)`.
pub(super) fn curve(run: &RunResult) -> Vec<(usize, f64)> {
    run.curve.iter().map(|p| (p.step, p.seen.loss)).collect()
}

pub(super) fn one(value: f64) -> Summary {
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
