//! The report of a reproduction run: the paper's claims beside our numbers, tables, plots.

use kiln_core::report::{Check, Claim, LinePlot, Report, ReportError, RunInfo, Series, Table};
use kiln_core::train::Summary;

use super::Results;
use super::config::ExperimentConfig;
use super::cost::{MemoryResult, StepTiming, TIMED_STEPS};
use super::table1::DatasetResult;
use crate::config::{BlockPreset, Variant};

/// The report's title: the paper's.
const TITLE: &str =
    "NoProp: Training Neural Networks without Back-propagation or Forward-propagation";

/// Builds the report of `results`.
///
/// # Errors
/// If a metric cannot be serialised.
pub fn build(
    config: &ExperimentConfig,
    results: &Results,
    info: RunInfo,
) -> Result<Report, ReportError> {
    let mut report = Report::new(TITLE, info);
    table1_claims(&mut report, config, &results.datasets[0]);
    if let Some(acc) = results.eta_zero {
        report.claim(Claim::new(
            format!(
                "η = 0 ablation: NoProp-DT test accuracy, {} (%)",
                results.datasets[0].dataset
            ),
            "near chance (10%): without the denoising loss the blocks learn nothing",
            Summary::of(&[acc]),
            Check::AtMost(20.0),
        ));
    }
    if let Some(m) = &results.memory {
        report.claim(Claim::new(
            "Peak memory of a training step, NoProp-DT / backprop",
            "0.49 / 0.87 GB = 0.56 (MNIST, GPU)",
            Summary::of(&[m.noprop_bytes as f64 / m.backprop_bytes as f64]),
            Check::AtMost(1.0),
        ));
    }
    continuous_claims(&mut report, config, results);
    for second in &results.datasets[1..] {
        report.claim(Claim::new(
            format!("Backprop minus NoProp-DT, {} (points)", second.dataset),
            "0.67 (CIFAR-10: 79.92 vs 79.25)",
            Summary::of(&second.gaps()),
            Check::NotComparable(format!("{} stands in offline for CIFAR-10", second.dataset)),
        ));
    }
    for r in &results.datasets {
        dataset_part(&mut report, config, r)?;
    }
    if let Some(m) = &results.memory {
        report.section("Memory (direction of Table 3)", memory_text(config, m));
        report.metric("memory", m)?;
    }
    let timing = timing_text(config, &results.timing, &report.run.backend);
    report.section("Time per training step", timing);
    report.metric("step_timing", results.timing)?;
    if let Some(acc) = results.eta_zero {
        report.metric("eta_zero_accuracy", acc)?;
    }
    report.metric("continuous_variants", &results.continuous)?;
    report.section("Settings", settings_text(config));
    Ok(report)
}

/// Table 1's three claims on the main dataset: NoProp-DT, backprop, and their gap.
fn table1_claims(report: &mut Report, config: &ExperimentConfig, main: &DatasetResult) {
    let c = &config.noprop;
    let scale_note = format!(
        "{} training images, {} epochs, {:?} block",
        config.train_size.map_or("all".into(), |n| n.to_string()),
        c.epochs,
        c.block
    );
    let is_paper_setting =
        config.train_size.is_none() && c.epochs >= 100 && c.block == BlockPreset::Paper;
    let vs_paper = |paper: f64, se: f64| {
        if is_paper_setting && main.dataset == "MNIST" {
            Check::Within {
                paper,
                tolerance: 2.0 * se,
            }
        } else {
            Check::NotComparable(format!("paper: full data, 100 epochs; ours: {scale_note}"))
        }
    };
    report.claim(Claim::new(
        format!(
            "NoProp-DT ({:?}) test accuracy, {} (%)",
            c.embedding, main.dataset
        ),
        "99.47 ± 0.05 (one-hot, MNIST)",
        Summary::of(&main.noprop_runs),
        vs_paper(99.47, 0.05),
    ));
    report.claim(Claim::new(
        format!("Backprop, same blocks, test accuracy, {} (%)", main.dataset),
        "99.46 ± 0.06 (one-hot, MNIST)",
        Summary::of(&main.backprop_test),
        vs_paper(99.46, 0.06),
    ));
    report.claim(Claim::new(
        format!(
            "Backprop minus NoProp-DT, same budget, {} (points)",
            main.dataset
        ),
        "−0.01 (NoProp matches backprop)",
        Summary::of(&main.gaps()),
        // "Matches": the two land within 1.5 points of each other, either way round.
        Check::Within {
            paper: 0.0,
            tolerance: 1.5,
        },
    ));
}

