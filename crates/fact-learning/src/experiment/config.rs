//! What a reproduction run trains: read from `configs/fact-learning/<scale>.ron`.

use kiln_core::InvalidConfig;
use kiln_core::cli::ReproductionConfig;
use kiln_core::nn::DecoderShape;
use serde::{Deserialize, Serialize};

use crate::world::BioConfig;

/// The longest sequence the decoder is built for (a biography is about 70 tokens).
pub const MAX_LEN: usize = 256;

/// How every pre-training run is optimised and measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Sequences (biographies) per step.
    pub batch_size: usize,
    /// Peak learning rate of the cosine schedule (no warm-up, as in the paper).
    pub lr: f64,
    /// The schedule's final rate as a fraction of `lr`.
    pub min_lr_fraction: f64,
    /// AdamW weight decay (β = 0.9, 0.95).
    pub weight_decay: f64,
    /// Steps between evaluations.
    pub log_every: usize,
    /// Sequences in each fixed evaluation set (seen people on held-out templates, and unseen
    /// people).
    pub eval_size: usize,
}

/// One pre-training run of the plateau-versus-N study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizeRun {
    /// People trained on.
    pub n: usize,
    /// Steps.
    pub steps: usize,
}

/// The imbalance study (§3.1): power-law sampling at a fixed budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlphaConfig {
    /// People and budget (a uniform run with the same two is shared with the size study).
    pub run: SizeRun,
    /// Exponents α; 0 is uniform.
    pub alphas: Vec<f64>,
}

/// Fine-tuning a pre-trained model on new people (§4.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinetuneConfig {
    /// The uniform pre-training run that is fine-tuned (shared with the size study when the
    /// two agree).
    pub base: SizeRun,
    /// New people.
    pub new_people: usize,
    /// Fine-tuning steps.
    pub steps: usize,
    /// Constant learning rate (the paper's 3e-5 is 7.5 % of its 4e-4 peak).
    pub lr: f64,
    /// Weight of each old person relative to a new one; 0 is no replay.
    pub replay_weights: Vec<f64>,
    /// Whether AdamW's moments start from zero (the paper does not say; we default to yes).
    pub reset_optimizer: bool,
}

/// The whole reproduction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// `smoke`, `cpu` or `full`.
    pub scale: String,
    /// Seeds (runs are repeated per seed).
    pub seeds: Vec<u64>,
    /// The synthetic world.
    pub world: BioConfig,
    /// The decoder's size (RoPE, RMSNorm, SwiGLU, untied embeddings, sequences up to
    /// [`MAX_LEN`] tokens).
    pub model: DecoderShape,
    /// Pre-training.
    pub train: TrainConfig,
    /// `δ` of the plateau end: the first step with attribute loss below baseline − δ.
    pub plateau_delta: f64,
    /// People never trained on, for the hallucination measures.
    pub held_out: usize,
    /// Runs trained at the same time, each in its own thread (flex uses about one core per
    /// run at this size, so two runs on two cores take little longer than one).
    pub workers: usize,
    /// The plateau-versus-N runs (uniform sampling).
    pub sizes: Vec<SizeRun>,
    /// The α sweep.
    pub alpha: Option<AlphaConfig>,
    /// Fine-tuning.
    pub finetune: Option<FinetuneConfig>,
}

impl ExperimentConfig {
    /// The largest number of people any run trains on.
    pub fn max_people(&self) -> usize {
        let alpha = self.alpha.iter().map(|a| a.run.n);
        let base = self.finetune.iter().map(|f| f.base.n);
        self.sizes
            .iter()
            .map(|s| s.n)
            .chain(alpha)
            .chain(base)
            .max()
            .unwrap_or(0)
    }

    /// Everyone in the population: the trained people, then the held-out ones, then the
    /// fine-tuning newcomers.
    pub fn population_size(&self) -> usize {
        self.max_people() + self.held_out + self.finetune.as_ref().map_or(0, |f| f.new_people)
    }
}

fn positive(name: &str, value: usize) -> Result<(), InvalidConfig> {
    kiln_core::ensure_config!(value > 0, "`{name}` must be at least 1");
    Ok(())
}

fn positive_rate(name: &str, value: f64) -> Result<(), InvalidConfig> {
    kiln_core::ensure_config!(
        value.is_finite() && value > 0.0,
        "`{name}` must be a positive number, not {value}"
    );
    Ok(())
}

impl ReproductionConfig for ExperimentConfig {
    /// Checks the values.
    ///
    /// # Errors
    /// If a size or rate is not positive, a run is empty, or the world cannot be built.
    fn validate(&self) -> Result<(), InvalidConfig> {
        self.world.validate()?;
        kiln_core::ensure_config!(!self.seeds.is_empty(), "`seeds` must not be empty");
        positive("model.n_layers", self.model.n_layers)?;
        positive("model.ffn_hidden", self.model.ffn_hidden)?;
        positive("model.n_heads", self.model.n_heads)?;
        kiln_core::ensure_config!(
            self.model.d_model.is_multiple_of(2 * self.model.n_heads),
            "`model.d_model` ({}) must be a multiple of 2 × `n_heads` (RoPE pairs)",
            self.model.d_model
        );
        positive("train.batch_size", self.train.batch_size)?;
        positive("train.log_every", self.train.log_every)?;
        positive("train.eval_size", self.train.eval_size)?;
        positive("held_out", self.held_out)?;
        positive("workers", self.workers)?;
        positive_rate("train.lr", self.train.lr)?;
        kiln_core::ensure_config!(
            (0.0..=1.0).contains(&self.train.min_lr_fraction),
            "`train.min_lr_fraction` must lie in [0, 1]"
        );
        kiln_core::ensure_config!(!self.sizes.is_empty(), "`sizes` must name at least one run");
        let runs = self.sizes.iter().chain(self.alpha.iter().map(|a| &a.run));
        for run in runs.chain(self.finetune.iter().map(|f| &f.base)) {
            positive("n", run.n)?;
            positive("steps", run.steps)?;
        }
        if let Some(alpha) = &self.alpha {
            kiln_core::ensure_config!(
                alpha.alphas.iter().all(|a| a.is_finite() && *a >= 0.0),
                "`alpha.alphas` must be finite and ≥ 0"
            );
        }
        if let Some(f) = &self.finetune {
            positive("finetune.new_people", f.new_people)?;
            positive("finetune.steps", f.steps)?;
            positive_rate("finetune.lr", f.lr)?;
            kiln_core::ensure_config!(
                f.replay_weights.iter().all(|w| w.is_finite() && *w >= 0.0),
                "`finetune.replay_weights` must be finite and ≥ 0"
            );
        }
        Ok(())
    }

    fn scale(&self) -> &str {
        &self.scale
    }

    fn seeds(&self, offset: u64) -> Vec<u64> {
        self.seeds.iter().map(|s| s + offset).collect()
    }
}
