//! The report: the paper's orderings as claim rows (its results exist only as bar charts, so
//! the rows compare conditions, never numbers), `results.csv`, the Fig. 3 and Fig. 4
//! analogues, `augment_quality.md` and `pretrain_gate.md`.

use std::fmt::Write as _;

use kiln_core::report::{BarChart, BarSeries, Check, Claim, Report, ReportError, RunInfo, Table};
use kiln_core::train::Summary;

use super::config::ExperimentConfig;
use super::{Results, conditions::SeedRun};
use crate::augment::AugKind;
use crate::eval::summarise;
use crate::finetune::{Condition, SplitMode};
use crate::study::Split;
use sections::{augment_quality, gate_plot, gate_text, settings, study_jsonl};

mod sections;

/// Builds the report of a run.
///
/// # Errors
/// If a plot cannot be drawn.
pub fn build(
    config: &ExperimentConfig,
    results: &Results,
    run: RunInfo,
) -> Result<Report, ReportError> {
    let mut report = Report::new(
        "On the generalization of language models from in-context learning and finetuning (Lampinen et al., 2025)",
        run,
    );
    report.section("Settings", settings(config, results));
    let gate = gate_text(config, results);
    report.file("pretrain_gate.md", gate.clone());
    report.section("Pre-training gate", gate);
    report.plot("pretrain_gate", gate_plot(results));
    if !results.pretrain.passed {
        report.section(
            "Pretraining insufficient",
            "The decoder did not pass the gate within its step budget, so the study was not run: with a model that cannot reason in context, the comparison the paper makes has no subject. Raise `pretrain.steps` or the model size.",
        );
        return Ok(report);
    }
    for seed in &results.seeds {
        if let Ok(jsonl) = study_jsonl(config, seed.seed) {
            report.file(format!("study_world_{}.jsonl", seed.seed), jsonl);
        }
    }
    let view = View::new(config, &results.seeds);
    for claim in claims(&view) {
        report.claim(claim);
    }
    report.section("Accuracy by condition and split", view.table());
    report.section("Reported, not asserted", reported(&view));
    report.file("results.csv", view.csv());
    report.plot(
        "fig3_simple",
        view.bars(
            "Simple reversals and syllogisms (Fig. 3 analogue)",
            &[Split::Reversal, Split::Syllogism],
        ),
    );
    report.plot(
        "fig4_semantic",
        view.bars(
            "Semantic structure (Fig. 4 analogue)",
            &[
                Split::Rephrase,
                Split::HierReversal,
                Split::Inheritance,
                Split::CategoryHoldout,
            ],
        ),
    );
    let quality = augment_quality(&results.seeds);
    report.file("augment_quality.md", quality.clone());
    report.section("Augmentation quality", quality);
    report.section("Fine-tuning runs", view.finetune_table());
    report.section(
        "What is not run here",
        "Every row is from a decoder pre-trained from scratch on our nonsense-world stream. The pretrained-LM rows (SmolLM2-135M: no exposure, in-context reversal and syllogisms) and the GPU tier are not run yet; the reversal-curse data of Berglund et al. and the process-knowledge task are not implemented.",
    );
    Ok(report)
}

/// Per-seed accuracies of every condition and split.
struct View<'a> {
    config: &'a ExperimentConfig,
    seeds: &'a [SeedRun],
}

impl<'a> View<'a> {
    fn new(config: &'a ExperimentConfig, seeds: &'a [SeedRun]) -> Self {
        Self { config, seeds }
    }

    /// Accuracy of `condition` on `split`, one value per study world.
    fn accuracy(&self, condition: Condition, split: Split) -> Summary {
        let values: Vec<f64> = self
            .seeds
            .iter()
            .filter_map(|s| s.conditions.iter().find(|c| c.condition == condition))
            .filter_map(|c| summarise(&c.items).get(&split).map(|x| x.accuracy))
            .collect();
        Summary::of(&values)
    }

    fn chance(&self, split: Split) -> f64 {
        self.seeds
            .iter()
            .flat_map(|s| &s.conditions)
            .find_map(|c| summarise(&c.items).get(&split).map(|x| x.chance))
            .unwrap_or(f64::NAN)
    }

    fn has(&self, condition: Condition) -> bool {
        self.config.conditions.contains(&condition)
    }

