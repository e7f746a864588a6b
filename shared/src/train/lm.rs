//! Training the decoder language model on packed windows.
//!
//! AdamW with a linear warm-up then cosine decay of the learning rate, next-token
//! cross-entropy averaged over the positions the packer marked as targets, and checkpoints that
//! hold the model, the optimizer state and the step counter.

use std::f64::consts::PI;

use burn::optim::{AdamWConfig, GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use serde::{Deserialize, Serialize};

use super::checkpoint::{Checkpoint, CheckpointError, CheckpointWriter};
use crate::data::text::Window;
use crate::nn::Decoder;

/// Learning rate: linear warm-up to `peak` over `warmup` steps, then cosine decay to `min` at
/// step `total` (and `min` after it).
///
/// Not Burn's schedulers, for a reason the test
/// `warmup_cosine_matches_burns_schedulers_within_the_run` shows: Burn's linear warm-up followed
/// by `CosineAnnealingLrScheduler` gives the same rates within the run (to rounding), but its
/// cosine turns back up after `num_iters`, and its schedulers are stateful iterators, while
/// [`fit`](super::fit()) and [`LmTrainer`] ask for the rate of any step (a resumed run starts at
/// its checkpoint's step) as a pure function of the step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarmupCosine {
    /// Highest learning rate.
    pub peak: f64,
    /// Final learning rate.
    pub min: f64,
    /// Warm-up steps.
    pub warmup: usize,
    /// Steps until the decay reaches `min`.
    pub total: usize,
}

impl WarmupCosine {
    /// The same rate `lr` at every step (no warm-up, no decay): the usual fine-tuning choice.
    pub fn constant(lr: f64) -> Self {
        Self {
            peak: lr,
            min: lr,
            warmup: 0,
            total: 1,
        }
    }

    /// The learning rate of step `step` (0-based): `peak · (step + 1)/warmup` while warming up,
    /// then `min + ½ (peak − min)(1 + cos(π · progress))`.
    pub fn lr(&self, step: usize) -> f64 {
        if step < self.warmup {
            return self.peak * (step + 1) as f64 / self.warmup as f64;
        }
        let span = self.total.saturating_sub(self.warmup).max(1);
        let progress = ((step - self.warmup) as f64 / span as f64).min(1.0);
        self.min + 0.5 * (self.peak - self.min) * (1.0 + (PI * progress).cos())
    }
}

/// Windows as tensors: inputs and targets `[B, T]`, the loss mask `[B, T]` (1 where trained),
/// and document ids for intra-document attention masking.
#[derive(Debug, Clone)]
pub struct LmBatch {
    /// Input ids.
    pub tokens: Tensor<2, Int>,
    /// Next-token targets.
    pub targets: Tensor<2, Int>,
    /// 1 where the target counts, 0 elsewhere.
    pub loss_mask: Tensor<2>,
    /// Document ids per position, when attention is kept inside documents.
    pub segments: Option<Vec<Vec<usize>>>,
}

impl LmBatch {
    /// Stacks windows of equal length; `intra_document` keeps each document's attention to
    /// itself (and to a shared ⟨bos⟩).
    ///
    /// # Panics
    /// If `windows` is empty or their lengths differ.
    pub fn new(windows: &[&Window], intra_document: bool, device: &Device) -> Self {
        let b = windows.len();
        let t = windows
            .first()
            .map(|w| w.tokens.len())
            .expect("at least one window");
        assert!(
            windows.iter().all(|w| w.tokens.len() == t),
            "windows must have equal length"
        );
        let ids = |f: fn(&Window) -> &Vec<u32>| {
            let v: Vec<i64> = windows
                .iter()
                .flat_map(|w| f(w).iter().map(|&i| i64::from(i)))
                .collect();
            Tensor::<2, Int>::from_data(TensorData::new(v, [b, t]), device)
        };
        let mask: Vec<f32> = windows
            .iter()
            .flat_map(|w| w.loss_mask.iter().map(|&m| if m { 1.0 } else { 0.0 }))
            .collect();
        Self {
            tokens: ids(|w| &w.tokens),
            targets: ids(|w| &w.targets),
            loss_mask: Tensor::from_data(TensorData::new(mask, [b, t]), device),
            segments: intra_document.then(|| windows.iter().map(|w| w.segments.clone()).collect()),
        }
    }
}

