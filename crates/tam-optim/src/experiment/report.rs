//! The report of a reproduction run: the paper's claims beside our numbers, tables, plots.

use std::fmt::Write as _;

use kiln_core::report::{Check, Claim, LinePlot, Report, ReportError, RunInfo, Series, Table};
use kiln_core::train::Summary;

use super::config::{ExperimentConfig, OnlineConfig};
use super::iid::IidResult;
use super::online::OnlineResult;
use super::sweep::SweepResult;
use super::toy::{Outcome, ToyResult};
use super::{OptimizerKind, Results};

/// Builds the report of `results`.
pub fn build(
    config: &ExperimentConfig,
    results: &Results,
    run: RunInfo,
) -> Result<Report, ReportError> {
    let mut report = Report::new("Torque-Aware Momentum (Malviya et al., 2024)", run);
    report.section("Settings", settings(config));
    toy_part(&mut report, &results.toy, config)?;
    for iid in &results.iid {
        iid_part(&mut report, iid)?;
    }
    if let (Some(online), Some(e2)) = (&results.online, &config.online) {
        online_part(&mut report, online, e2)?;
    }
    if let Some(sweep) = &results.sweep {
        sweep_part(&mut report, sweep, config)?;
    }
    Ok(report)
}

fn settings(config: &ExperimentConfig) -> String {
    let widths: Vec<String> = config.hidden.iter().map(usize::to_string).collect();
    format!(
        "- TAM and AdaTAM at their defaults: cosine scope **Global** (one cosine over all \
         parameters, as in the first author's prototype), γ = 0.9, ε = 1e-8, first step a plain \
         SGD step; AdaTAM without bias correction and with a non-averaged first moment.\n\
         - SGDM: momentum 0.9, dampening 0. Adam: β = (0.9, 0.999), ε = 1e-8. Constant rates.\n\
         - Model: MLP 784-{}-10 with ReLU. Data: seeded subsets of {} training and {} validation \
         images; test on {}.\n\
         - Seeds: {:?}; the first selects each optimizer's learning rate on validation.\n",
        widths.join("-"),
        config.train_size,
        config.val_size,
        config
            .test_size
            .map_or("the whole test set".to_string(), |n| format!(
                "{n} test images"
            )),
        config.seeds
    )
}

fn log10_points(points: impl IntoIterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    points.into_iter().map(|(x, y)| (x.log10(), y)).collect()
}

fn outcome_text(o: Outcome) -> String {
    match o {
        Outcome::Converged => "converged".into(),
        Outcome::Diverged(step) => format!("diverged (step {step})"),
        Outcome::Undecided => "bounded, not converged".into(),
    }
}

fn toy_part(
    report: &mut Report,
    toy: &ToyResult,
    config: &ExperimentConfig,
) -> Result<(), ReportError> {
    let sgdm = toy.max_stable_lr("SGDM");
    let tam = toy.max_stable_lr("TAM");
    let ratio = match (sgdm, tam) {
        (Some(s), Some(t)) => t / s,
        _ => f64::NAN,
    };
    report.claim(Claim::new(
        "Toy quadratic: largest stable learning rate, TAM ÷ SGDM",
        "TAM damps the oscillation of momentum (no number in the paper; we expect ≈ 2.5×)",
        Summary::of(&[ratio]),
        Check::AtLeast(2.0),
    ));
    let mut table = Table::new(["lr", "SGDM", "TAM", "final f (TAM)", "f64 reference agrees"]);
    let mut csv = String::from("optimizer,lr,step,f\n");
    for run in &toy.runs {
        for (i, f) in run.values.iter().enumerate() {
            let _ = writeln!(csv, "{},{},{},{:e}", run.optimizer, run.lr, i + 1, f);
        }
    }
    for &lr in &config.toy.lrs {
        let find = |name: &str| toy.runs.iter().find(|r| r.optimizer == name && r.lr == lr);
        if let (Some(s), Some(t)) = (find("SGDM"), find("TAM")) {
            let agree = s.outcome.same_kind(s.reference_outcome)
                && t.outcome.same_kind(t.reference_outcome);
            table.row([
                lr.to_string(),
                outcome_text(s.outcome),
                outcome_text(t.outcome),
                format!("{:.2e}", t.values.last().copied().unwrap_or(f64::NAN)),
                (if agree { "yes" } else { "**no**" }).to_string(),
            ]);
        }
    }
    let ab = &toy.ablation;
    let body = format!(
        "f(x, y) = ½(x² + {kappa} y²) from (1, 1), {steps} full-batch steps, β = 0.9. A run diverges \
         when f passes 1e12 and converges when it ends below 1e-6. Largest stable rate: SGDM \
         {sgdm:?}, TAM {tam:?}.\n\n{table}\nWithout smoothing (γ = 0) TAM at lr {} {}: the \
         smoothing of the cosine is load-bearing.\n",
        ab.lr,
        outcome_text(ab.outcome),
        kappa = config.toy.curvature,
        steps = config.toy.steps,
    );
    report.section("Toy quadratic: stability", body);
    report.file("toy.csv", csv);
    let mut plot = LinePlot::new("Toy quadratic: log10 f per step", "step", "log10 f(x, y)");
    let shown: Vec<f64> = config.toy.lrs.iter().copied().take(4).collect();
    for run in toy.runs.iter().filter(|r| shown.contains(&r.lr)) {
        plot = plot.with(Series::line(
            format!("{} lr {}", run.optimizer, run.lr),
            run.values
                .iter()
                .enumerate()
                .map(|(i, f)| ((i + 1) as f64, f.max(1e-30).log10())),
        ));
    }
    plot = plot.with(Series::line(
        format!("{} lr {}", ab.optimizer, ab.lr),
        ab.values
            .iter()
            .enumerate()
            .map(|(i, f)| ((i + 1) as f64, f.max(1e-30).log10())),
    ));
    report.plot("toy_quadratic", plot);
    report.metric("toy_max_stable_lr_ratio", ratio)
}

