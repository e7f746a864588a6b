//! The supervised streams: plasticity, `γ` around the task switches, perfect soft resets and
//! the non-stationarity sweep.

use kiln_core::report::{Check, Claim, LinePlot, Report, ReportError, Series, Table};
use kiln_core::train::Summary;

use super::{View, end_mean, over_seeds, window};
use crate::experiment::config::MethodKind;

/// Per-task accuracy curves, the first/last table and the plasticity claims of `study`.
pub(super) fn plasticity(
    report: &mut Report,
    view: &View<'_>,
    study: &str,
) -> Result<(), ReportError> {
    let methods = view.methods(study);
    if methods.is_empty() {
        return Ok(());
    }
    let dataset = view
        .runs(study, methods[0])
        .first()
        .map_or(String::new(), |r| r.job.dataset.clone());
    let label = match study {
        "memorisation" => format!("random-label memorisation, {dataset}"),
        _ => format!("random labels, data efficient, {dataset}"),
    };
    let mut plot = LinePlot::new(
        format!("Per-task training accuracy: {label}"),
        "task",
        "accuracy (%)",
    );
    let mut csv = String::from("method,seed,task,accuracy\n");
    let mut table = Table::new([
        "method",
        "first tasks (%)",
        "last tasks (%)",
        "change (pts)",
        "time (s)",
    ]);
    let mut last_of = Vec::new();
    for &method in &methods {
        let runs = view.runs(study, method);
        let curves: Vec<Vec<f64>> = runs.iter().map(|r| r.per_task.clone()).collect();
        let xs: Vec<f64> = (1..=curves.first().map_or(0, Vec::len))
            .map(|t| t as f64)
            .collect();
        plot = plot.with(Series::from_runs(method.name(), &xs, &curves));
        for r in &runs {
            for (t, a) in r.per_task.iter().enumerate() {
                csv.push_str(&format!(
                    "{},{},{},{a:.3}\n",
                    method.name(),
                    r.job.seed,
                    t + 1
                ));
            }
        }
        let first = over_seeds(&runs, |r| end_mean(r, false));
        let last = over_seeds(&runs, |r| end_mean(r, true));
        let secs = over_seeds(&runs, |r| r.seconds);
        table.row([
            method.name().to_string(),
            format!("{:.1}", first.mean),
            format!("{:.1}", last.mean),
            format!("{:+.1}", last.mean - first.mean),
            format!("{:.0}", secs.mean),
        ]);
        last_of.push((method, last.mean));
    }
    report.plot(format!("per_task_accuracy_{study}"), plot);
    report.file(format!("per_task_accuracy_{study}.csv"), csv);
    let tasks = view
        .runs(study, methods[0])
        .first()
        .map_or(0, |r| r.per_task.len());
    let k = window(tasks);
    report.section(
        format!("Plasticity: {label}"),
        format!("{tasks} tasks; first and last {k} tasks' mean per-task accuracy.\n\n{table}"),
    );
    plasticity_claims(report, view, study, &label, &last_of);
    Ok(())
}

fn plasticity_claims(
    report: &mut Report,
    view: &View<'_>,
    study: &str,
    label: &str,
    last_of: &[(MethodKind, f64)],
) {
    let sgd = view.runs(study, MethodKind::OnlineSgd);
    let soft = view.runs(study, MethodKind::SoftReset);
    let k = window(sgd.first().map_or(0, |r| r.per_task.len()));
    if !sgd.is_empty() {
        report.claim(Claim::new(
            format!("Online SGD loses plasticity ({label}): first-{k} minus last-{k} per-task accuracy (pts)"),
            "degrades (Fig. 2)",
            over_seeds(&sgd, |r| end_mean(r, false) - end_mean(r, true)),
            Check::AtLeast(10.0),
        ));
    }
    if sgd.is_empty() || soft.is_empty() {
        return;
    }
    let sgd_last = over_seeds(&sgd, |r| end_mean(r, true)).mean;
    report.claim(Claim::new(
        format!(
            "Soft Reset keeps plasticity ({label}): its last-{k} accuracy minus Online SGD's (pts)"
        ),
        "above Online SGD (Fig. 2)",
        over_seeds(&soft, |r| end_mean(r, true) - sgd_last),
        Check::AtLeast(10.0),
    ));
    let hard = view.runs(study, MethodKind::HardReset);
    if !hard.is_empty() {
        let hard_last = over_seeds(&hard, |r| end_mean(r, true)).mean;
        report.claim(Claim::new(
            format!("Soft Reset beats Hard Reset ({label}): last-{k} difference (pts)"),
            "soft resets above hard resets",
            over_seeds(&soft, |r| end_mean(r, true) - hard_last),
            Check::Above(0.0),
        ));
    }
    let bayes = view.runs(study, MethodKind::BayesianSoftReset);
    let best_other = last_of
        .iter()
        .filter(|(m, _)| *m != MethodKind::BayesianSoftReset)
        .map(|(_, v)| *v)
        .fold(f64::NEG_INFINITY, f64::max);
    if !bayes.is_empty() {
        report.claim(Claim::new(
            format!("Bayesian Soft Reset is the best method ({label}): last-{k} minus the best other (pts)"),
            "best of all methods",
            over_seeds(&bayes, |r| end_mean(r, true) - best_other),
            Check::AtLeast(0.0),
        ));
    }
}

