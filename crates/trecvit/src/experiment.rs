//! The reproduction behind `cargo xtask reproduce trecvit`, as library functions.
//!
//! Three models of the same width, depth and head are trained on moving MNIST digits whose
//! label is the direction of motion ([`Motion`]): TRecViT, a frame-only ViT ([`FrameVit`]) and
//! joint space-time attention ([`JointAttention`]). Then, for each model:
//! - test accuracy, with digits the training clips never showed;
//! - parameters, FLOPs per clip and peak host memory of inference;
//! - the latency of one new frame when streaming, against the length of the video so far;
//! - for TRecViT, that streaming equals the whole-clip forward;
//! - test accuracy with the frames of every test clip shuffled (the spec's ablation (b): a model
//!   that uses the order must fall to chance).
//!
//! Then the mini-ablations of the paper's Table 1 ([`AblationConfig`]): TRecViT without its
//! Conv1D, without its gates, and with Griffin's decay range, each trained alike on a shorter
//! budget beside TRecViT itself on that budget.
//!
//! The full-size comparison of the paper (TRecViT-B against ViViT-L) is counted from the shapes
//! ([`cost`]).

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use kiln_core::data::{self, ImageDataset, Split};
use kiln_core::train::{
    PeakAlloc, PhaseError, PhaseStore, Progress, SeededRng, WarmupCosine, accuracy, cross_entropy,
    derive_seed, device_rng_lock, seed_everything,
};
use serde::{Deserialize, Serialize};

use crate::baselines::{FrameVit, JointAttention};
use crate::data::{Labels, Motion, Sprite};
use crate::{StreamState, TRecViT, TRecViTConfig, cost};

/// The models compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelKind {
    /// TRecViT.
    TRecViT,
    /// The frame-only ViT.
    FrameVit,
    /// Joint space-time attention.
    JointAttention,
}

impl ModelKind {
    /// All three, in report order.
    pub const ALL: [ModelKind; 3] = [
        ModelKind::TRecViT,
        ModelKind::FrameVit,
        ModelKind::JointAttention,
    ];

    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::TRecViT => "TRecViT",
            ModelKind::FrameVit => "frame-only ViT",
            ModelKind::JointAttention => "joint space-time attention",
        }
    }
}

/// The generated task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskConfig {
    /// Frame side in pixels.
    pub side: usize,
    /// Frames per clip.
    pub frames: usize,
    /// Slowest and fastest speed in pixels per frame.
    pub speed: (usize, usize),
    /// What the label is (`Sense` leaves an order-blind model at chance).
    pub labels: Labels,
    /// MNIST digits shrunk by this factor (2: 28 → 14 pixels).
    pub shrink: usize,
    /// Training digits (from MNIST's training set) and test digits (from its test set).
    pub digits: (usize, usize),
    /// Test clips.
    pub test_clips: usize,
}

/// Training settings, shared by the three models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfig {
    /// Optimizer steps; every step draws fresh clips.
    pub steps: usize,
    /// Clips per step.
    pub batch_size: usize,
    /// Peak AdamW learning rate (linear warm-up, cosine decay).
    pub lr: f64,
    /// Warm-up steps.
    pub warmup: usize,
    /// AdamW weight decay.
    pub weight_decay: f64,
}

/// Everything a reproduction run needs, read from `configs/trecvit/<scale>.ron`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// `smoke`, `cpu` or `full`.
    pub scale: String,
    /// The task.
    pub task: TaskConfig,
    /// The shared model sizes (TRecViT's config; the baselines take its tokenizer, ViT sizes
    /// and head).
    pub model: TRecViTConfig,
    /// Training.
    pub training: TrainingConfig,
    /// Seed (offset by `--seed`).
    pub seed: u64,
    /// Video lengths at which streaming latency is measured.
    pub latency_frames: Vec<usize>,
    /// Timed repeats per length (the median is reported).
    pub latency_repeats: usize,
    /// The mini-ablations (none when absent).
    #[serde(default)]
    pub ablations: Option<AblationConfig>,
}

/// TRecViT variants trained like TRecViT on `steps` steps (the spec's mini-ablations, after the
/// paper's Table 1), beside TRecViT itself on the same budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AblationConfig {
    /// Optimizer steps of every variant and of the reference.
    pub steps: usize,
    /// The variants.
    pub variants: Vec<Variant>,
}

/// A change to TRecViT's config; fields left out keep the main model's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// The row's name in the report.
    pub name: String,
    /// Taps of the Conv1D (0: none).
    #[serde(default)]
    pub conv_taps: Option<usize>,
    /// Whether the LRU keeps its gates.
    #[serde(default)]
    pub lru_gates: Option<bool>,
    /// The smallest initial decay radius.
    #[serde(default)]
    pub min_rad: Option<f64>,
}

