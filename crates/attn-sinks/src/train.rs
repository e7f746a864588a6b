//! Pre-training one small Llama-style model from scratch (§4.1 of the paper, at our scale).
//!
//! A run is a [`RunSpec`]: the context length, where ⟨bos⟩ goes when documents are packed, and
//! whether attention may cross document boundaries. Every run sees the same number of tokens
//! per step and in total, so runs differ only in what the experiment varies (the paper holds tokens
//! per step fixed across its context sweep).

use std::time::Instant;

use burn::prelude::*;
use kiln_core::data::DataError;
use kiln_core::data::text::{BosMode, Packer};
use kiln_core::nn::Decoder;
use kiln_core::train::{LmBatch, LmTrainer, SeededRng, WarmupCosine, derive_seed};
use serde::{Deserialize, Serialize};

use crate::corpus::Corpus;

/// Size of the decoder (vocabulary and maximum length come from the corpus and the run). The shape: RoPE, pre-norm RMSNorm, SwiGLU, no biases and (as [`ModelConfig::config`]
/// is called here) tied embeddings, Gu et al.'s LLaMA-style recipe of §4.
pub type ModelConfig = kiln_core::nn::DecoderShape;

/// Optimisation, shared by every run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfig {
    /// Tokens per optimizer step; the batch is `tokens_per_step / context` windows.
    pub tokens_per_step: usize,
    /// Optimizer steps per run.
    pub steps: usize,
    /// Peak learning rate (AdamW, β₂ = 0.95).
    pub peak_lr: f64,
    /// Final learning rate of the cosine decay.
    pub min_lr: f64,
    /// Linear warm-up steps.
    pub warmup: usize,
    /// Decoupled weight decay; it changes sink rates strongly (Gu et al.), so it is pinned here.
    pub weight_decay: f64,
}

/// Whether attention may cross document boundaries inside a packed window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Masking {
    /// Plain causal attention over the whole window.
    Causal,
    /// Causal attention inside each document (a pinned ⟨bos⟩ stays visible to all).
    IntraDocument,
}

/// What distinguishes one pre-training run from another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSpec {
    /// Window length `T`.
    pub context: usize,
    /// ⟨bos⟩ placement when packing.
    pub bos: BosMode,
    /// Attention masking.
    pub masking: Masking,
}

impl RunSpec {
    /// A short label such as `T=128 causal FixedBos`.
    pub fn label(&self) -> String {
        let masking = match self.masking {
            Masking::Causal => "causal",
            Masking::IntraDocument => "intra-doc",
        };
        format!("T={} {masking} {:?}", self.context, self.bos)
    }
}

/// A trained model and how its training went.
#[derive(Debug, Clone)]
pub struct TrainedModel {
    /// The model, on the inference device.
    pub model: Decoder,
    /// `(step, mean training loss over the preceding steps)`.
    pub curve: Vec<(usize, f64)>,
    /// Wall-clock seconds of training.
    pub seconds: f64,
}

/// How often the training curve is sampled.
const CURVE_EVERY: usize = 25;

/// Trains one model on `corpus` as `spec` says, from `seed`. `on_step(step, mean)` runs after
/// every step, with the mean loss when a point of the curve was recorded.
///
/// # Errors
/// If the context does not divide the tokens per step or the corpus packs into no window.
pub fn train(
    corpus: &Corpus,
    spec: RunSpec,
    model: &ModelConfig,
    training: &TrainingConfig,
    device: &Device,
    seed: u64,
    mut on_step: impl FnMut(usize, Option<f64>),
) -> Result<TrainedModel, DataError> {
    if spec.context < 2 || !training.tokens_per_step.is_multiple_of(spec.context) {
        return Err(DataError::Invalid(format!(
            "tokens_per_step ({}) must be a multiple of the context length ({})",
            training.tokens_per_step, spec.context
        )));
    }
    let batch = training.tokens_per_step / spec.context;
    let packer = Packer {
        window: spec.context,
        mode: spec.bos,
        specials: corpus.specials,
    };
    let windows = packer.pack(&corpus.train);
    if windows.len() < batch {
        return Err(DataError::Invalid(format!(
            "the {} corpus fills {} windows of {}, fewer than one batch of {batch}",
            corpus.language.name(),
            windows.len(),
            spec.context
        )));
    }
    let train_device = device.clone().autodiff();
    train_device.seed(derive_seed(seed, "init"));
    let mut decoder = model
        .config(corpus.vocab_size, spec.context, true)
        .init(&train_device);
    let mut trainer = LmTrainer::new(
        WarmupCosine {
            peak: training.peak_lr,
            min: training.min_lr,
            warmup: training.warmup,
            total: training.steps,
        },
        training.weight_decay,
    );
    let mut rng = SeededRng::new(derive_seed(seed, "windows"));
    let mut order = rng.permutation(windows.len());
    let mut cursor = 0;
    let intra = spec.masking == Masking::IntraDocument;
    let started = Instant::now();
    let (mut curve, mut running) = (Vec::new(), Vec::new());
    for step in 0..training.steps {
        if cursor + batch > order.len() {
            order = rng.permutation(windows.len());
            cursor = 0;
        }
        let picked: Vec<_> = order[cursor..cursor + batch]
            .iter()
            .map(|&i| &windows[i])
            .collect();
        cursor += batch;
        let lm_batch = LmBatch::new(&picked, intra, &train_device);
        let (next, loss) = trainer.step(decoder, &lm_batch);
        decoder = next;
        running.push(loss);
        let mut point = None;
        if (step + 1) % CURVE_EVERY == 0 || step + 1 == training.steps {
            let mean = running.iter().sum::<f64>() / running.len() as f64;
            curve.push((step + 1, mean));
            running.clear();
            point = Some(mean);
        }
        on_step(step, point);
    }
    Ok(TrainedModel {
        model: decoder.valid(),
        curve,
        seconds: started.elapsed().as_secs_f64(),
    })
}
