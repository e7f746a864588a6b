//! The report's sections about the setting, pre-training and augmentation, and the study
//! worlds as files.

use kiln_core::report::{LinePlot, Series, Table};

use super::super::config::ExperimentConfig;
use super::super::{Results, conditions::SeedRun};
use crate::augment::AugKind;
use crate::study::Split;

/// The study world of `seed` as JSON Lines, regenerated from the config (a pure function of
/// the config and the seed; the run already generated it, so this cannot fail for a run's
/// own results).
pub(super) fn study_jsonl(
    config: &ExperimentConfig,
    seed: u64,
) -> Result<String, kiln_core::InvalidConfig> {
    let vocab = config.world.vocab()?;
    let seed = kiln_core::train::derive_seed(seed, "study-world");
    let study = crate::study::StudySet::generate(&config.world, &config.study, &vocab, seed)?;
    Ok(crate::export::to_jsonl(&study, &vocab))
}

/// The model, budgets and sizes of the run.
pub(super) fn settings(config: &ExperimentConfig, results: &Results) -> String {
    let m = &config.model;
    format!(
        "Decoder: {} layers, d = {}, {} heads, SwiGLU {}, RoPE, context {}; {} parameters, vocabulary {}. Pre-training: batch {} documents, AdamW peak {} (cosine to {}×), up to {} steps. Study: {} comparisons, {} premise pairs, {} hierarchies per world; {} study worlds. Fine-tuning: AdamW {} constant, batch {}, until an epoch's loss < {} or {} steps.",
        m.n_layers,
        m.d_model,
        m.n_heads,
        m.ffn_hidden,
        config.max_len,
        results.parameters,
        results.vocab_size,
        config.pretrain.batch_size,
        config.pretrain.lr,
        config.pretrain.min_lr_fraction,
        config.pretrain.steps,
        config.study.comparisons,
        config.study.syllogisms,
        config.study.hierarchies,
        config.seeds.len(),
        config.finetune.lr,
        config.finetune.batch_size,
        config.finetune.target_loss,
        config.finetune.max_steps,
    )
}

/// The gate curve as a table, with the verdict.
pub(super) fn gate_text(config: &ExperimentConfig, results: &Results) -> String {
    let p = &results.pretrain;
    let mut t = Table::new([
        "step",
        "train loss",
        "reversal",
        "syllogism",
        "rephrase",
        "hier. reversal",
        "inheritance",
        "holdout",
        "gate",
    ]);
    for point in &p.curve {
        let mut row = vec![
            point.step.to_string(),
            point.train_loss.map_or("–".into(), |l| format!("{l:.3}")),
        ];
        row.extend(Split::ALL.iter().map(|s| {
            point
                .icl
                .get(s)
                .map_or("–".into(), |x| format!("{:.0} %", 100.0 * x.accuracy))
        }));
        row.push(if point.passed { "pass" } else { "–" }.into());
        t.row(row);
    }
    format!(
        "Gate: in-context reversal ≥ {:.0} % and syllogism ≥ {:.0} % on {} fresh random study worlds. **{}** after {} steps ({} documents, {} tokens, {:.0} s).\n\n{}",
        100.0 * config.gate.reversal,
        100.0 * config.gate.syllogism,
        config.gate.worlds,
        if p.passed {
            "Passed"
        } else {
            "Pretraining insufficient: not passed"
        },
        p.steps,
        p.documents,
        p.tokens,
        p.seconds,
        t
    )
}

/// In-context accuracy per split along pre-training.
pub(super) fn gate_plot(results: &Results) -> LinePlot {
    let mut plot = LinePlot::new(
        "In-context accuracy during pre-training (gate worlds)",
        "step",
        "accuracy",
    );
    for split in Split::ALL {
        let points = results
            .pretrain
            .curve
            .iter()
            .filter_map(|p| p.icl.get(&split).map(|x| (p.step as f64, x.accuracy)));
        plot = plot.with(Series::line(split.name(), points));
    }
    plot
}

/// The augmentations judged by the symbolic world.
pub(super) fn augment_quality(seeds: &[SeedRun]) -> String {
    let mut t = Table::new([
        "augmentation",
        "sentences",
        "entailed (%)",
        "new inferences (%)",
        "derivable statements covered (%)",
    ]);
    for kind in [AugKind::Local, AugKind::Global, AugKind::Oracle] {
        let qs: Vec<_> = seeds
            .iter()
            .flat_map(|s| &s.augment_quality)
            .filter(|(k, _)| *k == kind)
            .map(|(_, q)| q)
            .collect();
        let sum = |f: &dyn Fn(&crate::augment::AugQuality) -> usize| {
            qs.iter().map(|q| f(q)).sum::<usize>() as f64
        };
        let generated = sum(&|q| q.generated);
        t.row([
            format!("{kind:?}").to_lowercase(),
            format!("{generated:.0}"),
            format!("{:.1}", 100.0 * sum(&|q| q.valid) / generated.max(1.0)),
            format!("{:.1}", 100.0 * sum(&|q| q.new_valid) / generated.max(1.0)),
            format!(
                "{:.1}",
                100.0 * sum(&|q| q.covered) / sum(&|q| q.derivable).max(1.0)
            ),
        ]);
    }
    format!(
        "The model's own augmentations judged by the symbolic world, over all study worlds: a sentence is entailed if it is a fact or one of the world's derived statements (reversals, rephrasings, conclusions, inherited properties); new if it is a derived one.\n\n{}",
        t
    )
}
