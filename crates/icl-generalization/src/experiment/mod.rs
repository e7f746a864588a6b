//! The reproduction behind `cargo xtask reproduce icl-generalization`, as library functions.
//!
//! 1. [`pretrain`]: a small decoder learns, from scratch on the world stream, to reason over
//!    what its context states, until the gate passes (in-context reversal and syllogism
//!    accuracy on fresh study worlds) or the step budget is spent. A failed gate ends the run
//!    with "pretraining insufficient" in the report, and no study.
//! 2. [`conditions`]: on each study world, every condition from clones of that one model.
//! 3. [`report`]: the paper's orderings as claims, `results.csv`, the Fig. 3 and Fig. 4
//!    analogues, `augment_quality.md` and `pretrain_gate.md`.

pub mod conditions;
pub mod config;
pub mod pretrain;
pub mod report;

use kiln_core::cli::{BuildReport, ExperimentError, Reproduction, ReproductionConfig as _, Run};
use kiln_core::train::{derive_seed, materialize, seed_everything, trainable_params};
use serde::{Deserialize, Serialize};

pub use config::ExperimentConfig;

use crate::corpus::WorldSampler;
use crate::study::StudySet;
use conditions::{SeedRun, Setting};
use pretrain::GatePoint;

/// Pre-training, without the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PretrainSummary {
    /// The gate curve.
    pub curve: Vec<GatePoint>,
    /// Steps taken.
    pub steps: usize,
    /// Documents trained on.
    pub documents: usize,
    /// Tokens trained on.
    pub tokens: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Whether the gate passed.
    pub passed: bool,
}

/// Everything a run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// Tokens in the vocabulary.
    pub vocab_size: usize,
    /// Trainable parameters of the decoder.
    pub parameters: usize,
    /// Pre-training.
    pub pretrain: PretrainSummary,
    /// One entry per study world (none if the gate failed).
    pub seeds: Vec<SeedRun>,
}

/// The whole reproduction, as `cargo xtask reproduce icl-generalization` runs it.
pub struct IclGeneralization;

impl Reproduction for IclGeneralization {
    const PAPER: &'static str = "icl-generalization";
    const ABOUT: &'static str = "Reproduce in-context learning against fine-tuning on nonsense worlds: pre-train a small decoder until it reasons in context, then compare no exposure, ICL, fine-tuning, sentence splitting and augmented fine-tuning on reversals, syllogisms and a category hierarchy.";
    type Config = ExperimentConfig;
    type Results = Results;
    const REPORT: BuildReport<ExperimentConfig, Results> = report::build;

    fn run(config: &ExperimentConfig, run: &mut Run) -> Result<Results, ExperimentError> {
        let vocab = config.world.vocab()?;
        let decoder_config = config.model.config(vocab.len(), config.max_len, false);
        let device = run.device.clone().autodiff();
        let seeds = config.seeds(run.seed);
        let gate_sets = pretrain::gate_worlds(config, &vocab)?;
        let mut held_back = Vec::new();
        for &seed in &seeds {
            held_back.push(StudySet::generate(
                &config.world,
                &config.study,
                &vocab,
                derive_seed(seed, "study-world"),
            )?);
        }
        let pretrained = run.phases.run("pretrain", || {
            seed_everything(&device, derive_seed(run.seed, "decoder-init"));
            let model = decoder_config.init(&device);
            materialize(&model);
            let worlds = held_back.iter().chain(&gate_sets).flat_map(|s| &s.worlds);
            let sampler = WorldSampler::new(
                config.world.clone(),
                derive_seed(run.seed, "pretraining-stream"),
            )?
            .excluding(worlds);
            pretrain::pretrain(config, &decoder_config, model, sampler, &gate_sets)
                .map_err(|e| ExperimentError::failed("icl-generalization", e.to_string()))
        })?;
        let decoder = pretrained.decoder(&decoder_config, &device);
        let summary = PretrainSummary {
            curve: pretrained.curve.clone(),
            steps: pretrained.steps,
            documents: pretrained.documents,
            tokens: pretrained.tokens,
            seconds: pretrained.seconds,
            passed: pretrained.passed(),
        };
        let mut results = Results {
            vocab_size: vocab.len(),
            parameters: trainable_params(&decoder),
            pretrain: summary,
            seeds: Vec::new(),
        };
        if !results.pretrain.passed {
            eprintln!(
                "icl-generalization: pretraining insufficient: the gate did not pass, so the study is not run"
            );
            return Ok(results);
        }
        let setting = Setting {
            config,
            vocab: &vocab,
            pretrained: &decoder,
            decoder_config: &decoder_config,
        };
        for seed in seeds {
            results
                .seeds
                .push(conditions::run_seed(&setting, seed, &mut run.phases)?);
        }
        Ok(results)
    }
}