impl Variant {
    /// `model` with this variant's changes.
    pub fn apply(&self, model: &TRecViTConfig) -> TRecViTConfig {
        TRecViTConfig {
            conv_taps: self.conv_taps.unwrap_or(model.conv_taps),
            lru_gates: self.lru_gates.unwrap_or(model.lru_gates),
            min_rad: self.min_rad.unwrap_or(model.min_rad),
            ..*model
        }
    }
}

impl ExperimentConfig {
    /// Reads and checks a RON config; errors name the file and the problem.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        Ok(kiln_core::cli::load_config(path, Self::validate)?)
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<(), String> {
        self.model.validate()?;
        let t = &self.task;
        if self.model.image_size != [t.side, t.side] || self.model.in_channels != 1 {
            return Err(format!(
                "model.image_size must be [{0}, {0}] with in_channels 1, the task's frames",
                t.side
            ));
        }
        let classes = t.labels.classes();
        match self.model.head {
            Some(h) if h.num_classes == classes => {}
            _ => {
                return Err(format!(
                    "model.head must have num_classes {classes}, the classes of {:?} labels",
                    t.labels
                ));
            }
        }
        if t.frames == 0 || t.speed.0 == 0 || t.speed.0 > t.speed.1 || t.shrink == 0 {
            return Err("task needs frames ≥ 1 and speeds 1 ≤ min ≤ max".into());
        }
        if 28 % t.shrink != 0 || 28 / t.shrink > t.side {
            return Err(format!(
                "digits shrunk by {} do not fit {}-pixel frames",
                t.shrink, t.side
            ));
        }
        if t.digits.0 == 0 || t.digits.1 == 0 || t.test_clips == 0 {
            return Err("task needs training digits, test digits and test clips".into());
        }
        let tr = &self.training;
        if tr.steps == 0 || tr.batch_size == 0 || tr.lr.is_nan() || tr.lr <= 0.0 {
            return Err("training needs steps, batch_size and lr above 0".into());
        }
        if self.latency_frames.contains(&0) || self.latency_repeats == 0 {
            return Err("latency lengths and repeats must be at least 1".into());
        }
        if let Some(ablations) = &self.ablations {
            if ablations.steps == 0 {
                return Err("ablations.steps must be at least 1".into());
            }
            for v in &ablations.variants {
                v.apply(&self.model)
                    .validate()
                    .map_err(|e| format!("ablation `{}`: {e}", v.name))?;
            }
        }
        Ok(())
    }

    /// The task's clip generator.
    pub fn motion(&self) -> Motion {
        Motion {
            side: self.task.side,
            frames: self.task.frames,
            speed: self.task.speed,
            labels: self.task.labels,
        }
    }

    /// The longest clip any part of the run shows the joint model (a latency run at `T` adds
    /// frame `T + 1`).
    pub fn max_frames(&self) -> usize {
        self.latency_frames
            .iter()
            .map(|t| t + 1)
            .chain(std::iter::once(self.task.frames))
            .max()
            .unwrap_or(self.task.frames)
    }
}

/// Training and test digits as sprites.
pub struct Digits {
    /// From MNIST's training set.
    pub train: Vec<Sprite>,
    /// From MNIST's test set.
    pub test: Vec<Sprite>,
}

impl Digits {
    /// Reads MNIST from the data directory and shrinks the first digits of each split.
    pub fn load(task: &TaskConfig) -> Result<Self, data::DataError> {
        let dir = data::dataset_dir("mnist")?;
        let train = data::load_mnist_like(&dir, Split::Train)?;
        let test = data::load_mnist_like(&dir, Split::Test)?;
        Ok(Self::from_datasets(&train, &test, task))
    }

    /// Sprites from two image datasets.
    pub fn from_datasets(train: &ImageDataset, test: &ImageDataset, task: &TaskConfig) -> Self {
        let take = |d: &ImageDataset, n: usize| {
            (0..n.min(d.len()))
                .map(|i| Sprite::from_image(d, i, task.shrink))
                .collect()
        };
        Self {
            train: take(train, task.digits.0),
            test: take(test, task.digits.1),
        }
    }
}

/// The three models behind one type.
pub enum AnyModel {
    /// TRecViT.
    TRecViT(TRecViT),
    /// Frame-only ViT.
    FrameVit(FrameVit),
    /// Joint attention.
    JointAttention(JointAttention),
}

