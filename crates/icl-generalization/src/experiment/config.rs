//! What a reproduction run does: read from `configs/icl-generalization/<scale>.ron`.

use kiln_core::InvalidConfig;
use kiln_core::cli::ReproductionConfig;
use kiln_core::nn::DecoderShape;
use serde::{Deserialize, Serialize};

use crate::augment::AugConfig;
use crate::corpus::WorldConfig;
use crate::finetune::{Condition, FinetuneConfig};
use crate::study::StudyConfig;

/// Pre-training the decoder from scratch on the world stream.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PretrainConfig {
    /// Most steps.
    pub steps: usize,
    /// Documents per step.
    pub batch_size: usize,
    /// Peak AdamW learning rate.
    pub lr: f64,
    /// Final rate as a fraction of the peak (cosine decay).
    pub min_lr_fraction: f64,
    /// Linear warm-up steps.
    pub warmup: usize,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Steps between gate evaluations.
    pub eval_every: usize,
    /// Stop pre-training early once the gate passes.
    pub stop_at_gate: bool,
}

/// The pre-training gate: in-context accuracy on fresh random study worlds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    /// Fresh study worlds evaluated.
    pub worlds: usize,
    /// Least in-context reversal accuracy.
    pub reversal: f64,
    /// Least in-context syllogism accuracy.
    pub syllogism: f64,
}

/// The whole reproduction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// `smoke`, `cpu` or `full`.
    pub scale: String,
    /// Study-world seeds (the conditions are repeated on each).
    pub seeds: Vec<u64>,
    /// The pre-training stream and vocabulary.
    pub world: WorldConfig,
    /// The study world's sizes.
    pub study: StudyConfig,
    /// The decoder.
    pub model: DecoderShape,
    /// Longest sequence the decoder is built for.
    pub max_len: usize,
    /// Pre-training.
    pub pretrain: PretrainConfig,
    /// The gate.
    pub gate: GateConfig,
    /// Fine-tuning, the same for every condition.
    pub finetune: FinetuneConfig,
    /// Augmentation limits.
    pub augment: AugConfig,
    /// The conditions run on each study world.
    pub conditions: Vec<Condition>,
    /// Fine-tuning runs trained at a time, one per thread.
    pub workers: usize,
}

impl ReproductionConfig for ExperimentConfig {
    fn validate(&self) -> Result<(), InvalidConfig> {
        self.world.validate()?;
        self.finetune.validate()?;
        self.study.validate()?;
        self.study.fits(&self.world)?;
        let positive = |name: &str, v: usize| {
            kiln_core::ensure_config!(v > 0, "`{name}` must be at least 1");
            Ok(())
        };
        positive("pretrain.steps", self.pretrain.steps)?;
        positive("pretrain.batch_size", self.pretrain.batch_size)?;
        positive("pretrain.eval_every", self.pretrain.eval_every)?;
        positive("gate.worlds", self.gate.worlds)?;
        positive("workers", self.workers)?;
        positive("augment.sentence_tokens", self.augment.sentence_tokens)?;
        kiln_core::ensure_config!(
            !self.seeds.is_empty(),
            "`seeds` must name at least one study world"
        );
        kiln_core::ensure_config!(
            self.pretrain.lr > 0.0 && (0.0..=1.0).contains(&self.pretrain.min_lr_fraction),
            "`pretrain.lr` must be positive and `pretrain.min_lr_fraction` in [0, 1]"
        );
        for (name, g) in [
            ("gate.reversal", self.gate.reversal),
            ("gate.syllogism", self.gate.syllogism),
        ] {
            kiln_core::ensure_config!((0.0..=1.0).contains(&g), "`{name}` = {g} is not in [0, 1]");
        }
        kiln_core::ensure_config!(
            self.model.n_heads > 0 && self.model.d_model.is_multiple_of(self.model.n_heads),
            "`model.d_model` ({}) must divide into `model.n_heads` ({})",
            self.model.d_model,
            self.model.n_heads
        );
        kiln_core::ensure_config!(
            self.max_len >= 64,
            "`max_len` = {} cannot hold a study prompt; use at least 256",
            self.max_len
        );
        Ok(())
    }

    fn scale(&self) -> &str {
        &self.scale
    }

    fn seeds(&self, offset: u64) -> Vec<u64> {
        self.seeds.iter().map(|s| s + offset).collect()
    }
}
