//! The reproduction end to end at smoke scale, and the shipped configs.

#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

use std::path::PathBuf;

use burn::prelude::*;
use kiln_core::cli::{Reproduction, ReproductionConfig, Run, config_tests};
use kiln_core::report::RunInfo;
use kiln_core::train::device_rng_lock;
use kiln_ou_reset::experiment::{self, ExperimentConfig, MethodKind, OuReset};

fn config_path(scale: &str) -> PathBuf {
    config_tests::shipped(env!("CARGO_MANIFEST_DIR"), "ou-reset", scale)
}

#[test]
fn shipped_configs_parse_and_validate() {
    config_tests::assert_shipped_configs_load::<ExperimentConfig>(
        env!("CARGO_MANIFEST_DIR"),
        "ou-reset",
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
    let message = load_edited("belief_rho: 3.0", "belief_rho: 0.5");
    assert!(message.contains("belief_rho"), "{message}");
    let message = load_edited("fractions: [0.4]", "fractions: [1.4]");
    assert!(message.contains("fractions"), "{message}");
    let message = load_edited("pool: 2", "pool: 30");
    assert!(message.contains("pool"), "{message}");
    let message = load_edited("workers: 2", "workers: 0");
    assert!(message.contains("workers"), "{message}");
}

#[test]
fn the_cpu_plan_runs_every_method_on_the_memorisation_stream() {
    let config = ExperimentConfig::load(&config_path("cpu")).unwrap();
    let jobs = experiment::jobs(&config, 0);
    let memorisation: Vec<_> = jobs.iter().filter(|j| j.study == "memorisation").collect();
    let seeds = config.seeds.len();
    assert_eq!(memorisation.len(), 7 * seeds);
    // Three fractions × two lengths × three methods, per seed.
    assert_eq!(
        jobs.iter().filter(|j| j.study.starts_with("sweep")).count(),
        18 * seeds
    );
    let names: std::collections::HashSet<_> = jobs.iter().map(|j| j.name()).collect();
    assert_eq!(names.len(), jobs.len(), "phase names are unique");
}

#[test]
fn smoke_reproduction_runs_reports_and_is_deterministic() {
    let _rng = device_rng_lock();
    let config = ExperimentConfig::load(&config_path("smoke")).unwrap();
    let results = OuReset::run(&config, &mut Run::in_memory(Device::default())).unwrap();
    assert_eq!(results.streams.len(), experiment::jobs(&config, 0).len());
    for run in &results.streams {
        assert_eq!(run.per_task.len(), run.job.stream.tasks);
        assert!(run.per_task.iter().all(|a| (0.0..=100.0).contains(a)));
        let drifts = matches!(
            run.job.method,
            MethodKind::SoftReset | MethodKind::SoftResetProximal | MethodKind::BayesianSoftReset
        );
        if drifts {
            assert_eq!(run.gammas.len(), run.steps_per_task * run.job.stream.tasks);
        }
    }
    assert_eq!(results.rl.len(), 3);
    assert_eq!(results.cost.len(), 7);
    // Two runs train at a time, yet a fresh run gives the same numbers.
    let again = OuReset::run(&config, &mut Run::in_memory(Device::default())).unwrap();
    for (a, b) in again.streams.iter().zip(&results.streams) {
        assert_eq!(
            (&a.job, &a.per_task, &a.gammas),
            (&b.job, &b.per_task, &b.gammas)
        );
    }
    assert_eq!(again.toy, results.toy);
    let info = RunInfo {
        finished_utc: "now".into(),
        wall_seconds: 1.0,
        ..config_tests::smoke_run_info(vec![0])
    };
    let report = (OuReset::REPORT)(&config, &results, info).unwrap();
    let markdown = report.to_markdown();
    for needle in [
        "Online SGD loses plasticity",
        "γ dips at task switches",
        "Perfect soft resets",
        "Off-policy RL",
        "Table 1",
    ] {
        assert!(markdown.contains(needle), "the report lacks `{needle}`");
    }
}
