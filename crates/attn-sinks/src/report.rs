//! The reproduction's report: the claims table (each check of the spec beside the paper's
//! number), the Table 2 and Fig. 5 analogues, perturbation and per-head figures, and the
//! pretrained model's section.

use kiln_core::data::text::BosMode;
use kiln_core::report::{Check, Claim, Heatmap, LinePlot, Panel, Report, RunInfo, Series};
use kiln_core::train::Summary;

use crate::experiment::{ExperimentConfig, LanguageResults};
use crate::pretrained::PretrainedResult;
use crate::probe::{Feed, SinkProbe};
use crate::train::{Masking, RunSpec};

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

/// Builds the report: claims, the Table 2 and Fig. 5 analogues, perturbations, heads.
///
/// # Errors
/// If a metric cannot be serialised.
pub fn build_report(
    config: &ExperimentConfig,
    results: &[LanguageResults],
    pretrained: Option<&PretrainedResult>,
    run_info: RunInfo,
) -> anyhow::Result<Report> {
    let mut report = Report::new("Why do LLMs attend to the first token?", run_info);
    let eps = config.eval.epsilons[0];
    let one = |v: f64| Summary::of(&[v]);
    let mut sweep_plot = LinePlot::new(
        format!("Sink rate against training context (ε = {eps}, prompts of the shortest context)"),
        "training context T",
        "sink rate (%)",
    );
    let mut perturbation_map = Heatmap::new(
        "Perturbation spread d_j^l, layer × text position after the swap",
        "text position after the swap, j − p − 1",
        "layer",
    );
    let mut heads_map = Heatmap::new(
        format!("First-token score α per head (T = {})", config.eval.length),
        "head",
        "layer",
    )
    .annotated();
    let mut csv = String::from("language,context,epsilon,sink_rate,final_train_loss\n");
    let mut packing_md = String::new();
    for lang in results {
        let name = lang.language.name();
        let at = |masking, bos| {
            lang.run(RunSpec {
                context: config.grid_context,
                bos,
                masking,
            })
        };
        let untrained_rate = lang
            .untrained
            .probes
            .text_only
            .rate(eps)
            .unwrap_or(f64::NAN);

        // Active-dormant signature.
        if let Some(ad) = at(Masking::Causal, BosMode::FixedBos).and_then(|r| r.active_dormant) {
            report.claim(Claim::new(
                format!("[{name}] back-copy head: α at triggers / α elsewhere"),
                "< 1: the copying head rests on ⟨bos⟩ when idle (active-dormant, §3.2)",
                one(ad.alpha_trigger / ad.alpha_other.max(1e-12)),
                Check::Below(1.0),
            ));
            report.section(
                format!("Active-dormant head ({name})"),
                format!(
                    "The head with the most attention from a trigger to the token before it is layer {} head {}: \
                     it puts {:.3} of a trigger's attention there (over {} trigger queries). Its first-token \
                     attention is {:.4} at triggers and {:.4} at every other query.",
                    ad.layer, ad.head, ad.copy_attention, ad.trigger_queries, ad.alpha_trigger, ad.alpha_other
                ),
            );
        }
        // Pinned ⟨bos⟩: sinks form, and removing ⟨bos⟩ removes them and hurts the loss.
        for masking in [Masking::Causal, Masking::IntraDocument] {
            let Some(probes) = at(masking, BosMode::FixedBos).and_then(|r| r.probes.as_ref())
            else {
                continue;
            };
            let (with, without) = (&probes.with_bos, &probes.text_only);
            let m = masking_name(masking);
            let paper = paper_numbers(masking);
            let with_rate = with.rate(eps).unwrap_or(f64::NAN);
            let without_rate = without.rate(eps).unwrap_or(f64::NAN);
            report.claim(Claim::new(
                format!("[{name}] ⟨bos⟩ pinned, {m}: sink rate with ⟨bos⟩ (%, ε = {eps})"),
                paper.pinned_rate,
                one(with_rate),
                Check::AtLeast(50.0),
            ));
            let cut = if with_rate > 0.0 {
                100.0 * (1.0 - without_rate / with_rate)
            } else {
                f64::NAN
            };
            report.claim(Claim::new(
                format!(
                    "[{name}] ⟨bos⟩ pinned, {m}: sink rate cut by dropping ⟨bos⟩ (%, relative)"
                ),
                paper.cut,
                one(cut),
                Check::AtLeast(80.0),
            ));
            report.claim(Claim::new(
                format!("[{name}] ⟨bos⟩ pinned, {m}: loss rise from dropping ⟨bos⟩ (nats)"),
                paper.loss_rise,
                one(without.loss - with.loss),
                Check::AtLeast(0.5),
            ));
        }
        // No ⟨bos⟩ in training: the first token still becomes a sink.
        for masking in [Masking::Causal, Masking::IntraDocument] {
            let Some(probes) = at(masking, BosMode::NoBos).and_then(|r| r.probes.as_ref()) else {
                continue;
            };
            let m = masking_name(masking);
            let rate = probes.text_only.rate(eps).unwrap_or(f64::NAN);
            report.claim(Claim::new(
                format!(
                    "[{name}] no ⟨bos⟩, {m}: sink rate on the first token minus untrained (points)"
                ),
                paper_numbers(masking).unpinned_rate,
                one(rate - untrained_rate),
                Check::Above(0.0),
            ));
        }
        // Perturbations spread further without ⟨bos⟩.
        if let Some([with, without]) =
            at(Masking::Causal, BosMode::FixedBos).and_then(|r| r.perturbation.as_ref())
        {
            report.claim(Claim::new(
                format!("[{name}] perturbation spread, text only / with ⟨bos⟩ (mean over layers)"),
                "> 1: spreads further without ⟨bos⟩ (Gemma 7B, Fig. 2)",
                one(without.mean() / with.mean().max(1e-12)),
                Check::Above(1.0),
            ));
            let mut table = String::from("| layer | with ⟨bos⟩ | text only |\n|---|---|---|\n");
            for (l, (a, b)) in with.per_layer.iter().zip(&without.per_layer).enumerate() {
                table.push_str(&format!("| {l} | {a:.4} | {b:.4} |\n"));
            }
            report.section(
                format!("Perturbation propagation ({name})"),
                format!(
                    "Text position {} of {} held-out prompts is swapped for another token; the table gives the mean \
                     relative change ‖h(x) − h(x′)‖ / ‖h(x)‖ of the residual stream after each block, over the later \
                     positions, for the causal model trained with ⟨bos⟩ pinned (T = {}).\n\n{table}",
                    config.eval.perturb_position, config.eval.perturb_prompts, config.grid_context
                ),
            );
            for (feed, r) in [(Feed::WithBos, with), (Feed::TextOnly, without)] {
                perturbation_map = perturbation_map.with(Panel::new(
                    format!("{name}, {}", feed.label()),
                    r.grid.clone(),
                ));
            }
        }
        // Context sweep.
        let sweep: Vec<(usize, f64, f64)> = lang
            .contexts
            .iter()
            .filter_map(|&t| {
                let run = lang.run(RunSpec {
                    context: t,
                    bos: BosMode::FixedBos,
                    masking: Masking::Causal,
                })?;
                let rate = run.sweep_probe.as_ref()?.rate(eps)?;
                Some((t, rate, run.curve.last().map_or(f64::NAN, |c| c.1)))
            })
            .collect();
        if sweep.len() >= 2 {
            let xs: Vec<f64> = sweep.iter().map(|s| s.0 as f64).collect();
            let ys: Vec<f64> = sweep.iter().map(|s| s.1).collect();
            report.claim(Claim::new(
                format!("[{name}] sink rate rises with training context (Spearman ρ; should show, not asserted)"),
                "> 0: sinks grow with context until saturating (Fig. 5)",
                one(spearman(&xs, &ys)),
                Check::Above(0.0),
            ));
            sweep_plot = sweep_plot.with(Series::line(
                name,
                xs.iter().copied().zip(ys.iter().copied()),
            ));
            let mut table = format!(
                "| training context T | sink rate (%), ε = {} | final training loss (nats) | training time (s) |\n|---|---|---|---|\n",
                epsilons_text(config)
            );
            for &t in &lang.contexts {
                let Some(run) = lang.run(RunSpec {
                    context: t,
                    bos: BosMode::FixedBos,
                    masking: Masking::Causal,
                }) else {
                    continue;
                };
                let Some(p) = &run.sweep_probe else { continue };
                let loss = run.curve.last().map_or(f64::NAN, |c| c.1);
                let rates: Vec<String> = p.rates.iter().map(|r| format!("{:.2}", r.1)).collect();
                table.push_str(&format!(
                    "| {t} | {} | {loss:.3} | {:.0} |\n",
                    rates.join(" / "),
                    run.seconds
                ));
                for (e, rate) in &p.rates {
                    csv.push_str(&format!("{name},{t},{e},{rate:.4},{loss:.4}\n"));
                }
            }
            report.section(
                format!("Context length ({name}; Fig. 5 analogue)"),
                format!(
                    "Causal models with ⟨bos⟩ pinned, the same tokens per step and steps, measured on {} held-out \
                     prompts of {} tokens (⟨bos⟩ + text; the shortest context, so every model reads the same prompts).\n\n{table}",
                    config.eval.prompts,
                    lang.contexts.iter().min().copied().unwrap_or(0)
                ),
            );
        }
        // Table 2 analogue.
        let mut table = format!(
            "| masking | ⟨bos⟩ pinned in training | inference input | paper sink % | paper loss | ours sink % (ε = {}) | ours loss (nats) |\n|---|---|---|---|---|---|---|\n",
            epsilons_text(config)
        );
        for (masking, bos, feed, paper_rate, paper_loss) in TABLE_2 {
            let Some(p) = at(masking, bos).and_then(|r| r.probes.as_ref()) else {
                continue;
            };
            let p = p.get(feed);
            let rates: Vec<String> = p.rates.iter().map(|r| format!("{:.2}", r.1)).collect();
            table.push_str(&format!(
                "| {} | {} | {} | {paper_rate:.2} | {paper_loss:.2} | {} | {:.3} |\n",
                masking_name(masking),
                if bos == BosMode::FixedBos {
                    "yes"
                } else {
                    "no"
                },
                feed.label(),
                rates.join(" / "),
                p.loss
            ));
        }
        let u = &lang.untrained.probes;
        table.push_str(&format!(
            "| untrained | — | text only | — | — | {} | {:.3} |\n",
            u.text_only
                .rates
                .iter()
                .map(|r| format!("{:.2}", r.1))
                .collect::<Vec<_>>()
                .join(" / "),
            u.text_only.loss
        ));
        if at(Masking::Causal, BosMode::FixedBos).is_some() {
            let body = format!(
                "Models trained at T = {} and measured on {} held-out single-document prompts of {} tokens; the loss \
                 is on the same text tokens for both inputs. Paper: 120M-parameter models, 30B tokens.\n\n{table}",
                config.grid_context, config.eval.prompts, config.eval.length
            );
            packing_md.push_str(&format!("## {name}\n\n{body}\n"));
            report.section(
                format!("Packing and ⟨bos⟩ ({name}; Table 2 analogue)"),
                body,
            );
        }
        // Per-head scores and value norms.
        let mut norms = String::from(
            "| model | input | value-norm ratio, position 0 / later, per layer |\n|---|---|---|\n",
        );
        for (masking, bos, feed) in [
            (Masking::Causal, BosMode::FixedBos, Feed::WithBos),
            (Masking::Causal, BosMode::FixedBos, Feed::TextOnly),
            (Masking::Causal, BosMode::NoBos, Feed::TextOnly),
        ] {
            if let Some(p) = at(masking, bos).and_then(|r| r.probes.as_ref()) {
                let p = p.get(feed);
                let pinned = if bos == BosMode::FixedBos {
                    "⟨bos⟩ pinned"
                } else {
                    "no ⟨bos⟩"
                };
                heads_map = heads_map.with(Panel::new(
                    format!("{name}: {pinned}, {}", feed.label()),
                    p.alpha.clone(),
                ));
                let ratios: Vec<String> = p
                    .value_norm_ratio
                    .iter()
                    .map(|r| format!("{r:.2}"))
                    .collect();
                norms.push_str(&format!(
                    "| {} {pinned} | {} | {} |\n",
                    masking_name(masking),
                    feed.label(),
                    ratios.join(", ")
                ));
            }
        }
        heads_map = heads_map.with(Panel::new(
            format!("{name}: untrained, text only"),
            u.text_only.alpha.clone(),
        ));
        report.section(
            format!("Value norms ({name}; the no-op of §3.2)"),
            format!(
                "A sink is a no-op when its value vector is small. Mean ‖v‖ at position 0 divided by the mean at later positions, \
                 per layer (1 = no difference):\n\n{norms}"
            ),
        );
        report.metric(format!("results_{name}"), lang)?;
    }
    let mut training = String::from(
        "| language | run | steps | final training loss | seconds |\n|---|---|---|---|---|\n",
    );
    for lang in results {
        for r in &lang.runs {
            let (steps, loss) = r.curve.last().copied().unwrap_or((0, f64::NAN));
            training.push_str(&format!(
                "| {} | {} | {steps} | {loss:.3} | {:.0} |\n",
                lang.language.name(),
                r.spec.label(),
                r.seconds
            ));
        }
    }
    if let Some(p) = pretrained {
        pretrained_report(&mut report, config, p)?;
    }
    report.section("Training runs", training);
    report.section("Settings", settings_text(config));
    if !sweep_plot.series.is_empty() {
        report.plot("sink_vs_context", sweep_plot);
        report.file("sink_vs_context.csv", csv);
    }
    if !perturbation_map.panels.is_empty() {
        report.plot("perturbation", perturbation_map);
    }
    if !heads_map.panels.is_empty() {
        report.plot("heads", heads_map);
    }
    if !packing_md.is_empty() {
        report.file(
            "packing_table.md",
            format!("# Packing and ⟨bos⟩: Table 2 at our scale\n\n{packing_md}"),
        );
    }
    Ok(report)
}

