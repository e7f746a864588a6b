//! What a reproduction run does, read from `configs/trecvit/<scale>.ron`.

use kiln_core::cli::ReproductionConfig;
use kiln_core::{InvalidConfig, ensure_config};
use serde::{Deserialize, Serialize};

use crate::TRecViTConfig;
use crate::data::{Labels, Motion};

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

/// TRecViT variants trained like TRecViT on `steps` steps (our mini-ablations, after the
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

impl ReproductionConfig for ExperimentConfig {
    /// Checks the values.
    ///
    /// # Errors
    /// If the model does not fit the task's frames and labels, a count is zero, or an
    /// ablation's model is invalid.
    fn validate(&self) -> Result<(), InvalidConfig> {
        self.model.validate()?;
        let t = &self.task;
        ensure_config!(
            self.model.image_size == [t.side, t.side] && self.model.in_channels == 1,
            "model.image_size must be [{0}, {0}] with in_channels 1, the task's frames",
            t.side
        );
        let classes = t.labels.classes();
        ensure_config!(
            self.model.head.is_some_and(|h| h.num_classes == classes),
            "model.head must have num_classes {classes}, the classes of {:?} labels",
            t.labels
        );
        ensure_config!(
            t.frames > 0 && t.speed.0 > 0 && t.speed.0 <= t.speed.1 && t.shrink > 0,
            "task needs frames ≥ 1 and speeds 1 ≤ min ≤ max"
        );
        ensure_config!(
            28 % t.shrink == 0 && 28 / t.shrink <= t.side,
            "digits shrunk by {} do not fit {}-pixel frames",
            t.shrink,
            t.side
        );
        ensure_config!(
            t.digits.0 > 0 && t.digits.1 > 0 && t.test_clips > 0,
            "task needs training digits, test digits and test clips"
        );
        let tr = &self.training;
        ensure_config!(
            tr.steps > 0 && tr.batch_size > 0 && tr.lr > 0.0,
            "training needs steps, batch_size and lr above 0"
        );
        ensure_config!(
            !self.latency_frames.contains(&0) && self.latency_repeats > 0,
            "latency lengths and repeats must be at least 1"
        );
        if let Some(ablations) = &self.ablations {
            ensure_config!(ablations.steps > 0, "ablations.steps must be at least 1");
            for v in &ablations.variants {
                v.apply(&self.model)
                    .validate()
                    .map_err(|e| InvalidConfig::new(format!("ablation `{}`: {e}", v.name)))?;
            }
        }
        Ok(())
    }

    fn scale(&self) -> &str {
        &self.scale
    }

    fn seeds(&self, offset: u64) -> Vec<u64> {
        vec![self.seed + offset]
    }
}