fn slug(name: &str) -> String {
    name.to_ascii_lowercase().replace(' ', "-")
}

/// Paired per-seed differences `a − b` of a score.
fn paired(a: &[f64], b: &[f64]) -> Summary {
    let diffs: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    Summary::of(&diffs)
}

fn iid_part(report: &mut Report, iid: &IidResult) -> Result<(), ReportError> {
    let test_accs = |kind| -> Vec<f64> { iid.finals_of(kind).iter().map(|r| r.test_acc).collect() };
    let mut table = Table::new([
        "optimizer",
        "selected lr",
        "test accuracy (%)",
        "runs diverged",
    ]);
    for (&kind, lr) in &iid.selected {
        let accs = test_accs(kind);
        let diverged = iid.finals_of(kind).iter().filter(|r| r.diverged).count();
        table.row([
            kind.name().to_string(),
            lr.to_string(),
            format!("{:.2}", Summary::of(&accs)),
            format!("{diverged} / {}", accs.len()),
        ]);
    }
    let mut grid = Table::new(["optimizer", "lr", "validation", "test"]);
    for r in &iid.grid {
        grid.row([
            r.optimizer.name().to_string(),
            r.lr.to_string(),
            format!("{:.2}", r.val_acc),
            format!("{:.2}", r.test_acc),
        ]);
    }
    for (ours, base, paper) in [
        (
            OptimizerKind::Tam,
            OptimizerKind::SgdMomentum,
            "ImageNet ResNet: 77.1 vs 77.0 [R]",
        ),
        (
            OptimizerKind::AdaTam,
            OptimizerKind::Adam,
            "ImageNet ResNet: 74.5 vs 74.4 [R]",
        ),
    ] {
        let (a, b) = (test_accs(ours), test_accs(base));
        if a.is_empty() || b.is_empty() {
            continue;
        }
        let threshold = -2.0 * Summary::of(&b).std;
        report.claim(Claim::new(
            format!(
                "E1 {}: {} − {} test accuracy (points, paired seeds)",
                iid.dataset,
                ours.name(),
                base.name()
            ),
            paper,
            paired(&a, &b),
            Check::AtLeast((threshold * 100.0).round() / 100.0),
        ));
    }
    report.section(
        format!("E1 {}: i.i.d. training", iid.dataset),
        format!("{table}\nValidation accuracy (%) with the first seed:\n\n{grid}"),
    );
    report.file(
        format!("e1_table_{}.md", slug(&iid.dataset)),
        table.to_string(),
    );
    let mut plot = LinePlot::new(
        format!("E1 {}: validation accuracy vs learning rate", iid.dataset),
        "log10 learning rate",
        "validation accuracy (%)",
    );
    for kind in iid.selected.keys() {
        let points = iid
            .grid
            .iter()
            .filter(|r| r.optimizer == *kind)
            .map(|r| (r.lr, r.val_acc));
        plot = plot.with(Series::line(kind.name(), log10_points(points)));
    }
    report.plot(format!("e1_lr_curve_{}", slug(&iid.dataset)), plot);
    Ok(())
}