/// Claims, a section, `pretrained.md` and a per-head figure for the pretrained model.
fn pretrained_report(
    report: &mut Report,
    config: &ExperimentConfig,
    p: &PretrainedResult,
) -> anyhow::Result<()> {
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
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let rates = |probe: &SinkProbe| {
        probe
            .rates
            .iter()
            .map(|r| format!("{:.2}", r.1))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    let mut body = format!(
        "{} read from its GGUF file onto the shared decoder ({} layers × {} query heads), on {} \
         held-out Brown prompts of {} of its own tokens, fed with its ⟨bos⟩ (id 1) or as text \
         only. Whether this instruct model saw a leading ⟨bos⟩ in training is not documented (its \
         tokenizer does not add one).\n\n\
         | input | sink rate (%), ε = {} | loss (nats) | value-norm ratio, position 0 / later \
         (mean over layers) | perturbation spread (mean over layers) |\n|---|---|---|---|---|\n",
        p.model,
        p.layers,
        p.heads,
        p.prompts,
        p.length,
        epsilons_text(config)
    );
    for (feed, probe, spread) in [
        (Feed::WithBos, with, &p.perturbation[0]),
        (Feed::TextOnly, without, &p.perturbation[1]),
    ] {
        body.push_str(&format!(
            "| {} | {} | {:.3} | {:.3} | {:.4} |\n",
            feed.label(),
            rates(probe),
            probe.loss,
            mean(&probe.value_norm_ratio),
            spread.mean()
        ));
    }
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
    report.file(
        "pretrained.md",
        format!(
            "# Attention sinks in a pretrained model: {}\n\n{body}",
            p.model
        ),
    );
    report.section(format!("Pretrained model ({})", p.model), body);
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
    report.metric("pretrained", p)?;
    Ok(())
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
