//! The reproduction's report: the claims table (each of our checks beside the paper's
//! number), the Table 2 and Fig. 5 analogues, perturbation and per-head figures, and the
//! pretrained model's section.

mod language;
mod pretrained;

use kiln_core::data::text::BosMode;
use kiln_core::report::{Heatmap, LinePlot, Report, ReportError, RunInfo, Table};

use super::{ExperimentConfig, Results};
use crate::probe::Feed;
use crate::train::Masking;

/// The paper's Table 2 rows: masking, ⟨bos⟩ pinned in training, inference feed, sink %, loss.
const TABLE_2: [(Masking, BosMode, Feed, f64, f64); 7] = [
    (Masking::Causal, BosMode::NoBos, Feed::WithBos, 65.10, 2.69),
    (Masking::Causal, BosMode::NoBos, Feed::TextOnly, 65.15, 2.70),
    (
        Masking::Causal,
        BosMode::FixedBos,
        Feed::WithBos,
        90.84,
        2.69,
    ),
    (
        Masking::Causal,
        BosMode::FixedBos,
        Feed::TextOnly,
        0.05,
        7.56,
    ),
    (
        Masking::IntraDocument,
        BosMode::NoBos,
        Feed::TextOnly,
        28.23,
        2.67,
    ),
    (
        Masking::IntraDocument,
        BosMode::FixedBos,
        Feed::WithBos,
        90.56,
        2.67,
    ),
    (
        Masking::IntraDocument,
        BosMode::FixedBos,
        Feed::TextOnly,
        0.00,
        7.78,
    ),
];

/// The paper's numbers behind each check, as the report quotes them (from Table 2).
struct PaperNumbers {
    /// Sink rate of the pinned-⟨bos⟩ model fed ⟨bos⟩.
    pinned_rate: &'static str,
    /// Relative cut of that rate when ⟨bos⟩ is dropped.
    cut: &'static str,
    /// Loss rise when ⟨bos⟩ is dropped.
    loss_rise: &'static str,
    /// Sink rate of the model trained without ⟨bos⟩.
    unpinned_rate: &'static str,
}

/// The paper's numbers for `masking`.
fn paper_numbers(masking: Masking) -> PaperNumbers {
    match masking {
        Masking::Causal => PaperNumbers {
            pinned_rate: "90.84",
            cut: "99.9 (90.84 → 0.05)",
            loss_rise: "+4.87 (2.69 → 7.56)",
            unpinned_rate: "> 0 (65.15; none at init)",
        },
        Masking::IntraDocument => PaperNumbers {
            pinned_rate: "90.56",
            cut: "100 (90.56 → 0.00)",
            loss_rise: "+5.11 (2.67 → 7.78)",
            unpinned_rate: "> 0 (28.23; none at init)",
        },
    }
}

/// The thresholds as a column heading: `0.3 / 0.8`.
fn epsilons_text(config: &ExperimentConfig) -> String {
    let eps: Vec<String> = config.eval.epsilons.iter().map(f64::to_string).collect();
    eps.join(" / ")
}

fn masking_name(m: Masking) -> &'static str {
    match m {
        Masking::Causal => "causal",
        Masking::IntraDocument => "intra-doc",
    }
}

/// Spearman's rank correlation of two equally long series (no ties expected; ties get the
/// mean rank).
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    fn ranks(v: &[f64]) -> Vec<f64> {
        let mut order: Vec<usize> = (0..v.len()).collect();
        order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
        let mut r = vec![0.0; v.len()];
        let mut i = 0;
        while i < order.len() {
            let mut j = i;
            while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
                j += 1;
            }
            for &k in &order[i..=j] {
                r[k] = (i + j) as f64 / 2.0;
            }
            i = j + 1;
        }
        r
    }
    let (rx, ry) = (ranks(x), ranks(y));
    let n = x.len() as f64;
    let mean = (n - 1.0) / 2.0;
    let cov: f64 = rx
        .iter()
        .zip(&ry)
        .map(|(a, b)| (a - mean) * (b - mean))
        .sum();
    let var = |r: &[f64]| r.iter().map(|a| (a - mean).powi(2)).sum::<f64>();
    let denominator = (var(&rx) * var(&ry)).sqrt();
    if denominator == 0.0 {
        0.0
    } else {
        cov / denominator
    }
}

/// The figures and files that gather every language's results.
struct Figures {
    sweep_plot: LinePlot,
    perturbation_map: Heatmap,
    heads_map: Heatmap,
    /// `sink_vs_context.csv`.
    csv: String,
    /// `packing_table.md`, one section per language.
    packing_md: String,
}

