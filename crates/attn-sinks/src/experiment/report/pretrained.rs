//! The pretrained model's part of the report: claims beside the paper's much larger models, a
//! section, `pretrained.md` and a per-head figure.

use kiln_core::report::{Check, Claim, Heatmap, Panel, Report, ReportError, Table};
use kiln_core::train::Summary;

use super::epsilons_text;
use crate::experiment::ExperimentConfig;
use crate::experiment::pretrained::PretrainedResult;
use crate::probe::{Feed, SinkProbe};

/// Claims, a section, `pretrained.md` and a per-head figure for the pretrained model.
pub(super) fn part(
    report: &mut Report,
    config: &ExperimentConfig,
    p: &PretrainedResult,
) -> Result<(), ReportError> {
    claims(report, config, p);
    let body = body(config, p);
    report.file(
        "pretrained.md",
        format!(
            "# Attention sinks in a pretrained model: {}\n\n{body}",
            p.model
        ),
    );
    report.section(format!("Pretrained model ({})", p.model), body);
    let (with, without) = (&p.probes.with_bos, &p.probes.text_only);
    report.plot(
        "pretrained_heads",
        Heatmap::new(
            format!(
                "{}: first-token score α per head (T = {})",
                p.model, p.length
            ),
            "head",
            "layer",
        )
        .with(Panel::new(Feed::WithBos.label(), with.alpha.clone()))
        .with(Panel::new(Feed::TextOnly.label(), without.alpha.clone())),
    );
    report.metric("pretrained", p)
}

/// Sink rate, loss rise and perturbation spread beside the paper's much larger models.
fn claims(report: &mut Report, config: &ExperimentConfig, p: &PretrainedResult) {
    let (with, without) = (&p.probes.with_bos, &p.probes.text_only);
    let last_eps = *config.eval.epsilons.last().unwrap_or(&0.8);
    let other_model = |what: &str| {
        Check::NotComparable(format!(
            "{what}; ours: {}, {} layers × {} heads, {} Brown prompts of {} tokens",
            p.model, p.layers, p.heads, p.prompts, p.length
        ))
    };
    let rate = |probe: &SinkProbe, eps| probe.rate(eps).unwrap_or(f64::NAN);
    report.claim(Claim::new(
        format!("[SmolLM2] sink rate with ⟨bos⟩ (%, ε = {last_eps})"),
        "45.97 (LLaMA 3.1 8B), 73.49 (70B), 78.29 (405B); Table 1",
        Summary::of(&[rate(with, last_eps)]),
        other_model("paper: LLaMA 3.1, 170 prompts of 64 tokens"),
    ));
    report.claim(Claim::new(
        "[SmolLM2] loss rise from dropping ⟨bos⟩ (nats)",
        "Gemma 7B breaks without ⟨bos⟩ (RULER 82.57 → 0.00; Table 3)",
        Summary::of(&[without.loss - with.loss]),
        other_model(
            "paper: Gemma 7B on benchmarks; unknown whether SmolLM2 was trained with ⟨bos⟩",
        ),
    ));
    report.claim(Claim::new(
        "[SmolLM2] perturbation spread, text only / with ⟨bos⟩",
        "> 1: spreads further without ⟨bos⟩ (Gemma 7B, Fig. 2)",
        Summary::of(&[p.perturbation[1].mean() / p.perturbation[0].mean().max(1e-12)]),
        other_model("paper: Gemma 7B, one prompt"),
    ));
}

/// The section's text: what was run, the table of both feeds, the swap and the per-layer rates.
fn body(config: &ExperimentConfig, p: &PretrainedResult) -> String {
    let (with, without) = (&p.probes.with_bos, &p.probes.text_only);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let rates = |probe: &SinkProbe| {
        probe
            .rates
            .iter()
            .map(|r| format!("{:.2}", r.1))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    let mut table = Table::new([
        "input".to_string(),
        format!("sink rate (%), ε = {}", epsilons_text(config)),
        "loss (nats)".to_string(),
        "value-norm ratio, position 0 / later (mean over layers)".to_string(),
        "perturbation spread (mean over layers)".to_string(),
    ]);
    for (feed, probe, spread) in [
        (Feed::WithBos, with, &p.perturbation[0]),
        (Feed::TextOnly, without, &p.perturbation[1]),
    ] {
        table.row([
            feed.label().to_string(),
            rates(probe),
            format!("{:.3}", probe.loss),
            format!("{:.3}", mean(&probe.value_norm_ratio)),
            format!("{:.4}", spread.mean()),
        ]);
    }
    let mut body = format!(
        "{} read from its GGUF file onto the shared decoder ({} layers × {} query heads), on {} \
         held-out Brown prompts of {} of its own tokens, fed with its ⟨bos⟩ (id 1) or as text \
         only. Whether this instruct model saw a leading ⟨bos⟩ in training is not documented (its \
         tokenizer does not add one).\n\n{table}",
        p.model, p.layers, p.heads, p.prompts, p.length,
    );
    let by_layer: Vec<String> = with
        .rate_by_layer
        .iter()
        .map(|r| format!("{r:.0}"))
        .collect();
    body.push_str(&format!(
        "\nThe perturbation swaps the token at text position {} for ` best` (or ` greatest` where \
         it already is ` best`; in the first prompt `{}` became `{}`), in {} prompts.\n\n\
         Sink rate per layer at ε = {} with ⟨bos⟩ (%): {}.\n",
        config.eval.perturb_position,
        p.swap_example.0,
        p.swap_example.1,
        p.perturb_prompts,
        config.eval.epsilons[0],
        by_layer.join(", ")
    ));
    body
}
