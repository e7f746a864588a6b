//! Training one model on the moving digits and measuring it: accuracy, shuffled frames,
//! inference memory, streaming equivalence and the per-frame cost of streaming.

use burn::module::Module;
use burn::optim::AdamWConfig;
use burn::prelude::*;
use kiln_core::cli::ExperimentError;
use kiln_core::train::{
    FitOptions, Optimize, PeakAlloc, Progress, SeededRng, WarmupCosine, accuracy, cross_entropy,
    derive_seed, fit, seed_everything, timed,
};
use serde::{Deserialize, Serialize};

use super::config::ExperimentConfig;
use super::streaming::frame_cost;
use super::{AnyModel, Digits, ModelKind};
use crate::{StreamState, TRecViT};

/// One trained model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelResult {
    /// Which.
    pub kind: ModelKind,
    /// Parameters.
    pub params: usize,
    /// Training loss every 10 steps.
    pub losses: Vec<f64>,
    /// Test accuracy (%).
    pub test_acc: f64,
    /// Test accuracy (%) with the frames of every test clip in a random order.
    pub shuffled_test_acc: f64,
    /// Peak host bytes of inference on one batch of test clips (flex only).
    pub peak_bytes: Option<usize>,
    /// Seconds of training.
    pub train_seconds: f64,
    /// Median seconds to take in one new frame after `latency_frames[i]` frames.
    pub frame_latency: Vec<f64>,
    /// Peak host bytes allocated while taking in that frame (flex only).
    pub frame_peak_bytes: Vec<Option<usize>>,
    /// Largest |streaming − whole-clip| logit difference (TRecViT only).
    pub streaming_gap: Option<f64>,
}

/// Trains and measures one model of `kind`, initialised and fed from `seed`.
///
/// # Errors
/// If the model config is invalid.
pub fn run_model(
    kind: ModelKind,
    config: &ExperimentConfig,
    digits: &Digits,
    seed: u64,
    device: &Device,
    alloc: &PeakAlloc,
) -> Result<ModelResult, ExperimentError> {
    let train_device = device.clone().autodiff();
    let _ = seed_everything(&train_device, derive_seed(seed, "model"));
    let mut progress = Progress::new(kind.name(), config.training.steps as u64);
    let clips = Clips {
        config,
        digits,
        seed,
        device: &train_device,
    };
    let (trained, train_seconds) = timed(|| -> Result<_, ExperimentError> {
        let trained = match AnyModel::new(kind, config, &train_device)? {
            AnyModel::TRecViT(m) => {
                let forward = |m: &TRecViT, x| m.forward(x).logits.expect("the config has a head");
                let (m, losses) = clips.train(m, forward, &mut progress);
                (AnyModel::TRecViT(m), losses)
            }
            AnyModel::FrameVit(m) => {
                let (m, losses) = clips.train(m, |m, x| m.forward(x), &mut progress);
                (AnyModel::FrameVit(m), losses)
            }
            AnyModel::JointAttention(m) => {
                let (m, losses) = clips.train(m, |m, x| m.forward(x), &mut progress);
                (AnyModel::JointAttention(m), losses)
            }
        };
        progress.finish();
        Ok(trained)
    });
    let (model, losses) = trained?;
    Ok(measure(
        kind,
        (&model, losses, train_seconds),
        &clips,
        device,
        alloc,
    ))
}

/// Where a model's training clips come from: fresh clips of the task at every step, drawn from
/// the step's own seed, so that every model sees the same clips.
struct Clips<'a> {
    config: &'a ExperimentConfig,
    digits: &'a Digits,
    seed: u64,
    device: &'a Device,
}

impl Clips<'_> {
    /// Trains `model` (through `forward`, clips to logits) with AdamW on the configured
    /// warm-up and cosine schedule; returns it for inference with the loss every 10 steps.
    fn train<M: Module>(
        &self,
        model: M,
        forward: impl Fn(&M, Tensor<5>) -> Tensor<2>,
        progress: &mut Progress,
    ) -> (M, Vec<f64>) {
        let tr = &self.config.training;
        let schedule = WarmupCosine {
            peak: tr.lr,
            min: tr.lr * 0.01,
            warmup: tr.warmup,
            total: tr.steps,
        };
        let mut optim = AdamWConfig::new()
            .with_weight_decay(tr.weight_decay as f32)
            .init();
        let motion = self.config.motion();
        let batches = (0..tr.steps).map(|step| {
            let clip_seed = derive_seed(self.seed, &format!("train-{step}"));
            motion.clips(&self.digits.train, tr.batch_size, clip_seed, self.device)
        });
        let fitted = fit(
            model,
            batches,
            |m: &M, (x, y)| cross_entropy(forward(m, x), y),
            &mut Optimize::new(&mut optim, |step| schedule.lr(step)),
            FitOptions::log_every(10),
            |_, loss| {
                if let Some(value) = loss {
                    progress.set_message(format!("loss {value:.3}"));
                }
                progress.inc(1);
            },
        );
        (fitted.model.valid(), fitted.losses)
    }
}