    fn table(&self) -> String {
        let mut header = vec!["condition".to_string()];
        header.extend(
            Split::ALL
                .iter()
                .map(|s| format!("{} (chance {:.0} %)", s.name(), 100.0 * self.chance(*s))),
        );
        let mut t = Table::new(header);
        for &c in &self.config.conditions {
            let mut row = vec![c.name().to_string()];
            row.extend(Split::ALL.iter().map(|&s| pct(self.accuracy(c, s))));
            t.row(row);
        }
        format!(
            "Accuracy (%), mean ± standard error over {} study worlds; summed log-likelihood scoring.\n\n{}",
            self.seeds.len(),
            t
        )
    }

    fn csv(&self) -> String {
        let mut out =
            String::from("condition,split,accuracy,stderr,seeds,chance,accuracy_normalised\n");
        for &c in &self.config.conditions {
            for s in Split::ALL {
                let a = self.accuracy(c, s);
                let normalised: Vec<f64> = self
                    .seeds
                    .iter()
                    .filter_map(|r| r.conditions.iter().find(|x| x.condition == c))
                    .filter_map(|x| summarise(&x.items).get(&s).map(|y| y.accuracy_normalised))
                    .collect();
                let _ = writeln!(
                    out,
                    "{},{},{:.4},{:.4},{},{:.4},{:.4}",
                    c.name(),
                    s.name(),
                    a.mean,
                    a.stderr,
                    a.n,
                    self.chance(s),
                    Summary::of(&normalised).mean
                );
            }
        }
        out
    }

    fn bars(&self, title: &str, splits: &[Split]) -> BarChart {
        let groups = splits.iter().map(|s| s.name().to_string()).collect();
        let mut chart = BarChart::new(title, "accuracy", groups)
            .with_reference("chance", splits.iter().map(|&s| self.chance(s)).collect());
        for &c in &self.config.conditions {
            let values = splits.iter().map(|&s| {
                let a = self.accuracy(c, s);
                (a.mean, a.stderr)
            });
            chart = chart.with(BarSeries {
                label: c.name().to_string(),
                values: values.collect(),
            });
        }
        chart
    }

    fn finetune_table(&self) -> String {
        let mut t = Table::new([
            "condition",
            "examples",
            "steps (mean)",
            "final epoch loss (mean)",
            "seconds (mean)",
        ]);
        for &c in self.config.conditions.iter().filter(|c| c.fine_tunes()) {
            let runs: Vec<_> = self
                .seeds
                .iter()
                .filter_map(|s| s.conditions.iter().find(|x| x.condition == c))
                .collect();
            let logs: Vec<_> = runs.iter().filter_map(|r| r.finetune.as_ref()).collect();
            let mean = |f: &dyn Fn(&crate::finetune::FinetuneLog) -> f64| {
                Summary::of(&logs.iter().map(|l| f(l)).collect::<Vec<_>>()).mean
            };
            t.row([
                c.name().to_string(),
                format!("{:.0}", mean(&|l| l.examples as f64)),
                format!("{:.0}", mean(&|l| l.steps as f64)),
                format!(
                    "{:.3}",
                    mean(&|l| l.epoch_losses.last().copied().unwrap_or(f64::NAN))
                ),
                format!(
                    "{:.0}",
                    Summary::of(&runs.iter().map(|r| r.seconds).collect::<Vec<_>>()).mean
                ),
            ]);
        }
        format!(
            "Each run stops when an epoch's mean loss is below {} or after {} steps (matched by training loss, not steps).\n\n{}",
            self.config.finetune.target_loss, self.config.finetune.max_steps, t
        )
    }
}

fn pct(s: Summary) -> String {
    if s.n == 0 || s.mean.is_nan() {
        return "–".into();
    }
    format!("{:.1} ± {:.1}", 100.0 * s.mean, 100.0 * s.stderr)
}

/// Percentage points.
fn pp(s: Summary) -> Summary {
    Summary {
        mean: 100.0 * s.mean,
        std: 100.0 * s.std,
        stderr: 100.0 * s.stderr,
        ..s
    }
}

/// `a − b` per study world, in percentage points.
fn gap(view: &View<'_>, a: (Condition, Split), b: (Condition, Split)) -> Summary {
    let per_seed = |c: Condition, s: Split| -> Vec<f64> {
        view.seeds
            .iter()
            .filter_map(|r| r.conditions.iter().find(|x| x.condition == c))
            .map(|x| summarise(&x.items).get(&s).map_or(f64::NAN, |y| y.accuracy))
            .collect()
    };
    let diffs: Vec<f64> = per_seed(a.0, a.1)
        .iter()
        .zip(per_seed(b.0, b.1))
        .map(|(x, y)| 100.0 * (x - y))
        .collect();
    Summary::of(&diffs)
}

