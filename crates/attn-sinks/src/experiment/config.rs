//! What a reproduction run does, read from `configs/attn-sinks/<scale>.ron`.

use kiln_core::cli::ReproductionConfig;
use kiln_core::{InvalidConfig, ensure_config};
use serde::{Deserialize, Serialize};

use super::pretrained::PretrainedConfig;
use crate::backcopy::BackcopyConfig;
use crate::corpus::Language;
use crate::train::{ModelConfig, TrainingConfig};

/// How trained models are measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// Held-out single-document prompts per measurement.
    pub prompts: usize,
    /// Prompt length `T` of the packing grid, the checks and the perturbations (Gu et al. use
    /// 64). The context sweep is measured at its shortest context instead, the one length every
    /// model of the sweep can read.
    pub length: usize,
    /// Thresholds `ε` of the sink metric; the first is the headline one.
    pub epsilons: Vec<f64>,
    /// Text position of the swapped token in the perturbation experiment.
    pub perturb_position: usize,
    /// Prompts used for the perturbation experiment (at most `prompts`).
    pub perturb_prompts: usize,
}

/// Which experiments run on one language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanguagePlan {
    /// The language.
    pub language: Language,
    /// Context lengths of the sweep (causal, ⟨bos⟩ pinned); empty for no sweep.
    pub contexts: Vec<usize>,
    /// Whether the packing grid runs (at the experiment's `grid_context`).
    pub grid: bool,
    /// Optimizer steps per run, when they differ from `training.steps`.
    pub steps: Option<usize>,
}

/// A whole reproduction, as read from `configs/attn-sinks/<scale>.ron`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// `smoke`, `cpu` or `full`.
    pub scale: String,
    /// Decoder size, shared by every run.
    pub model: ModelConfig,
    /// Optimisation, shared by every run.
    pub training: TrainingConfig,
    /// The synthetic language.
    pub backcopy: BackcopyConfig,
    /// Languages and their experiments.
    pub languages: Vec<LanguagePlan>,
    /// Context length of the packing grid and the perturbation model.
    pub grid_context: usize,
    /// Measurement settings.
    pub eval: EvalConfig,
    /// Seed of data, initialisation and prompts.
    pub seed: u64,
    /// The pretrained analysis on SmolLM2-135M, if wanted (needs `cargo xtask data fetch
    /// smollm2`).
    #[serde(default)]
    pub pretrained: Option<PretrainedConfig>,
}

impl ReproductionConfig for ExperimentConfig {
    /// Checks sizes that would otherwise fail deep inside a run.
    ///
    /// # Errors
    /// A message naming the field at fault.
    fn validate(&self) -> Result<(), InvalidConfig> {
        let e = &self.eval;
        ensure_config!(
            !e.epsilons.is_empty() && e.epsilons.iter().all(|x| (0.0..1.0).contains(x)),
            "eval.epsilons must be one or more thresholds in [0, 1)"
        );
        ensure_config!(
            e.prompts > 0 && e.perturb_prompts > 0 && e.perturb_prompts <= e.prompts,
            "eval.prompts and eval.perturb_prompts must be ≥ 1, the latter ≤ the former"
        );
        ensure_config!(
            e.length >= 4 && e.length <= self.grid_context,
            "eval.length ({}) must be between 4 and grid_context ({})",
            e.length,
            self.grid_context
        );
        ensure_config!(
            e.perturb_position + 2 < e.length,
            "eval.perturb_position ({}) must leave later positions in a prompt of {}",
            e.perturb_position,
            e.length
        );
        let m = &self.model;
        ensure_config!(
            m.n_layers > 0 && m.ffn_hidden > 0,
            "model.n_layers and model.ffn_hidden must be ≥ 1"
        );
        let b = &self.backcopy;
        ensure_config!(
            b.triggers > 0 && b.vocab > b.triggers + 1,
            "backcopy.vocab ({}) must exceed backcopy.triggers ({}) by at least 2, and triggers be ≥ 1",
            b.vocab,
            b.triggers
        );
        ensure_config!(
            (0.0..1.0).contains(&b.trigger_rate) && b.concentration > 0.0 && b.mean_length >= 2.0,
            "backcopy.trigger_rate must be in [0, 1), concentration > 0 and mean_length ≥ 2"
        );
        if let Some(p) = &self.pretrained {
            ensure_config!(
                p.prompts > 0 && p.perturb_prompts > 0 && p.perturb_prompts <= p.prompts,
                "pretrained.prompts and pretrained.perturb_prompts must be ≥ 1, the latter ≤ the former"
            );
        }
        ensure_config!(
            m.n_heads > 0 && m.d_model.is_multiple_of(m.n_heads),
            "model.d_model must be a multiple of model.n_heads"
        );
        ensure_config!(
            !self.languages.is_empty(),
            "languages is empty: nothing to run"
        );
        for plan in &self.languages {
            for &t in plan.contexts.iter().chain([&self.grid_context]) {
                ensure_config!(
                    t >= 4 && self.training.tokens_per_step.is_multiple_of(t),
                    "context {t} must be ≥ 4 and divide training.tokens_per_step ({})",
                    self.training.tokens_per_step
                );
            }
        }
        ensure_config!(
            self.training.steps > 0 && self.training.warmup <= self.training.steps,
            "training.steps must be ≥ 1 and ≥ training.warmup"
        );
        Ok(())
    }

    fn scale(&self) -> &str {
        &self.scale
    }

    fn seeds(&self, offset: u64) -> Vec<u64> {
        vec![self.seed + offset]
    }
}