impl Figures {
    fn new(config: &ExperimentConfig) -> Self {
        let eps = config.eval.epsilons[0];
        Self {
            sweep_plot: LinePlot::new(
                format!(
                    "Sink rate against training context (ε = {eps}, prompts of the shortest context)"
                ),
                "training context T",
                "sink rate (%)",
            ),
            perturbation_map: Heatmap::new(
                "Perturbation spread d_j^l, layer × text position after the swap",
                "text position after the swap, j − p − 1",
                "layer",
            ),
            heads_map: Heatmap::new(
                format!("First-token score α per head (T = {})", config.eval.length),
                "head",
                "layer",
            )
            .annotated(),
            csv: String::from("language,context,epsilon,sink_rate,final_train_loss\n"),
            packing_md: String::new(),
        }
    }

    /// Adds every figure and file that has content to `report`.
    fn add_to(self, report: &mut Report) {
        if !self.sweep_plot.series.is_empty() {
            report.plot("sink_vs_context", self.sweep_plot);
            report.file("sink_vs_context.csv", self.csv);
        }
        if !self.perturbation_map.panels.is_empty() {
            report.plot("perturbation", self.perturbation_map);
        }
        if !self.heads_map.panels.is_empty() {
            report.plot("heads", self.heads_map);
        }
        if !self.packing_md.is_empty() {
            report.file(
                "packing_table.md",
                format!(
                    "# Packing and ⟨bos⟩: Table 2 at our scale\n\n{}",
                    self.packing_md
                ),
            );
        }
    }
}

/// Builds the report: claims, the Table 2 and Fig. 5 analogues, perturbations, heads.
///
/// # Errors
/// If a metric cannot be serialised.
pub fn build_report(
    config: &ExperimentConfig,
    results: &Results,
    run_info: RunInfo,
) -> Result<Report, ReportError> {
    let (pretrained, results) = (results.pretrained.as_ref(), &results.languages[..]);
    let mut report = Report::new("Why do LLMs attend to the first token?", run_info);
    let mut figures = Figures::new(config);
    for lang in results {
        language::part(&mut report, &mut figures, config, lang)?;
    }
    let mut training = Table::new(["language", "run", "steps", "final training loss", "seconds"]);
    for lang in results {
        for r in &lang.runs {
            let (steps, loss) = r.curve.last().copied().unwrap_or((0, f64::NAN));
            training.row([
                lang.language.name().to_string(),
                r.spec.label(),
                steps.to_string(),
                format!("{loss:.3}"),
                format!("{:.0}", r.seconds),
            ]);
        }
    }
    if let Some(p) = pretrained {
        pretrained::part(&mut report, config, p)?;
    }
    report.section("Training runs", training.to_string());
    report.section("Settings", settings_text(config));
    figures.add_to(&mut report);
    Ok(report)
}

fn settings_text(config: &ExperimentConfig) -> String {
    let m = &config.model;
    let t = &config.training;
    let b = &config.backcopy;
    format!(
        "Decoder: {} layers, d = {}, {} heads, SwiGLU {} wide, RoPE, RMSNorm, tied embeddings, no biases. \
         AdamW (β₂ = 0.95) at peak lr {} with {} warm-up steps and cosine decay to {}, weight decay {}, \
         {} tokens per step, {} steps per run unless a language says otherwise. Back-copy language: {} tokens, \
         {} triggers (rate {}), Dirichlet {} bigram rows, mean document length {}. Sink metric on the first position, \
         thresholds ε = {:?}, {} prompts of {} tokens. Seed {}.",
        m.n_layers,
        m.d_model,
        m.n_heads,
        m.ffn_hidden,
        t.peak_lr,
        t.warmup,
        t.min_lr,
        t.weight_decay,
        t.tokens_per_step,
        t.steps,
        b.vocab,
        b.triggers,
        b.trigger_rate,
        b.concentration,
        b.mean_length,
        config.eval.epsilons,
        config.eval.prompts,
        config.eval.length,
        config.seed
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_of_known_orders() {
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 30.0, 40.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[4.0, 3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        // Ranks (0, 2, 1, 3) against (0, 1, 2, 3): ρ = 1 − 6·2 / (4·15) = 0.8.
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0]) - 0.8).abs() < 1e-12);
        assert_eq!(
            spearman(&[1.0, 2.0], &[5.0, 5.0]),
            0.0,
            "no spread, no correlation"
        );
    }
}