/// The six orderings of the CPU plan, each where its conditions were run.
fn claims(view: &View<'_>) -> Vec<Claim> {
    use Condition::{FtAug, Icl, Pretrained};
    use Split::{Reversal, Syllogism};
    let ft = Condition::Ft;
    let mut out = Vec::new();
    if view.has(Pretrained) {
        let worst = Split::ALL
            .iter()
            .map(|&s| {
                let a = view.accuracy(Pretrained, s);
                Summary {
                    mean: (100.0 * (a.mean - view.chance(s))).abs(),
                    ..pp(a)
                }
            })
            .filter(|s| s.n > 0)
            .max_by(|a, b| a.mean.total_cmp(&b.mean));
        if let Some(worst) = worst {
            out.push(Claim::new(
                "No exposure is at chance: largest |accuracy − chance| over the splits (pp)",
                "near chance",
                worst,
                Check::AtMost(10.0),
            ));
        }
    }
    if view.has(Icl) && view.has(ft) {
        out.push(Claim::new(
            "Reversals: ICL − FT (pp)",
            "ICL ≫ FT",
            gap(view, (Icl, Reversal), (ft, Reversal)),
            Check::AtLeast(25.0),
        ));
        out.push(Claim::new(
            "Syllogisms: ICL − FT (pp)",
            "ICL much stronger",
            gap(view, (Icl, Syllogism), (ft, Syllogism)),
            Check::Above(0.0),
        ));
    }
    if view.has(ft) {
        out.push(Claim::new(
            "Reversal curse: FT reversal accuracy (%)",
            "near chance",
            pp(view.accuracy(ft, Reversal)),
            Check::AtMost(65.0),
        ));
    }
    if view.has(FtAug(AugKind::Oracle)) && view.has(Icl) {
        out.push(Claim::new(
            "Reversals: oracle-augmented FT − ICL (pp)",
            "augmented FT ≈ ICL",
            gap(view, (FtAug(AugKind::Oracle), Reversal), (Icl, Reversal)),
            Check::AtLeast(-10.0),
        ));
    }
    if view.has(FtAug(AugKind::Local)) && view.has(ft) {
        out.push(Claim::new(
            "Reversals: locally augmented FT − FT (pp)",
            "augmentation helps",
            gap(view, (FtAug(AugKind::Local), Reversal), (ft, Reversal)),
            Check::Above(15.0),
        ));
    }
    out
}

/// The rows the plan reports without a threshold.
fn reported(view: &View<'_>) -> String {
    let mut t = Table::new(["comparison", "paper", "ours (pp, mean ± s.e.)"]);
    let global = Condition::FtAug(AugKind::Global);
    let split = Condition::FtSplit(SplitMode::Independent);
    let rows = [
        (
            global,
            Split::Syllogism,
            Condition::Ft,
            "global-augmented FT − FT, syllogisms",
            "augmentation improves further",
        ),
        (
            global,
            Split::Inheritance,
            Condition::Ft,
            "global-augmented FT − FT, inheritance",
            "augmented FT often beats ICL",
        ),
        (
            Condition::Icl,
            Split::CategoryHoldout,
            Condition::Ft,
            "ICL − FT, category holdout",
            "minimal ICL gain",
        ),
        (
            split,
            Split::Reversal,
            Condition::Ft,
            "sentence-split FT − FT, reversals",
            "splitting helps FT",
        ),
        (
            split,
            Split::Rephrase,
            Condition::Ft,
            "sentence-split FT − FT, rephrasings",
            "splitting helps FT",
        ),
        (
            Condition::Ft,
            Split::HierReversal,
            Condition::Pretrained,
            "FT − no exposure, hierarchy reversals",
            "FT above chance here",
        ),
    ];
    for (a, s, b, what, paper) in rows {
        if view.has(a) && view.has(b) {
            let g = gap(view, (a, s), (b, s));
            t.row([
                what.to_string(),
                paper.to_string(),
                format!("{:+.1} ± {:.1}", g.mean, g.stderr),
            ]);
        }
    }
    t.to_string()
}