/// Mean of `−log p(target)` over the positions where `mask` is 1.
pub fn masked_cross_entropy(
    logits: Tensor<3>,
    targets: Tensor<2, Int>,
    mask: Tensor<2>,
) -> Tensor<1> {
    let [b, t, _] = logits.dims();
    let picked = log_softmax(logits, 2)
        .gather(2, targets.unsqueeze_dim::<3>(2))
        .reshape([b, t]);
    let count = mask.clone().sum().clamp_min(1.0);
    (picked * mask).sum().neg() / count
}

/// What a language-model checkpoint stores besides the weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct TrainerState {
    step: usize,
    schedule: WarmupCosine,
}

/// AdamW (β = 0.9/0.95, ε = 1e-8, the usual language-model settings) on a schedule.
#[derive(Clone)]
pub struct LmTrainer {
    optim: ModuleOptimizer,
    schedule: WarmupCosine,
    step: usize,
}

impl LmTrainer {
    /// A fresh trainer.
    pub fn new(schedule: WarmupCosine, weight_decay: f64) -> Self {
        Self {
            optim: Self::optimizer(weight_decay),
            schedule,
            step: 0,
        }
    }

    fn optimizer(weight_decay: f64) -> ModuleOptimizer {
        AdamWConfig::new()
            .with_beta_2(0.95)
            .with_epsilon(1e-8)
            .with_weight_decay(weight_decay as f32)
            .init()
    }

    /// The same optimizer state (moments, step counter) on another schedule: fine-tuning
    /// that keeps the pre-training moments. The schedule is read at the absolute step, so a
    /// constant one (`peak == min`) is the usual choice here.
    pub fn with_schedule(mut self, schedule: WarmupCosine) -> Self {
        self.schedule = schedule;
        self
    }

    /// Steps taken so far.
    pub fn step_count(&self) -> usize {
        self.step
    }

    /// One optimizer step on `batch`; returns the model and the loss before the step.
    pub fn step(&mut self, model: Decoder, batch: &LmBatch) -> (Decoder, f64) {
        self.step_with(model, |model| {
            let out = model.forward(batch.tokens.clone(), batch.segments.as_deref(), None, false);
            masked_cross_entropy(out.logits, batch.targets.clone(), batch.loss_mask.clone())
        })
    }

    /// One optimizer step on the scalar loss that `loss` computes from the model (another
    /// forward pass, an attention override, extra terms); returns the model and that loss
    /// before the step.
    pub fn step_with(
        &mut self,
        model: Decoder,
        loss: impl FnOnce(&Decoder) -> Tensor<1>,
    ) -> (Decoder, f64) {
        let loss = loss(&model);
        let value = loss.clone().into_scalar::<f64>();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        (self.apply(model, grads), value)
    }

    /// One optimizer step on several micro-batches at once (gradient accumulation: the memory
    /// of one micro-batch, the step of all): the masked cross-entropy averaged over every
    /// counted token of all of them, as if they were one batch. Returns the model and that
    /// loss before the step.
    ///
    /// # Panics
    /// If `batches` is empty.
    pub fn step_accumulated(&mut self, model: Decoder, batches: &[LmBatch]) -> (Decoder, f64) {
        let counts: Vec<f64> = batches
            .iter()
            .map(|b| b.loss_mask.clone().sum().into_scalar::<f64>())
            .collect();
        let total = counts.iter().sum::<f64>().max(1.0);
        self.step_accumulated_with(model, batches.len(), |model, i| {
            let batch = &batches[i];
            let out = model.forward(batch.tokens.clone(), batch.segments.as_deref(), None, false);
            let mean =
                masked_cross_entropy(out.logits, batch.targets.clone(), batch.loss_mask.clone());
            mean.mul_scalar(counts[i] / total)
        })
    }

    /// One optimizer step on the gradient of `Σ_i loss(model, i)` over `i < parts`, each part
    /// computed and back-propagated on its own, then the gradients summed; returns the model
    /// and the summed loss before the step. Each part carries its own weight: for a mean over
    /// all parts, scale each (as [`step_accumulated`](Self::step_accumulated) does).
    ///
    /// # Panics
    /// If `parts` is 0.
    pub fn step_accumulated_with(
        &mut self,
        model: Decoder,
        parts: usize,
        mut loss: impl FnMut(&Decoder, usize) -> Tensor<1>,
    ) -> (Decoder, f64) {
        assert!(parts > 0, "gradient accumulation needs at least one part");
        let mut accumulator = GradientsAccumulator::new();
        let mut total = 0.0;
        for i in 0..parts {
            let part = loss(&model, i);
            total += part.clone().into_scalar::<f64>();
            accumulator.accumulate(&model, GradientsParams::from_grads(part.backward(), &model));
        }
        (self.apply(model, accumulator.grads()), total)
    }

