//! One language's part of the report: the active-dormant head, what pinning and dropping ⟨bos⟩
//! do (Table 2), perturbation spread (Fig. 2), the context sweep (Fig. 5) and value norms.

use kiln_core::data::text::BosMode;
use kiln_core::report::{Check, Claim, Panel, Report, ReportError, Series, Table};
use kiln_core::train::Summary;

use super::{Figures, TABLE_2, epsilons_text, masking_name, paper_numbers, spearman};
use crate::experiment::{ExperimentConfig, LanguageResults, RunResult};
use crate::probe::{Feed, SinkProbe};
use crate::train::{Masking, RunSpec};

fn one(v: f64) -> Summary {
    Summary::of(&[v])
}

/// The rates of `probe` at every threshold, as `a / b`.
fn rates_text(probe: &SinkProbe) -> String {
    let rates: Vec<String> = probe.rates.iter().map(|r| format!("{:.2}", r.1)).collect();
    rates.join(" / ")
}

/// One language's results and the measurement settings they share.
struct Part<'a> {
    config: &'a ExperimentConfig,
    lang: &'a LanguageResults,
    name: &'static str,
    /// The headline threshold `ε`.
    eps: f64,
}

impl Part<'_> {
    /// The grid run trained with `masking` and `bos`, if there was one.
    fn at(&self, masking: Masking, bos: BosMode) -> Option<&RunResult> {
        self.lang.run(RunSpec {
            context: self.config.grid_context,
            bos,
            masking,
        })
    }

    /// The sweep run at context `t`.
    fn sweep_run(&self, t: usize) -> Option<&RunResult> {
        self.lang.run(RunSpec {
            context: t,
            bos: BosMode::FixedBos,
            masking: Masking::Causal,
        })
    }
}

/// Adds one language's claims, sections and figure panels.
pub(super) fn part(
    report: &mut Report,
    figures: &mut Figures,
    config: &ExperimentConfig,
    lang: &LanguageResults,
) -> Result<(), ReportError> {
    let part = Part {
        config,
        lang,
        name: lang.language.name(),
        eps: config.eval.epsilons[0],
    };
    active_dormant(report, &part);
    pinned_claims(report, &part);
    unpinned_claims(report, &part);
    perturbation(report, figures, &part);
    sweep(report, figures, &part);
    table2(report, figures, &part);
    heads(report, figures, &part);
    report.metric(format!("results_{}", part.name), lang)
}