impl AnyModel {
    /// A fresh model of `kind`.
    pub fn new(kind: ModelKind, config: &ExperimentConfig, device: &Device) -> Self {
        match kind {
            ModelKind::TRecViT => AnyModel::TRecViT(config.model.init(device)),
            ModelKind::FrameVit => AnyModel::FrameVit(FrameVit::new(&config.model, device)),
            ModelKind::JointAttention => AnyModel::JointAttention(JointAttention::new(
                &config.model,
                config.max_frames(),
                device,
            )),
        }
    }

    /// Class logits of clips `[B, T, H, W, 1]`.
    pub fn logits(&self, video: Tensor<5>) -> Tensor<2> {
        match self {
            AnyModel::TRecViT(m) => m.forward(video).logits.expect("the config has a head"),
            AnyModel::FrameVit(m) => m.forward(video),
            AnyModel::JointAttention(m) => m.forward(video),
        }
    }

    /// Parameters.
    pub fn num_params(&self) -> usize {
        match self {
            AnyModel::TRecViT(m) => m.num_params(),
            AnyModel::FrameVit(m) => m.num_params(),
            AnyModel::JointAttention(m) => m.num_params(),
        }
    }
}

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

/// Trains and measures one model.
pub fn run_model(
    kind: ModelKind,
    config: &ExperimentConfig,
    digits: &Digits,
    seed: u64,
    device: &Device,
    alloc: &PeakAlloc,
) -> ModelResult {
    let _rng_guard = device_rng_lock();
    let train_device = device.clone().autodiff();
    let _ = seed_everything(&train_device, derive_seed(seed, "model"));
    let motion = config.motion();
    let tr = &config.training;
    let schedule = WarmupCosine {
        peak: tr.lr,
        min: tr.lr * 0.01,
        warmup: tr.warmup,
        total: tr.steps,
    };
    let mut optim = AdamWConfig::new()
        .with_weight_decay(tr.weight_decay as f32)
        .init();
    let started = Instant::now();
    let mut progress = Progress::new(kind.name(), tr.steps as u64);
    let mut losses = Vec::new();
    // Training is written once per model type: Burn modules are distinct types.
    macro_rules! train {
        ($model:expr, $forward:expr) => {{
            let mut model = $model;
            for step in 0..tr.steps {
                let clip_seed = derive_seed(seed, &format!("train-{step}"));
                let (x, y) = motion.clips(&digits.train, tr.batch_size, clip_seed, &train_device);
                let loss = cross_entropy($forward(&model, x), y);
                if step % 10 == 0 {
                    let value = f64::from(loss.clone().into_scalar::<f32>());
                    losses.push(value);
                    progress.set_message(format!("loss {value:.3}"));
                }
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optim.step(schedule.lr(step), model, grads);
                progress.inc(1);
            }
            model.valid()
        }};
    }
    let model = match AnyModel::new(kind, config, &train_device) {
        AnyModel::TRecViT(m) => AnyModel::TRecViT(train!(m, |m: &TRecViT, x| m
            .forward(x)
            .logits
            .expect("head"))),
        AnyModel::FrameVit(m) => AnyModel::FrameVit(train!(m, |m: &FrameVit, x| m.forward(x))),
        AnyModel::JointAttention(m) => {
            AnyModel::JointAttention(train!(m, |m: &JointAttention, x| m.forward(x)))
        }
    };
    progress.finish();
    let train_seconds = started.elapsed().as_secs_f64();
    let (x, y) = motion.clips(
        &digits.test,
        config.task.test_clips,
        derive_seed(seed, "test"),
        device,
    );
    let batch = tr.batch_size.max(1);
    let test_acc = test_accuracy(&model, x.clone(), y.clone(), batch);
    let shuffled = shuffle_frames(x.clone(), derive_seed(seed, "shuffled-test"));
    let shuffled_test_acc = test_accuracy(&model, shuffled, y, batch);
    let (_, peak_bytes) =
        alloc.measure(|| model.logits(x.clone().slice(s![0..batch.min(config.task.test_clips)])));
    let streaming_gap = match &model {
        AnyModel::TRecViT(m) => Some(streaming_gap(
            m,
            x.clone().slice(s![0..4.min(config.task.test_clips)]),
        )),
        _ => None,
    };
    let (frame_latency, frame_peak_bytes) = config
        .latency_frames
        .iter()
        .map(|&t| frame_cost(&model, config, t, device, alloc))
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

/// Median seconds, and peak bytes allocated, to take in frame `frames + 1` of one video when
/// `frames` came before: one `step` for TRecViT; for the attention models, whatever they must
/// recompute (the frame model encodes the new frame alone; joint attention runs again over the
/// whole video). The memory is measured on one more, untimed call.
fn frame_cost(
    model: &AnyModel,
    config: &ExperimentConfig,
    frames: usize,
    device: &Device,
    alloc: &PeakAlloc,
) -> (f64, Option<usize>) {
    let [h, w] = config.model.image_size;
    let video = Tensor::<5>::zeros([1, frames + 1, h, w, 1], device);
    let frame = video.clone().slice(s![.., frames..frames + 1]);
    let mut times = Vec::with_capacity(config.latency_repeats);
    let peak;
    match model {
        AnyModel::TRecViT(m) => {
            let mut state = StreamState::default();
            for t in 0..frames {
                let f = video.clone().slice(s![.., t..t + 1]).squeeze_dim::<4>(1);
                state = m.step(f, state).1;
            }
            let f = frame.squeeze_dim::<4>(1);
            // One untimed call first: the first run of a shape pays for allocations.
            let _ = m.step(f.clone(), state.clone()).0.into_data();
            for _ in 0..config.latency_repeats {
                let started = Instant::now();
                let (tokens, _) = m.step(f.clone(), state.clone());
                let _ = tokens.into_data();
                times.push(started.elapsed().as_secs_f64());
            }
            peak = alloc
                .measure(|| m.step(f.clone(), state.clone()).0.into_data())
                .1;
        }
        AnyModel::FrameVit(m) => {
            let _ = m.forward(frame.clone()).into_data();
            for _ in 0..config.latency_repeats {
                let started = Instant::now();
                let _ = m.forward(frame.clone()).into_data();
                times.push(started.elapsed().as_secs_f64());
            }
            peak = alloc.measure(|| m.forward(frame.clone()).into_data()).1;
        }
        AnyModel::JointAttention(m) => {
            let _ = m.forward(video.clone()).into_data();
            for _ in 0..config.latency_repeats {
                let started = Instant::now();
                let _ = m.forward(video.clone()).into_data();
                times.push(started.elapsed().as_secs_f64());
            }
            peak = alloc.measure(|| m.forward(video.clone()).into_data()).1;
        }
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], peak)
}