/// Per seed, the mean over boundaries of `d_t` in the steps after a flip minus the steps before.
fn damping_dip(runs: &[&super::online::StreamRun]) -> Summary {
    let per_seed: Vec<f64> = runs
        .iter()
        .filter(|r| !r.flip_damping.is_empty())
        .map(|r| {
            let n = r.flip_damping.len() as f64;
            r.flip_damping
                .iter()
                .map(|(before, after)| after - before)
                .sum::<f64>()
                / n
        })
        .collect();
    Summary::of(&per_seed)
}

fn online_part(
    report: &mut Report,
    online: &OnlineResult,
    e2: &OnlineConfig,
) -> Result<(), ReportError> {
    let mut table = Table::new([
        "p",
        "optimizer",
        "lr",
        "online accuracy (%)",
        "test accuracy at task ends (%)",
        "diverged",
    ]);
    for &p in &e2.flip_fractions {
        online_rows(&mut table, online, p);
        online_claims(report, online, p);
        report.plot(format!("e2_online_acc_p{p}"), online_plot(online, e2, p));
    }
    let dip_text = damping_part(report, online, e2);
    report.section(
        format!("E2 {}: label-flipping stream", online.dataset),
        format!(
            "{} tasks × {} steps, batch {}; at each boundary a fraction p of the classes is \
             permuted among themselves. Online accuracy scores each batch before the update; \
             learning rates are E1's selection on {}.\n\n{table}\n{dip_text}",
            e2.tasks, e2.steps_per_task, e2.batch_size, online.dataset
        ),
    );
    report.file("e2_table.md", table.to_string());
    Ok(())
}

/// Mean online accuracy of each seed of `kind` at flip fraction `p`.
fn overall(online: &OnlineResult, kind: OptimizerKind, p: f64) -> Vec<f64> {
    online
        .runs_of(kind, p)
        .iter()
        .map(|r| r.overall_acc())
        .collect()
}

/// One row per optimizer streamed at flip fraction `p`.
fn online_rows(table: &mut Table, online: &OnlineResult, p: f64) {
    for (&kind, &lr) in &online.lrs {
        let runs = online.runs_of(kind, p);
        let ends: Vec<f64> = runs
            .iter()
            .map(|r| {
                r.task_end_test_acc.iter().sum::<f64>() / r.task_end_test_acc.len().max(1) as f64
            })
            .collect();
        table.row([
            p.to_string(),
            kind.name().to_string(),
            lr.to_string(),
            format!("{:.2}", Summary::of(&overall(online, kind, p))),
            format!("{:.2}", Summary::of(&ends)),
            format!(
                "{} / {}",
                runs.iter().filter(|r| r.diverged).count(),
                runs.len()
            ),
        ]);
    }
}

/// TAM against SGDM and SGD at flip fraction `p`.
fn online_claims(report: &mut Report, online: &OnlineResult, p: f64) {
    for base in [OptimizerKind::SgdMomentum, OptimizerKind::Sgd] {
        let (a, b) = (
            overall(online, OptimizerKind::Tam, p),
            overall(online, base, p),
        );
        if a.is_empty() || b.is_empty() {
            continue;
        }
        report.claim(Claim::new(
            format!(
                "E2 label flips p = {p}: TAM − {} online accuracy (points, paired seeds)",
                base.name()
            ),
            "TAM keeps accuracy where SGDM and SGD degrade (§4.3; curves not read)",
            paired(&a, &b),
            Check::Above(0.0),
        ));
    }
}

/// The online-accuracy curves of every optimizer at flip fraction `p`.
fn online_plot(online: &OnlineResult, e2: &OnlineConfig, p: f64) -> LinePlot {
    let mut plot = LinePlot::new(
        format!(
            "E2 {}: online accuracy, p = {p} (task every {} steps)",
            online.dataset, e2.steps_per_task
        ),
        "step",
        "online accuracy (%)",
    );
    for &kind in online.lrs.keys() {
        let curves: Vec<Vec<f64>> = online
            .runs_of(kind, p)
            .iter()
            .map(|r| r.curve.clone())
            .collect();
        let len = curves.iter().map(Vec::len).min().unwrap_or(0);
        let xs: Vec<f64> = (1..=len).map(|i| (i * e2.curve_window) as f64).collect();
        plot = plot.with(Series::from_runs(kind.name(), &xs, &curves));
    }
    plot
}