/// The back-copy head rests on ⟨bos⟩ when it has nothing to copy.
fn active_dormant(report: &mut Report, part: &Part<'_>) {
    let name = part.name;
    let Some(ad) = part
        .at(Masking::Causal, BosMode::FixedBos)
        .and_then(|r| r.active_dormant)
    else {
        return;
    };
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

/// Pinned ⟨bos⟩: sinks form, and removing ⟨bos⟩ removes them and hurts the loss.
fn pinned_claims(report: &mut Report, part: &Part<'_>) {
    let (name, eps) = (part.name, part.eps);
    for masking in [Masking::Causal, Masking::IntraDocument] {
        let Some(probes) = part
            .at(masking, BosMode::FixedBos)
            .and_then(|r| r.probes.as_ref())
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
            format!("[{name}] ⟨bos⟩ pinned, {m}: sink rate cut by dropping ⟨bos⟩ (%, relative)"),
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
}

/// No ⟨bos⟩ in training: the first token still becomes a sink.
fn unpinned_claims(report: &mut Report, part: &Part<'_>) {
    let (name, eps) = (part.name, part.eps);
    let untrained_rate = part
        .lang
        .untrained
        .probes
        .text_only
        .rate(eps)
        .unwrap_or(f64::NAN);
    for masking in [Masking::Causal, Masking::IntraDocument] {
        let Some(probes) = part
            .at(masking, BosMode::NoBos)
            .and_then(|r| r.probes.as_ref())
        else {
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
}

/// Perturbations spread further without ⟨bos⟩.
fn perturbation(report: &mut Report, figures: &mut Figures, part: &Part<'_>) {
    let (name, config) = (part.name, part.config);
    let Some([with, without]) = part
        .at(Masking::Causal, BosMode::FixedBos)
        .and_then(|r| r.perturbation.as_ref())
    else {
        return;
    };
    report.claim(Claim::new(
        format!("[{name}] perturbation spread, text only / with ⟨bos⟩ (mean over layers)"),
        "> 1: spreads further without ⟨bos⟩ (Gemma 7B, Fig. 2)",
        one(without.mean() / with.mean().max(1e-12)),
        Check::Above(1.0),
    ));
    let mut table = Table::new(["layer", "with ⟨bos⟩", "text only"]);
    for (l, (a, b)) in with.per_layer.iter().zip(&without.per_layer).enumerate() {
        table.row([l.to_string(), format!("{a:.4}"), format!("{b:.4}")]);
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
        let panel = Panel::new(format!("{name}, {}", feed.label()), r.grid.clone());
        figures.perturbation_map.panels.push(panel);
    }
}

/// The context sweep: sink rate against training context (Fig. 5).
fn sweep(report: &mut Report, figures: &mut Figures, part: &Part<'_>) {
    let (name, config, lang) = (part.name, part.config, part.lang);
    let points: Vec<(f64, f64)> = lang
        .contexts
        .iter()
        .filter_map(|&t| {
            let rate = part.sweep_run(t)?.sweep_probe.as_ref()?.rate(part.eps)?;
            Some((t as f64, rate))
        })
        .collect();
    if points.len() < 2 {
        return;
    }
    let (xs, ys): (Vec<f64>, Vec<f64>) = points.iter().copied().unzip();
    report.claim(Claim::new(
        format!(
            "[{name}] sink rate rises with training context (Spearman ρ; should show, not asserted)"
        ),
        "> 0: sinks grow with context until saturating (Fig. 5)",
        one(spearman(&xs, &ys)),
        Check::Above(0.0),
    ));
    figures.sweep_plot.series.push(Series::line(name, points));
    let mut table = Table::new([
        "training context T".to_string(),
        format!("sink rate (%), ε = {}", epsilons_text(config)),
        "final training loss (nats)".to_string(),
        "training time (s)".to_string(),
    ]);
    for &t in &lang.contexts {
        let Some(run) = part.sweep_run(t) else {
            continue;
        };
        let Some(p) = &run.sweep_probe else { continue };
        let loss = run.curve.last().map_or(f64::NAN, |c| c.1);
        table.row([
            t.to_string(),
            rates_text(p),
            format!("{loss:.3}"),
            format!("{:.0}", run.seconds),
        ]);
        for (e, rate) in &p.rates {
            figures
                .csv
                .push_str(&format!("{name},{t},{e},{rate:.4},{loss:.4}\n"));
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

/// The packing grid beside the paper's Table 2.
fn table2(report: &mut Report, figures: &mut Figures, part: &Part<'_>) {
    let (name, config) = (part.name, part.config);
    let mut table = Table::new([
        "masking".to_string(),
        "⟨bos⟩ pinned in training".to_string(),
        "inference input".to_string(),
        "paper sink %".to_string(),
        "paper loss".to_string(),
        format!("ours sink % (ε = {})", epsilons_text(config)),
        "ours loss (nats)".to_string(),
    ]);
    for (masking, bos, feed, paper_rate, paper_loss) in TABLE_2 {
        let Some(p) = part.at(masking, bos).and_then(|r| r.probes.as_ref()) else {
            continue;
        };
        let p = p.get(feed);
        table.row([
            masking_name(masking).to_string(),
            (if bos == BosMode::FixedBos {
                "yes"
            } else {
                "no"
            })
            .to_string(),
            feed.label().to_string(),
            format!("{paper_rate:.2}"),
            format!("{paper_loss:.2}"),
            rates_text(p),
            format!("{:.3}", p.loss),
        ]);
    }
    let u = &part.lang.untrained.probes.text_only;
    table.row([
        "untrained".to_string(),
        "—".into(),
        "text only".into(),
        "—".into(),
        "—".into(),
        rates_text(u),
        format!("{:.3}", u.loss),
    ]);
    if part.at(Masking::Causal, BosMode::FixedBos).is_none() {
        return;
    }
    let body = format!(
        "Models trained at T = {} and measured on {} held-out single-document prompts of {} tokens; the loss \
         is on the same text tokens for both inputs. Paper: 120M-parameter models, 30B tokens.\n\n{table}",
        config.grid_context, config.eval.prompts, config.eval.length
    );
    figures
        .packing_md
        .push_str(&format!("## {name}\n\n{body}\n"));
    report.section(
        format!("Packing and ⟨bos⟩ ({name}; Table 2 analogue)"),
        body,
    );
}

/// Per-head first-token scores and value norms.
fn heads(report: &mut Report, figures: &mut Figures, part: &Part<'_>) {
    let name = part.name;
    let mut norms = Table::new([
        "model",
        "input",
        "value-norm ratio, position 0 / later, per layer",
    ]);
    for (masking, bos, feed) in [
        (Masking::Causal, BosMode::FixedBos, Feed::WithBos),
        (Masking::Causal, BosMode::FixedBos, Feed::TextOnly),
        (Masking::Causal, BosMode::NoBos, Feed::TextOnly),
    ] {
        let Some(p) = part.at(masking, bos).and_then(|r| r.probes.as_ref()) else {
            continue;
        };
        let p = p.get(feed);
        let pinned = if bos == BosMode::FixedBos {
            "⟨bos⟩ pinned"
        } else {
            "no ⟨bos⟩"
        };
        let panel = Panel::new(
            format!("{name}: {pinned}, {}", feed.label()),
            p.alpha.clone(),
        );
        figures.heads_map.panels.push(panel);
        let ratios: Vec<String> = p
            .value_norm_ratio
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect();
        norms.row([
            format!("{} {pinned}", masking_name(masking)),
            feed.label().to_string(),
            ratios.join(", "),
        ]);
    }
    let untrained = Panel::new(
        format!("{name}: untrained, text only"),
        part.lang.untrained.probes.text_only.alpha.clone(),
    );
    figures.heads_map.panels.push(untrained);
    report.section(
        format!("Value norms ({name}; the no-op of §3.2)"),
        format!(
            "A sink is a no-op when its value vector is small. Mean ‖v‖ at position 0 divided by the mean at later positions, \
             per layer (1 = no difference):\n\n{norms}"
        ),
    );
}
