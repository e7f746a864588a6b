//! The reproduction end to end at smoke scale: every artifact of the report is written, and an
//! interrupted run resumes to exactly the results of an uninterrupted one.

#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

use kiln_core::cli::ReproductionConfig;
use std::path::PathBuf;

use burn::prelude::*;
use kiln_attn_sinks::experiment::{AttnSinks, ExperimentConfig, LanguageResults};
use kiln_core::cli::{Reproduction, Run, config_tests};
use kiln_core::report::RunInfo;
use kiln_core::train::{PhaseStore, device_rng_lock};

/// Every language of `config`, with `store` as the phase store.
fn run_languages(config: &ExperimentConfig, store: PhaseStore) -> Vec<LanguageResults> {
    let mut run = Run::in_memory(Device::default());
    run.phases = store;
    AttnSinks::run(config, &mut run).unwrap().languages
}

fn smoke_config() -> ExperimentConfig {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../configs/attn-sinks/smoke.ron");
    ExperimentConfig::load(&path).unwrap()
}

fn run_info() -> RunInfo {
    config_tests::smoke_run_info(vec![0])
}

/// Results without wall-clock times, which differ between runs.
fn timeless(mut results: Vec<LanguageResults>) -> Vec<LanguageResults> {
    for lang in &mut results {
        for run in &mut lang.runs {
            run.seconds = 0.0;
        }
    }
    results
}

#[test]
fn smoke_reproduction_writes_every_artifact() {
    let _rng = device_rng_lock();
    let config = smoke_config();
    let mut run = Run::in_memory(Device::default());
    let results = AttnSinks::run(&config, &mut run).unwrap();
    assert_eq!(
        results.languages[0].runs.len(),
        5,
        "2 sweep runs + 3 more grid runs"
    );
    let report = (AttnSinks::REPORT)(&config, &results, run_info()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    report.write(dir.path()).unwrap();
    for file in [
        "report.md",
        "metrics.json",
        "sink_vs_context.csv",
        "sink_vs_context.svg",
        "packing_table.md",
        "perturbation.svg",
        "heads.svg",
    ] {
        assert!(dir.path().join(file).is_file(), "missing {file}");
    }
    let table = std::fs::read_to_string(dir.path().join("packing_table.md")).unwrap();
    // The paper's seven Table 2 rows plus the untrained model, each with the paper's numbers.
    let rows: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("| causal") || l.starts_with("| intra-doc"))
        .collect();
    assert_eq!(rows.len(), 7, "{table}");
    assert!(rows[3].contains("| 0.05 | 7.56 |"), "{}", rows[3]);
    let csv = std::fs::read_to_string(dir.path().join("sink_vs_context.csv")).unwrap();
    assert_eq!(
        csv.lines().count(),
        1 + 2 * 2,
        "2 contexts × 2 thresholds\n{csv}"
    );
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    for claim in [
        "back-copy head",
        "sink rate with ⟨bos⟩",
        "loss rise from dropping ⟨bos⟩",
        "minus untrained",
        "perturbation spread",
        "Spearman",
    ] {
        assert!(
            md.contains(claim),
            "claim `{claim}` missing from the report"
        );
    }
}

#[test]
fn an_interrupted_run_resumes_to_the_same_results() {
    let _rng = device_rng_lock();
    let config = smoke_config();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phases.json");
    let (store, resumed) = PhaseStore::open(path.clone(), "smoke".into()).unwrap();
    assert_eq!(resumed, 0);
    let whole = timeless(run_languages(&config, store));

    // "Interrupt" the run: forget the intra-document models, as if it stopped before them.
    let mut saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let done = saved["done"].as_object_mut().unwrap();
    let total = done.len();
    done.retain(|phase, _| !phase.contains("intra-doc"));
    assert_eq!(done.len(), total - 2);
    std::fs::write(&path, serde_json::to_vec(&saved).unwrap()).unwrap();

    let (store, resumed) = PhaseStore::open(path, "smoke".into()).unwrap();
    assert_eq!(resumed, total - 2);
    let resumed_results = timeless(run_languages(&config, store));
    assert_eq!(resumed_results, whole);
}

#[test]
fn configs_with_unknown_fields_or_bad_sizes_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let smoke = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../configs/attn-sinks/smoke.ron"),
    )
    .unwrap();
    let write = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let unknown = write(
        "unknown.ron",
        smoke.replace("seed: 0,", "seed: 0, sede: 1,"),
    );
    let message = format!("{:#}", ExperimentConfig::load(&unknown).unwrap_err());
    assert!(message.contains("sede"), "{message}");
    let odd = write(
        "odd.ron",
        smoke.replace("contexts: [16, 32]", "contexts: [16, 24]"),
    );
    let message = format!("{:#}", ExperimentConfig::load(&odd).unwrap_err());
    assert!(
        message.contains("context 24") && message.contains("tokens_per_step"),
        "{message}"
    );
    let long = write("long.ron", smoke.replace("length: 16,", "length: 64,"));
    let message = format!("{:#}", ExperimentConfig::load(&long).unwrap_err());
    assert!(message.contains("eval.length"), "{message}");
    // A language the generator cannot draw (it would assert) is a config error instead.
    let tiny = write(
        "tiny.ron",
        smoke.replace("vocab: 16, triggers: 2", "vocab: 3, triggers: 2"),
    );
    let message = format!("{:#}", ExperimentConfig::load(&tiny).unwrap_err());
    assert!(message.contains("backcopy.vocab"), "{message}");
    let none = write(
        "none.ron",
        smoke.replace(
            "seed: 0,",
            "seed: 0, pretrained: Some((prompts: 0, perturb_prompts: 0)),",
        ),
    );
    let message = format!("{:#}", ExperimentConfig::load(&none).unwrap_err());
    assert!(message.contains("pretrained.prompts"), "{message}");
}
