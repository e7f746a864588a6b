//! The reproduction end to end at smoke scale, and the shipped configs.

#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

use std::path::PathBuf;

use burn::prelude::*;
use kiln_core::cli::{Reproduction, ReproductionConfig, Run, config_tests};
use kiln_core::train::device_rng_lock;
use kiln_fact_learning::experiment::{self, ExperimentConfig, FactLearning};

fn config_path(scale: &str) -> PathBuf {
    config_tests::shipped(env!("CARGO_MANIFEST_DIR"), "fact-learning", scale)
}

#[test]
fn shipped_configs_parse_and_validate() {
    config_tests::assert_shipped_configs_load::<ExperimentConfig>(
        env!("CARGO_MANIFEST_DIR"),
        "fact-learning",
        &["smoke", "cpu", "full"],
    );
}

fn load_edited(from: &str, to: &str) -> String {
    config_tests::load_edited::<ExperimentConfig>(&config_path("smoke"), from, to)
}

#[test]
fn bad_configs_are_errors_that_say_what_is_wrong() {
    let message = load_edited("seeds:", "sedes: [1], seeds:");
    assert!(
        message.contains("bad.ron") && message.contains("sedes"),
        "{message}"
    );
    let message = load_edited("train_templates: 20", "train_templates: 25");
    assert!(message.contains("train_templates"), "{message}");
    let message = load_edited("alphas: [0.0, 0.8]", "alphas: [0.0, -0.8]");
    assert!(message.contains("alpha"), "{message}");
    let message = load_edited("d_model: 32", "d_model: 30");
    assert!(message.contains("d_model"), "{message}");
}

#[test]
fn the_alpha_zero_run_is_shared_with_the_size_study() {
    let config = ExperimentConfig::load(&config_path("cpu")).unwrap();
    let jobs = experiment::jobs(&config, 0);
    // Three sizes and two power-law runs; α = 0 at N = 512 is the size run, which is also
    // the fine-tuning base.
    assert_eq!(jobs.len(), 5, "{jobs:?}");
    assert_eq!(jobs.iter().filter(|j| j.finetune).count(), 1);
}

#[test]
fn smoke_reproduction_runs_reports_and_resumes() {
    let _rng = device_rng_lock();
    let config = ExperimentConfig::load(&config_path("smoke")).unwrap();
    let mut run = Run::in_memory(Device::default());
    let results = FactLearning::run(&config, &mut run).unwrap();
    assert_eq!(results.runs.len(), experiment::jobs(&config, 0).len());
    assert!((results.baseline - 4.924).abs() < 1e-3);
    let base = results.runs.iter().find(|r| r.job.finetune).unwrap();
    assert_eq!(base.finetune.len(), 2);
    for r in &results.runs {
        assert_eq!(r.curve.last().unwrap().step, r.job.steps);
        assert!(
            r.curve
                .iter()
                .all(|p| p.seen.loss.is_finite() && p.unseen.loss.is_finite())
        );
    }
    // Two runs train at a time, yet a fresh run gives the same numbers.
    let fresh = FactLearning::run(&config, &mut Run::in_memory(Device::default())).unwrap();
    for (a, b) in fresh.runs.iter().zip(&results.runs) {
        assert_eq!(
            (&a.job, &a.curve, &a.finetune),
            (&b.job, &b.curve, &b.finetune)
        );
    }
    // The phases hold every run: a second call trains nothing and returns the same numbers.
    let again = FactLearning::run(&config, &mut run).unwrap();
    assert_eq!(again.runs, results.runs);
    let info = config_tests::smoke_run_info(vec![0]);
    let report = (FactLearning::REPORT)(&config, &results, info).unwrap();
    let markdown = report.to_markdown();
    for claim in [
        "Plateau at the no-knowledge baseline",
        "Exponent b",
        "Imbalance",
        "Hallucination",
        "Replay",
    ] {
        assert!(markdown.contains(claim), "no `{claim}` row");
    }
}