    /// The optimizer step at this step's learning rate.
    fn apply(&mut self, model: Decoder, grads: GradientsParams) -> Decoder {
        let lr = self.schedule.lr(self.step);
        self.step += 1;
        self.optim.step(lr, model, grads)
    }

    /// Adds the model (`model.bpk`), optimizer (`optim.bpk`) and step to a checkpoint.
    pub fn save(&self, model: &Decoder, writer: &CheckpointWriter) -> Result<(), CheckpointError> {
        writer.module("model", model)?;
        writer.optimizer("optim", &self.optim)?;
        writer.state(&TrainerState {
            step: self.step,
            schedule: self.schedule,
        })
    }

    /// Restores a trainer and the model (whose structure and device `model` supplies).
    pub fn resume(
        checkpoint: &Checkpoint,
        model: Decoder,
        weight_decay: f64,
    ) -> Result<(Self, Decoder), CheckpointError> {
        let state: TrainerState = checkpoint.state()?;
        let model = checkpoint.module("model", model)?;
        let optim = checkpoint.optimizer("optim", Self::optimizer(weight_decay))?;
        Ok((
            Self {
                optim,
                schedule: state.schedule,
                step: state.step,
            },
            model,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_cosine_matches_burns_schedulers_within_the_run() {
        use burn::lr_scheduler::LrSchedulerConfig;
        use burn::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
        use burn::lr_scheduler::linear::LinearLrSchedulerConfig;
        use burn::lr_scheduler::sequential::SequentialLrSchedulerConfig;
        let ours = WarmupCosine {
            peak: 1e-3,
            min: 1e-5,
            warmup: 5,
            total: 40,
        };
        let warmup = LinearLrSchedulerConfig::new(ours.peak / 5.0, ours.peak, 4);
        let cosine = CosineAnnealingLrSchedulerConfig::new(ours.peak, 35).with_min_lr(ours.min);
        let mut burn = SequentialLrSchedulerConfig::new(
            vec![
                LrSchedulerConfig::Linear(warmup),
                LrSchedulerConfig::Cosine(cosine),
            ],
            vec![5],
        )
        .init()
        .unwrap();
        let burn_rates: Vec<f64> = (0..60).map(|_| burn.step().base()).collect();
        for (step, &theirs) in burn_rates.iter().enumerate().take(41) {
            let mine = ours.lr(step);
            assert!(
                (mine - theirs).abs() <= 1e-12 * ours.peak,
                "step {step}: ours {mine}, Burn's {theirs}"
            );
        }
        // Past `total` ours holds at `min`; Burn's cosine turns back up.
        assert_eq!(ours.lr(59), ours.min);
        assert!(burn_rates[59] > 10.0 * ours.min, "{}", burn_rates[59]);
    }
    use crate::data::text::{BosMode, Packer, Specials};
    use crate::nn::{DecoderConfig, RopeLayout};
    use crate::train::{CheckpointDir, device_rng_lock};

    #[test]
    fn schedule_has_its_closed_form_values() {
        let s = WarmupCosine {
            peak: 1e-3,
            min: 1e-4,
            warmup: 10,
            total: 110,
        };
        assert!((s.lr(0) - 1e-4).abs() < 1e-12);
        assert!((s.lr(9) - 1e-3).abs() < 1e-12);
        assert!((s.lr(10) - 1e-3).abs() < 1e-12);
        assert!(
            (s.lr(60) - 5.5e-4).abs() < 1e-12,
            "half-way: (peak + min) / 2"
        );
        assert!((s.lr(110) - 1e-4).abs() < 1e-12);
        assert!((s.lr(500) - 1e-4).abs() < 1e-12);
    }

    #[test]
    fn masked_cross_entropy_ignores_masked_positions() {
        let device = Device::default();
        // Uniform logits over 4 classes: ln 4 wherever counted; a huge wrong logit where masked.
        let logits =
            Tensor::<3>::from_floats([[[0.0, 0.0, 0.0, 0.0], [50.0, 0.0, 0.0, 0.0]]], &device);
        let targets = Tensor::<2, Int>::from_ints([[1, 3]], &device);
        let mask = Tensor::<2>::from_floats([[1.0, 0.0]], &device);
        let loss = masked_cross_entropy(logits, targets, mask).into_scalar::<f32>();
        assert!((loss - 4f32.ln()).abs() < 1e-6, "{loss}");
    }

    fn config() -> DecoderConfig {
        DecoderConfig {
            vocab_size: 12,
            d_model: 32,
            n_layers: 1,
            n_heads: 4,
            n_kv_heads: 4,
            ffn_hidden: 64,
            max_len: 32,
            rope_base: 10_000.0,
            rope_layout: RopeLayout::Halves,
            norm_eps: 1e-5,
            tied_embeddings: true,
        }
    }

    /// Documents that count up from a random start modulo 8: fully predictable after one token.
    fn batches(device: &Device) -> Vec<LmBatch> {
        let mut rng = crate::train::SeededRng::new(1);
        let docs: Vec<Vec<u32>> = (0..64)
            .map(|_| {
                let start = rng.below(8) as u32;
                (0..10).map(|i| (start + i) % 8).collect()
            })
            .collect();
        let packer = Packer {
            window: 16,
            mode: BosMode::FixedBos,
            specials: Specials {
                bos: 8,
                eos: 9,
                pad: 10,
            },
        };
        let windows = packer.pack(&docs);
        windows
            .chunks(8)
            .filter(|c| c.len() == 8)
            .map(|c| LmBatch::new(&c.iter().collect::<Vec<_>>(), true, device))
            .collect()
    }

    #[test]
    fn a_tiny_decoder_learns_a_predictable_language() {
        let _rng = device_rng_lock();
        let device = Device::default().autodiff();
        device.seed(2);
        let batches = batches(&device);
        let mut model = config().init(&device);
        let mut trainer = LmTrainer::new(
            WarmupCosine {
                peak: 3e-3,
                min: 3e-4,
                warmup: 10,
                total: 150,
            },
            0.0,
        );
        let mut losses = Vec::new();
        for i in 0..150 {
            let (next, loss) = trainer.step(model, &batches[i % batches.len()]);
            model = next;
            losses.push(loss);
        }
        let first = losses[0];
        let last = losses[140..].iter().sum::<f64>() / 10.0;
        // After ⟨eos⟩ the next document's start is uniform over 8 (ln 8 ≈ 2.08 for about one
        // target in eleven); every other target is determined by the one before.
        eprintln!("LM loss: first {first:.3}, last 10 mean {last:.3}");
        // A fresh model predicts nearly uniformly: the first loss is close to ln 12.
        assert!((first - 12f64.ln()).abs() < 0.3, "initial loss {first}");
        assert!(last < 0.6, "final loss {last} (first {first})");
    }

    #[test]
    fn a_resumed_run_equals_an_uninterrupted_one() {
        let _rng = device_rng_lock();
        let device = Device::default().autodiff();
        device.seed(3);
        let batches = batches(&device);
        let schedule = WarmupCosine {
            peak: 3e-3,
            min: 3e-4,
            warmup: 3,
            total: 8,
        };
        let init = config().init(&device);

        let mut straight = init.clone();
        let mut trainer = LmTrainer::new(schedule, 0.1);
        for i in 0..8 {
            straight = trainer.step(straight, &batches[i % batches.len()]).0;
        }

        let dir = tempfile::tempdir().unwrap();
        let checkpoints = CheckpointDir::new(dir.path());
        let mut first = init;
        let mut trainer = LmTrainer::new(schedule, 0.1);
        for i in 0..4 {
            first = trainer.step(first, &batches[i % batches.len()]).0;
        }
        let writer = checkpoints.begin(4).unwrap();
        trainer.save(&first, &writer).unwrap();
        writer.commit().unwrap();

        let checkpoint = checkpoints.latest().unwrap().unwrap();
        let (mut trainer, mut resumed) =
            LmTrainer::resume(&checkpoint, config().init(&device), 0.1).unwrap();
        assert_eq!(trainer.step_count(), 4);
        for i in 4..8 {
            resumed = trainer.step(resumed, &batches[i % batches.len()]).0;
        }
        let weights = |m: &Decoder| crate::host_values(m.embedding.weight.val());
        assert_eq!(weights(&resumed), weights(&straight));
    }
}
