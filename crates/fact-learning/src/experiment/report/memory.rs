//! What knowledge does to unseen and new people: hallucination and fine-tuning (§4), and the
//! paper's claims that this reproduction does not test.

use kiln_core::report::{Check, Claim, LinePlot, Report, ReportError, Series};

use super::{View, one};
use crate::experiment::training::LogPoint;

pub(super) fn hallucination(report: &mut Report, view: &View<'_>) -> Result<(), ReportError> {
    let Some(run) = view.hallucination_run() else {
        return Ok(());
    };
    let baseline = view.baseline();
    let xy = |f: fn(&LogPoint) -> f64| -> Vec<(f64, f64)> {
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

pub(super) fn finetune(report: &mut Report, view: &View<'_>) -> Result<(), ReportError> {
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

/// The claims of the paper that no run of this reproduction measures, so that the report lists
/// every claim.
pub(super) fn not_tested(report: &mut Report) {
    let rows = [
        (
            "Recall circuits form during the plateau: training with post-plateau attention patterns patched in removes the plateau (§2.2)",
            "plateau disappears",
            "patching experiment not run",
        ),
        (
            "Warm-up curriculum beats uniform sampling at large N (§3.2)",
            "94.92 % vs 63.26 % accuracy on 128k people",
            "warm-up run not included",
        ),
        (
            "The α minimising the final loss grows with N and with shorter budgets (§3.1)",
            "grows with N",
            "α sweep at one N only",
        ),
        (
            "Attention patterns stay stable during fine-tuning; the damage is in the MLPs (§4.2)",
            "stable attention",
            "attention not measured",
        ),
        (
            "Fine-tuning on rare but seen people is net-positive (App. F.3)",
            "≈ 50 % → 70 % on 120k non-celebrities",
            "not run",
        ),
        (
            "A one-hidden-layer MLP reproduces the fine-tuning pattern (App. F.4)",
            "same pattern",
            "toy MLP not implemented",
        ),
        (
            "The phases are robust to learning rate, weight decay, batch and model size, and Hawk (App. C)",
            "qualitatively robust",
            "one setting only",
        ),
    ];
    for (claim, paper, why) in rows {
        report.claim(Claim::new(
            claim,
            paper,
            one(f64::NAN),
            Check::NotComparable(why.into()),
        ));
    }
}