/// Everything measured on a trained `model` of `kind`, on the test clips of `clips`' task.
fn measure(
    kind: ModelKind,
    (model, losses, train_seconds): (&AnyModel, Vec<f64>, f64),
    clips: &Clips<'_>,
    device: &Device,
    alloc: &PeakAlloc,
) -> ModelResult {
    let (config, seed) = (clips.config, clips.seed);
    let (x, y) = config.motion().clips(
        &clips.digits.test,
        config.task.test_clips,
        derive_seed(seed, "test"),
        device,
    );
    let batch = config.training.batch_size.max(1);
    let test_acc = test_accuracy(model, x.clone(), y.clone(), batch);
    let shuffled = shuffle_frames(x.clone(), derive_seed(seed, "shuffled-test"));
    let shuffled_test_acc = test_accuracy(model, shuffled, y, batch);
    let (_, peak_bytes) =
        alloc.measure(|| model.logits(x.clone().slice(s![0..batch.min(config.task.test_clips)])));
    let streaming_gap = match model {
        AnyModel::TRecViT(m) => Some(streaming_gap(
            m,
            x.clone().slice(s![0..4.min(config.task.test_clips)]),
        )),
        _ => None,
    };
    let (frame_latency, frame_peak_bytes) = config
        .latency_frames
        .iter()
        .map(|&t| frame_cost(model, config, t, device, alloc))
        .unzip();
    ModelResult {
        kind,
        params: model.num_params(),
        losses,
        test_acc,
        shuffled_test_acc,
        peak_bytes,
        train_seconds,
        frame_latency,
        frame_peak_bytes,
        streaming_gap,
    }
}

/// Accuracy (%) of `model` on clips `x` with labels `y`, `batch` clips at a time.
fn test_accuracy(model: &AnyModel, x: Tensor<5>, y: Tensor<1, Int>, batch: usize) -> f64 {
    let n = x.dims()[0];
    let mut correct = 0.0;
    for start in (0..n).step_by(batch) {
        let end = (start + batch).min(n);
        let logits = model.logits(x.clone().slice(s![start..end]));
        correct += accuracy(logits, y.clone().slice(s![start..end])) * (end - start) as f64;
    }
    100.0 * correct / n as f64
}

/// `clips` (`[B, T, H, W, C]`) with the frames of every clip in a random order of its own.
pub fn shuffle_frames(clips: Tensor<5>, seed: u64) -> Tensor<5> {
    let [b, t, h, w, c] = clips.dims();
    let mut rng = SeededRng::new(seed);
    let order: Vec<i64> = (0..b)
        .flat_map(|clip| {
            rng.permutation(t)
                .into_iter()
                .map(move |frame| (clip * t + frame) as i64)
        })
        .collect();
    let device = clips.device();
    let order = Tensor::<1, Int>::from_data(TensorData::new(order, [b * t]), &device);
    clips
        .reshape([b * t, h, w, c])
        .select(0, order)
        .reshape([b, t, h, w, c])
}

/// Largest difference between the logits of streaming `clips` frame by frame and of the
/// whole-clip forward.
fn streaming_gap(model: &TRecViT, clips: Tensor<5>) -> f64 {
    let whole = model.forward(clips.clone()).logits.expect("head");
    let mut state = StreamState::default();
    for t in 0..clips.dims()[1] {
        let frame = clips.clone().slice(s![.., t..t + 1]).squeeze_dim::<4>(1);
        state = model.step(frame, state).1;
    }
    let streamed = model.stream_logits(&state).expect("head");
    let gap = (streamed - whole).abs().max().into_scalar::<f32>();
    f64::from(gap)
}