/// NoProp-CT and -FM beside Table 1's numbers (never comparable at our budget).
fn continuous_claims(report: &mut Report, config: &ExperimentConfig, results: &Results) {
    let c = &config.noprop;
    for r in &results.continuous {
        let paper = match r.variant {
            Variant::Ct => "97.84 ± 0.71 (one-hot, MNIST)",
            _ => "99.21 ± 0.09 (one-hot, MNIST)",
        };
        report.claim(Claim::new(
            format!(
                "NoProp-{:?} ({:?}) test accuracy, {} (%)",
                r.variant, c.embedding, results.datasets[0].dataset
            )
            .replace("Ct", "CT")
            .replace("Fm", "FM"),
            paper,
            Summary::of(&[r.test]),
            Check::NotComparable(format!(
                "paper: 100 epochs, 1000 steps; ours: {} epochs, {} steps, {} test images",
                r.epochs, r.steps, r.test_images
            )),
        ));
    }
}

/// One dataset's accuracy table, convergence, learning curves and read-out along `t`.
fn dataset_part(
    report: &mut Report,
    config: &ExperimentConfig,
    r: &DatasetResult,
) -> Result<(), ReportError> {
    let c = &config.noprop;
    report.section(
        format!("Accuracy on {}", r.dataset),
        accuracy_table(r, config),
    );
    report.section(format!("Convergence on {}", r.dataset), convergence_text(r));
    let epochs: Vec<f64> = (1..=c.epochs).map(|e| e as f64).collect();
    report.plot(
        format!("learning_curves_{}", slug(&r.dataset)),
        LinePlot::new(
            format!(
                "Test accuracy per epoch, {} (mean ± std over seeds)",
                r.dataset
            ),
            "epoch (NoProp-DT: one pass per block)",
            "test accuracy (%)",
        )
        .with(Series::from_runs("NoProp-DT", &epochs, &r.noprop_curve))
        .with(Series::from_runs(
            "backprop (same blocks)",
            &epochs,
            &r.backprop_curve,
        )),
    );
    let ts: Vec<f64> = (1..=c.t_blocks).map(|t| t as f64).collect();
    report.plot(
        format!("readout_along_t_{}", slug(&r.dataset)),
        LinePlot::new(
            format!("Read-out accuracy of z_t along the chain, {}", r.dataset),
            "t (denoising step)",
            "accuracy of argmax p(y | z_t) (%)",
        )
        .with(Series::from_runs("NoProp-DT", &ts, &r.readout_along_t)),
    );
    report.metric(format!("results_{}", slug(&r.dataset)), r)
}

fn memory_text(config: &ExperimentConfig, m: &MemoryResult) -> String {
    let table = Table::new(["step", "peak (MiB)"])
        .with_row([
            "NoProp-DT (one block + head)".to_string(),
            format!("{:.1}", m.noprop_bytes as f64 / 1048576.0),
        ])
        .with_row([
            format!("backprop (all {} blocks)", config.noprop.t_blocks),
            format!("{:.1}", m.backprop_bytes as f64 / 1048576.0),
        ]);
    format!(
        "Peak heap memory allocated during one training step, batch {}, measured by a counting \
         allocator on the CPU backend:\n\n{table}\nThe paper's Table 3 reports GPU memory of whole \
         training runs (0.49 vs 0.87 GB on MNIST); we compare the direction.",
        m.batch_size
    )
}