/// One row of the mini-ablations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AblationResult {
    /// The variant's name (`TRecViT` for the reference on the same budget).
    pub name: String,
    /// Its config.
    pub model: TRecViTConfig,
    /// What it measured (no latency).
    pub result: ModelResult,
}

/// Everything a run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    /// The three models, in [`ModelKind::ALL`] order.
    pub models: Vec<ModelResult>,
    /// The reference and the variants of the mini-ablations (empty when the config has none).
    pub ablations: Vec<AblationResult>,
}

/// Every model of the run, then the mini-ablations; each model is a phase.
pub fn run(
    config: &ExperimentConfig,
    digits: &Digits,
    seed_offset: u64,
    device: &Device,
    alloc: &PeakAlloc,
    phases: &mut PhaseStore,
) -> Result<RunResults, PhaseError> {
    let seed = config.seed + seed_offset;
    let models = ModelKind::ALL
        .iter()
        .map(|&kind| {
            phases.run(
                &format!("model/{}", kind.name()),
                || -> Result<_, PhaseError> {
                    Ok(run_model(kind, config, digits, seed, device, alloc))
                },
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut ablations = Vec::new();
    if let Some(ablation) = &config.ablations {
        let reference = Variant {
            name: "TRecViT".into(),
            conv_taps: None,
            lru_gates: None,
            min_rad: None,
        };
        for variant in std::iter::once(&reference).chain(&ablation.variants) {
            // The same training clips for every variant; no latency runs.
            let mut short = config.clone();
            short.model = variant.apply(&config.model);
            short.training.steps = ablation.steps;
            short.latency_frames.clear();
            let result = phases.run(
                &format!("ablation/{}", variant.name),
                || -> Result<_, PhaseError> {
                    Ok(run_model(
                        ModelKind::TRecViT,
                        &short,
                        digits,
                        seed,
                        device,
                        alloc,
                    ))
                },
            )?;
            ablations.push(AblationResult {
                name: variant.name.clone(),
                model: short.model,
                result,
            });
        }
    }
    Ok(RunResults { models, ablations })
}

/// The paper's full-size efficiency comparison, counted: TRecViT-B (paper settings) against
/// ViViT-L/16 at 224² with one token per patch per frame, for clips of `frames` frames. (With
/// tubelets of 2 frames our count for 32 frames is 2.9 TFLOPs; one token per frame gives 7.7,
/// the 7.75 of the paper's Table 3.)
pub fn full_size_costs(frames: usize) -> (cost::Cost, cost::Cost) {
    let mut trecvit = TRecViTConfig::base_paper();
    trecvit.head = trecvit.head.map(|h| crate::HeadConfig {
        num_classes: 174,
        ..h
    });
    (
        cost::trecvit(&trecvit, frames),
        cost::joint_attention(&cost::vivit_large(174), frames, 1),
    )
}