/// `γ` traces per layer around the switches and the claims that `γ` dips there.
pub(super) fn gamma_at_switches(report: &mut Report, view: &View<'_>) -> Result<(), ReportError> {
    let Some(run) = view
        .runs("memorisation", MethodKind::SoftReset)
        .into_iter()
        .next()
    else {
        return Ok(());
    };
    let (steps, epochs) = (run.steps_per_task, run.job.stream.epochs);
    let early = (2 * steps / epochs.max(1)).max(1);
    let shown = (10 * steps).min(run.gammas.len());
    let mut plot = LinePlot::new(
        "Soft Reset: γ per layer, first 10 tasks (memorisation)",
        "step",
        "γ",
    );
    let mut csv = format!("step,{}\n", run.groups.join(","));
    for (t, g) in run.gammas.iter().enumerate() {
        csv.push_str(&format!(
            "{t},{}\n",
            g.iter()
                .map(|v| format!("{v:.5}"))
                .collect::<Vec<_>>()
                .join(",")
        ));
    }
    for (i, name) in run.groups.iter().enumerate() {
        let points = (0..shown).map(|t| (t as f64, f64::from(run.gammas[t][i])));
        plot = plot.with(Series::line(name.clone(), points));
    }
    report.plot("gamma_trace", plot);
    report.file("gamma_trace.csv", csv);
    let tasks = run.gammas.len() / steps.max(1);
    let mut dipped = 0;
    let mut within = Vec::new();
    for task in 1..tasks {
        let s = task * steps;
        let all_dip =
            (0..run.groups.len()).all(|i| (s..s + early).any(|t| run.gammas[t][i] <= 0.9));
        dipped += usize::from(all_dip);
        within.extend(
            (s + early..s + steps).flat_map(|t| run.gammas[t].iter().map(|&g| f64::from(g))),
        );
    }
    within.sort_by(f64::total_cmp);
    let median = within.get(within.len() / 2).copied().unwrap_or(f64::NAN);
    let share = if tasks > 1 {
        dipped as f64 / (tasks - 1) as f64
    } else {
        f64::NAN
    };
    report.claim(Claim::new(
        "γ dips at task switches: share of boundaries where every layer's γ falls to ≤ 0.9 within 2 epochs",
        "γ drops at the switches (Fig. 4)",
        Summary::of(&[share]),
        Check::AtLeast(0.8),
    ));
    report.claim(Claim::new(
        "γ stays near 1 within a task: median γ after the first 2 epochs of each task",
        "near 1 between switches (Fig. 4)",
        Summary::of(&[median]),
        Check::AtLeast(0.98),
    ));
    Ok(())
}

/// Run 2: the perfect soft resets with and without the higher learning rate.
pub(super) fn perfect_reset(report: &mut Report, view: &View<'_>) {
    let constant = view.runs("perfect_reset", MethodKind::PerfectResetConstantLr);
    let higher = view.runs("perfect_reset", MethodKind::PerfectResetHigherLr);
    if constant.is_empty() || higher.is_empty() {
        return;
    }
    let k = window(constant[0].per_task.len());
    let c = over_seeds(&constant, |r| end_mean(r, true));
    let mut table = Table::new(["arm", &format!("last-{k} accuracy (%)")]);
    table.row([
        "γ = γ* at the boundaries, constant lr".to_string(),
        format!("{:.1}", c.mean),
    ]);
    let h = over_seeds(&higher, |r| end_mean(r, true));
    table.row([
        "γ = γ* at the boundaries, lr × (γ² + (1 − γ²)ρ)".to_string(),
        format!("{:.1}", h.mean),
    ]);
    report.file("perfect_reset.md", table.to_string());
    report.section("Perfect soft resets (Fig. 16)", table.to_string());
    report.claim(Claim::new(
        format!("Perfect soft resets need the higher learning rate: last-{k} accuracy, higher minus constant lr (pts)"),
        "the lr increase matters (Fig. 16)",
        over_seeds(&higher, |r| end_mean(r, true) - c.mean),
        Check::AtLeast(5.0),
    ));
}

/// Run 3: the non-stationarity sweep, as a table.
pub(super) fn sweep(report: &mut Report, view: &View<'_>) {
    let Some(s) = &view.config.sweep else { return };
    let mut table = Table::new(
        std::iter::once("random labels, epochs/task".to_string())
            .chain(s.methods.iter().map(|m| format!("{} (%)", m.name()))),
    );
    let mut worst = f64::INFINITY;
    for &p in &s.fractions {
        for &e in &s.epochs {
            let study = format!("sweep-p{p}-e{e}");
            let mean_of = |m| {
                over_seeds(&view.runs(&study, m), |r| {
                    r.per_task.iter().sum::<f64>() / r.per_task.len().max(1) as f64
                })
                .mean
            };
            let cells: Vec<String> = s
                .methods
                .iter()
                .map(|&m| format!("{:.1}", mean_of(m)))
                .collect();
            if s.methods.contains(&MethodKind::SoftReset)
                && s.methods.contains(&MethodKind::OnlineSgd)
            {
                worst = worst.min(mean_of(MethodKind::SoftReset) - mean_of(MethodKind::OnlineSgd));
            }
            table.row(std::iter::once(format!("{:.0} %, {e}", 100.0 * p)).chain(cells));
        }
    }
    report.file("nonstationarity_sweep.md", table.to_string());
    report.section(
        "Non-stationarity sweep (Fig. 5b/c): mean per-task accuracy over all tasks",
        table.to_string(),
    );
    if worst.is_finite() {
        report.claim(Claim::new(
            "Soft Reset at least matches Online SGD in every sweep cell: smallest difference (pts)",
            "soft resets help at every level (Fig. 5c)",
            Summary::of(&[worst]),
            Check::AtLeast(-1.0),
        ));
    }
}