fn timing_text(config: &ExperimentConfig, timing: &StepTiming, backend: &str) -> String {
    let table = Table::new(["step", "ms"])
        .with_row([
            "NoProp-DT (one block + head)".to_string(),
            format!("{:.1}", timing.noprop_ms),
        ])
        .with_row([
            format!("backprop (all {} blocks)", config.noprop.t_blocks),
            format!("{:.1}", timing.backprop_ms),
        ]);
    format!(
        "Median of {TIMED_STEPS} steps after a warm-up step, batch {}, on the {backend} \
         backend:\n\n{table}",
        timing.batch_size
    )
}

fn accuracy_table(r: &DatasetResult, config: &ExperimentConfig) -> String {
    let s = |v: &[f64]| format!("{:.2}", Summary::of(v));
    let secs: Vec<f64> = r.train_seconds.iter().map(|p| p.0).collect();
    let secs_bp: Vec<f64> = r.train_seconds.iter().map(|p| p.1).collect();
    let along: Vec<String> = Summary::per_step(&r.readout_along_t)
        .iter()
        .map(|x| format!("{:.1}", x.mean))
        .collect();
    let table = Table::new([
        "method",
        "test acc. (%)",
        "train acc. (%)",
        "training time (s)",
    ])
    .with_row([
        format!(
            "NoProp-DT ({} inference runs × {} seeds)",
            config.inference_runs,
            r.noprop_test.len()
        ),
        s(&r.noprop_runs),
        s(&r.noprop_train),
        format!("{:.0}", Summary::of(&secs).mean),
    ])
    .with_row([
        "NoProp-DT, no inference noise".to_string(),
        s(&r.noprop_deterministic),
    ])
    .with_row([
        "backprop, same blocks and budget".to_string(),
        s(&r.backprop_test),
        String::new(),
        format!("{:.0}", Summary::of(&secs_bp).mean),
    ]);
    format!(
        "{table}\nRead-out accuracy of z_t, t = 1..{}: {}.",
        along.len(),
        along.join(", ")
    )
}

/// Whether each method was still improving when training stopped, read off the curves.
fn convergence_text(r: &DatasetResult) -> String {
    let describe = |name: &str, curves: &[Vec<f64>]| {
        let mean = Summary::per_step(curves);
        match mean.as_slice() {
            [.., before, last] => {
                let gain = last.mean - before.mean;
                let verdict = if gain > 1.0 {
                    "still improving when training stopped: more epochs would raise it"
                } else {
                    "levelling off"
                };
                format!(
                    "- {name}: {:.1}% → {:.1}% over the last epoch ({gain:+.1} points), {verdict}.",
                    before.mean, last.mean
                )
            }
            _ => format!("- {name}: one epoch only, no trend to read."),
        }
    };
    format!(
        "{}\n{}\n\nAccuracies on the learning-curve test images after each epoch.",
        describe("NoProp-DT", &r.noprop_curve),
        describe("backprop", &r.backprop_curve)
    )
}

fn settings_text(config: &ExperimentConfig) -> String {
    let c = &config.noprop;
    format!(
        "NoProp-DT with T = {}, {:?} embeddings, η = {}, {:?} schedule, {:?} block; AdamW lr {} wd {}; \
         batch {}; {} epochs (each epoch trains every block for one pass, Algorithm 1); the baseline trains \
         the same blocks end to end for the same number of epochs. Training images: {}; test images: {}. \
         Learning curves, CT and FM use {} of the test images. Inference noise: {}. The paper's Table 1 uses the full data, the Fig. 5 block and 100 epochs; \
         see docs/noprop.md for how our scale differs.",
        c.t_blocks,
        c.embedding,
        c.eta,
        c.schedule,
        c.block,
        c.optimizer.lr,
        c.optimizer.weight_decay,
        c.batch_size,
        c.epochs,
        config.train_size.map_or("all".into(), |n| n.to_string()),
        config.test_size.map_or("all".into(), |n| n.to_string()),
        config
            .curve_test_size
            .map_or("all".into(), |n| n.to_string()),
        c.inference_noise
    )
}

fn slug(name: &str) -> String {
    name.to_ascii_lowercase()
        .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
}
