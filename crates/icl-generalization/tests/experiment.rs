//! The reproduction end to end at smoke scale, and the shipped configs.

#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

use std::path::PathBuf;

use burn::prelude::*;
use kiln_core::cli::{Reproduction, ReproductionConfig, Run, config_tests};
use kiln_core::report::RunInfo;
use kiln_core::train::device_rng_lock;
use kiln_icl_generalization::experiment::{ExperimentConfig, IclGeneralization};

fn config_path(scale: &str) -> PathBuf {
    config_tests::shipped(env!("CARGO_MANIFEST_DIR"), "icl-generalization", scale)
}

#[test]
fn shipped_configs_parse_and_validate() {
    config_tests::assert_shipped_configs_load::<ExperimentConfig>(
        env!("CARGO_MANIFEST_DIR"),
        "icl-generalization",
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
    let message = load_edited("comparisons: (2, 4)", "comparisons: (4, 2)");
    assert!(message.contains("comparisons"), "{message}");
    let message = load_edited("comparisons: 6,", "comparisons: 7,");
    assert!(message.contains("comparisons"), "{message}");
    let message = load_edited("d_model: 32", "d_model: 31");
    assert!(message.contains("d_model"), "{message}");
    let message = load_edited("FtAug(Local)", "FtAug(Lokal)");
    assert!(message.contains("Lokal"), "{message}");
    let message = load_edited("n_entities: 60", "n_entities: 20");
    assert!(message.contains("n_entities"), "{message}");
    let message = load_edited("reversal: 0.0", "reversal: 1.5");
    assert!(message.contains("gate.reversal"), "{message}");
}

fn info() -> RunInfo {
    config_tests::smoke_run_info(vec![0])
}

#[test]
fn smoke_reproduction_runs_every_condition_reports_and_resumes() {
    let _rng = device_rng_lock();
    let config = ExperimentConfig::load(&config_path("smoke")).unwrap();
    let mut run = Run::in_memory(Device::default());
    let results = IclGeneralization::run(&config, &mut run).unwrap();
    assert!(results.pretrain.passed, "the smoke gate is 0");
    assert_eq!(results.pretrain.steps, config.pretrain.steps);
    assert_eq!(results.seeds.len(), 1);
    let seed = &results.seeds[0];
    let names: Vec<_> = seed.conditions.iter().map(|c| c.condition).collect();
    assert_eq!(
        names, config.conditions,
        "one run per condition, in the config's order"
    );
    for c in &seed.conditions {
        assert!(!c.items.is_empty());
        assert_eq!(c.finetune.is_some(), c.condition.fine_tunes());
    }
    assert_eq!(seed.augment_quality.len(), 3);
    // The fine-tuning runs go two at a time, yet a fresh run gives the same numbers.
    let fresh = IclGeneralization::run(&config, &mut Run::in_memory(Device::default())).unwrap();
    let outcomes = |r: &kiln_icl_generalization::experiment::Results| {
        let curve: Vec<_> = r.pretrain.curve.clone();
        let items: Vec<_> = r
            .seeds
            .iter()
            .flat_map(|s| &s.conditions)
            .map(|c| (c.items.clone(), c.finetune.clone()))
            .collect();
        (curve, items)
    };
    assert_eq!(outcomes(&fresh), outcomes(&results));
    // Every phase is saved: running again trains nothing and returns the same, timings too.
    assert_eq!(IclGeneralization::run(&config, &mut run).unwrap(), results);
    let report = (IclGeneralization::REPORT)(&config, &results, info()).unwrap();
    let markdown = report.to_markdown();
    for row in [
        "No exposure is at chance",
        "Reversals: ICL − FT",
        "Reversal curse",
        "oracle-augmented",
        "locally augmented",
        "Syllogisms: ICL − FT",
    ] {
        assert!(markdown.contains(row), "no `{row}` row");
    }
    let out = tempfile::tempdir().unwrap();
    report.write(out.path()).unwrap();
    for file in [
        "results.csv",
        "augment_quality.md",
        "pretrain_gate.md",
        "fig3_simple.svg",
        "fig4_semantic.svg",
        "report.md",
    ] {
        assert!(out.path().join(file).is_file(), "no {file}");
    }
}

#[test]
fn a_failed_gate_stops_before_the_study_and_says_so() {
    let _rng = device_rng_lock();
    let mut config = ExperimentConfig::load(&config_path("smoke")).unwrap();
    config.gate.reversal = 1.0;
    config.gate.syllogism = 1.0;
    let results = IclGeneralization::run(&config, &mut Run::in_memory(Device::default())).unwrap();
    assert!(!results.pretrain.passed && results.seeds.is_empty());
    let markdown = (IclGeneralization::REPORT)(&config, &results, info())
        .unwrap()
        .to_markdown();
    assert!(markdown.contains("Pretraining insufficient"));
}

#[test]
fn a_saved_pretrained_decoder_is_rebuilt_exactly() {
    use kiln_core::lm::LmEngine;
    use kiln_core::train::{flat, seed_everything};
    use kiln_icl_generalization::experiment::pretrain::Pretrained;
    let _rng = device_rng_lock();
    let config = ExperimentConfig::load(&config_path("smoke")).unwrap();
    let decoder_config = config.model.config(100, 64, false);
    let device = Device::default();
    seed_everything(&device, 9);
    let model = decoder_config.init(&device);
    let saved = Pretrained {
        curve: Vec::new(),
        steps: 0,
        documents: 0,
        tokens: 0,
        seconds: 0.0,
        weights: flat::flat_params(&model)
            .into_iter()
            .flat_map(|p| kiln_core::host_values(p.value))
            .collect(),
    };
    // A fresh initialisation differs; the rebuilt one must not.
    seed_everything(&device, 10);
    let rebuilt = saved.decoder(&decoder_config, &device);
    let score = |m| {
        LmEngine::from_decoder(m, &decoder_config)
            .score(&[1, 5, 9], &[vec![7, 3, 2]])
            .unwrap()
    };
    assert_eq!(score(&rebuilt), score(&model));
    assert_ne!(score(&decoder_config.init(&device)), score(&model));
}