/// TAM's damping across the stream: the plot, one mechanism claim per flip fraction, and the
/// text that states the dips.
fn damping_part(report: &mut Report, online: &OnlineResult, e2: &OnlineConfig) -> String {
    let mut damping_plot = LinePlot::new(
        format!("E2 {}: TAM's damping d_t (window means)", online.dataset),
        "step",
        "d_t",
    );
    let mut dip_text = String::new();
    for &p in &e2.flip_fractions {
        let runs = online.runs_of(OptimizerKind::Tam, p);
        let curves: Vec<Vec<f64>> = runs.iter().map(|r| r.damping.clone()).collect();
        let len = curves.iter().map(Vec::len).min().unwrap_or(0);
        if len == 0 {
            continue;
        }
        let xs: Vec<f64> = (1..=len).map(|i| (i * e2.curve_window) as f64).collect();
        damping_plot = damping_plot.with(Series::from_runs(format!("TAM, p = {p}"), &xs, &curves));
        let dip = damping_dip(&runs);
        let _ = writeln!(
            dip_text,
            "- p = {p}: mean d_t over the {w} steps after a flip minus the {w} steps before it: \
             {dip:.4}.",
            w = super::online::FLIP_WINDOW
        );
        report.claim(Claim::new(
            format!("E2 p = {p}: change of TAM's d_t across a label flip"),
            "the gradient turns against the momentum, so d_t dips (mechanism)",
            dip,
            Check::Below(0.0),
        ));
    }
    report.plot("e2_damping", damping_plot);
    dip_text
}

fn sweep_part(
    report: &mut Report,
    sweep: &SweepResult,
    config: &ExperimentConfig,
) -> Result<(), ReportError> {
    let Some(e3) = &config.sweep else {
        return Ok(());
    };
    let mut table = Table::new([
        "optimizer",
        "lr",
        "failed",
        "of which diverged",
        "test accuracy (%)",
    ]);
    let mut plot = LinePlot::new(
        format!("E3 {}: test accuracy vs learning rate", sweep.dataset),
        "log10 learning rate",
        "test accuracy (%)",
    );
    for &kind in &e3.optimizers {
        let mut points = Vec::new();
        for &lr in &e3.lrs {
            let runs = sweep.runs_at(kind, lr);
            let accs: Vec<f64> = runs.iter().map(|r| r.test_acc).collect();
            let s = Summary::of(&accs);
            table.row([
                kind.name().to_string(),
                lr.to_string(),
                format!("{:.0}%", 100.0 * sweep.failed_fraction(kind, lr)),
                format!(
                    "{} / {}",
                    runs.iter().filter(|r| r.diverged).count(),
                    runs.len()
                ),
                format!("{s:.2}"),
            ]);
            points.push((lr.log10(), s.mean, s.std));
        }
        plot = plot.with(Series {
            label: kind.name().to_string(),
            points,
        });
    }
    let sgdm = sweep.max_stable_lr(OptimizerKind::SgdMomentum, &e3.lrs);
    let tam = sweep.max_stable_lr(OptimizerKind::Tam, &e3.lrs);
    let top = e3.lrs.iter().copied().fold(f64::MIN, f64::max);
    let (ratio, check) = match (sgdm, tam) {
        (Some(s), _) if s >= top => (
            f64::NAN,
            Check::NotComparable("SGDM never failed in the grid".into()),
        ),
        (Some(s), Some(t)) => (t / s, Check::AtLeast(2.0)),
        _ => (f64::NAN, Check::AtLeast(2.0)),
    };
    report.claim(Claim::new(
        format!(
            "E3 {}: largest stable learning rate, TAM ÷ SGDM",
            sweep.dataset
        ),
        "TAM trains at larger learning rates than SGDM",
        Summary::of(&[ratio]),
        check,
    ));
    report.section(
        format!("E3 {}: learning-rate robustness", sweep.dataset),
        format!(
            "{} epochs per run, batch {}. A run fails when its loss passes 1e6 or stops being \
             finite (it diverged), or when its last epoch's mean training loss is no better than \
             a uniform guess (ln 10 = {:.3}). Largest rate at and below which no seed failed: \
             SGDM {sgdm:?}, TAM {tam:?}.\n\n{table}",
            e3.epochs, e3.batch_size, sweep.chance_loss
        ),
    );
    report.file("e3_stability.md", table.to_string());
    report.plot("e3_lr_sweep", plot);
    Ok(())
}
