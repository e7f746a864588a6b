//! The report of a reproduction run: every claim of the paper beside our measurement.
//! [`streams`] covers the supervised streams (plasticity, `γ` at switches, perfect resets,
//! the sweep), [`other`] the toy, the DQN, the cost table and what this scale does not test.

use kiln_core::report::{Report, ReportError, RunInfo};
use kiln_core::train::Summary;

mod other;
mod streams;

use super::Results;
use super::config::{ExperimentConfig, MethodKind};
use super::stream::StreamRun;

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
        "Non-stationary learning with automatic soft parameter reset (Galashov et al., 2024)",
        run,
    );
    report.section("Settings", settings(config));
    let view = View { config, results };
    for study in ["memorisation", "data_efficient"] {
        streams::plasticity(&mut report, &view, study)?;
    }
    streams::gamma_at_switches(&mut report, &view)?;
    streams::perfect_reset(&mut report, &view);
    streams::sweep(&mut report, &view);
    other::toy(&mut report, &view)?;
    other::rl(&mut report, &view)?;
    other::cost(&mut report, &view);
    other::not_tested(&mut report);
    Ok(report)
}

/// The results with the configuration that made them.
struct View<'a> {
    config: &'a ExperimentConfig,
    results: &'a Results,
}

impl View<'_> {
    /// The runs of `method` in `study`, one per seed.
    fn runs(&self, study: &str, method: MethodKind) -> Vec<&StreamRun> {
        self.results
            .streams
            .iter()
            .filter(|r| r.job.study == study && r.job.method == method)
            .collect()
    }

    /// The methods that ran in `study`, in config order.
    fn methods(&self, study: &str) -> Vec<MethodKind> {
        let mut out: Vec<MethodKind> = Vec::new();
        for r in self.results.streams.iter().filter(|r| r.job.study == study) {
            if !out.contains(&r.job.method) {
                out.push(r.job.method);
            }
        }
        out.sort();
        out
    }
}

/// Tasks averaged at each end of a stream: 10, or a third of a short stream.
fn window(tasks: usize) -> usize {
    (tasks / 3).clamp(1, 10)
}

/// Mean per-task accuracy over the first (`last = false`) or last `window` tasks of a run.
fn end_mean(run: &StreamRun, last: bool) -> f64 {
    let n = run.per_task.len();
    let k = window(n).min(n);
    let part = if last {
        &run.per_task[n - k..]
    } else {
        &run.per_task[..k]
    };
    part.iter().sum::<f64>() / k.max(1) as f64
}

/// Over seeds: `f` of each run.
fn over_seeds(runs: &[&StreamRun], f: impl Fn(&StreamRun) -> f64) -> Summary {
    let values: Vec<f64> = runs.iter().map(|r| f(r)).collect();
    if values.is_empty() {
        return Summary::of(&[f64::NAN]);
    }
    Summary::of(&values)
}

fn settings(config: &ExperimentConfig) -> String {
    let m = &config.methods;
    format!(
        "Scale `{}`, seeds {:?}. MLP with hidden widths {} and ReLU on {} images average-pooled {}×{}, batch {}, SGD α = {}. \
         Soft resets: prior mean {:?}, σ₀² from the initial draw (floor {}); Soft Reset `{:?}`; Proximal `{:?}`; \
         Bayesian `{:?}`. L2 Init λ = {}; Shrink & Perturb ({}, {}) at the boundaries; Hard Reset at the boundaries \
         (the oracle baselines read the task boundaries; the learned soft resets never do). \
         Per-task accuracy is the training accuracy of the incoming batches before each update, averaged over the task.",
        config.scale,
        config.seeds,
        config
            .hidden
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("-"),
        config.images,
        config.pool,
        config.pool,
        config.batch_size,
        m.lr,
        m.prior_mean,
        m.var_floor,
        m.soft_reset,
        m.proximal,
        m.bayesian,
        m.l2_lambda,
        m.shrink,
        m.perturb,
    )
}
