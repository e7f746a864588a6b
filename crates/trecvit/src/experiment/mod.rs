//! The reproduction behind `cargo xtask reproduce trecvit`.
//!
//! Three models of the same width, depth and head are trained on moving MNIST digits whose
//! label is the direction of motion ([`Motion`](crate::data::Motion)): TRecViT, a frame-only ViT
//! ([`FrameVit`]) and joint space-time attention ([`JointAttention`]). Then, for each model
//! ([`training`]):
//! - test accuracy, with digits the training clips never showed;
//! - parameters, FLOPs per clip and peak host memory of inference;
//! - the latency and memory of one new frame when streaming, against the length of the video
//!   so far ([`streaming`]);
//! - for TRecViT, that streaming equals the whole-clip forward;
//! - test accuracy with the frames of every test clip shuffled (a model that uses the order
//!   must fall to chance).
//!
//! Then the mini-ablations of the paper's Table 1 ([`ablations`]): TRecViT without its Conv1D,
//! without its gates, and with Griffin's decay range, each trained alike on a shorter budget
//! beside TRecViT itself on that budget. The full-size comparison of the paper (TRecViT-B
//! against ViViT-L) is counted from the shapes ([`crate::cost`]). [`report`] writes it up, and
//! [`TRecViTReproduction`] is the whole reproduction as `kiln_core::cli::main` runs it.

pub mod ablations;
pub mod config;
pub mod report;
pub mod streaming;
pub mod training;

use burn::module::Module;
use burn::prelude::*;
use kiln_core::InvalidConfig;
use kiln_core::cli::{BuildReport, ExperimentError, Reproduction, Run};
use kiln_core::data::{self, ImageDataset, Split};
use serde::{Deserialize, Serialize};

use crate::baselines::{FrameVit, JointAttention};
use crate::data::Sprite;
use crate::{TRecViT, TRecViTConfig, cost};
pub use ablations::AblationResult;
pub use config::{AblationConfig, ExperimentConfig, TaskConfig, TrainingConfig, Variant};
pub use training::{ModelResult, run_model, shuffle_frames};

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
    ///
    /// # Errors
    /// If the model config is invalid.
    pub fn new(
        kind: ModelKind,
        config: &ExperimentConfig,
        device: &Device,
    ) -> Result<Self, InvalidConfig> {
        Ok(match kind {
            ModelKind::TRecViT => AnyModel::TRecViT(config.model.init(device)?),
            ModelKind::FrameVit => AnyModel::FrameVit(FrameVit::new(&config.model, device)),
            ModelKind::JointAttention => AnyModel::JointAttention(JointAttention::new(
                &config.model,
                config.max_frames(),
                device,
            )),
        })
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

/// Everything a run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    /// The three models, in [`ModelKind::ALL`] order.
    pub models: Vec<ModelResult>,
    /// The reference and the variants of the mini-ablations (empty when the config has none).
    pub ablations: Vec<AblationResult>,
}

/// The whole reproduction, as `cargo xtask reproduce trecvit` runs it.
pub struct TRecViTReproduction;

impl Reproduction for TRecViTReproduction {
    const PAPER: &'static str = "trecvit";
    const ABOUT: &'static str = "Reproduce TRecViT's claims at small scale: moving MNIST digits against a frame-only ViT and joint space-time attention, streaming latency, and the full-size cost comparison.";
    type Config = ExperimentConfig;
    type Results = RunResults;
    const REPORT: BuildReport<ExperimentConfig, RunResults> = report::build;

    fn run(config: &ExperimentConfig, run: &mut Run) -> Result<RunResults, ExperimentError> {
        let digits = Digits::load(&config.task)?;
        run_on(config, &digits, run)
    }
}

/// Every model of the run on `digits`, then the mini-ablations; each model is a phase.
///
/// # Errors
/// If a phase cannot be saved, or a model config is invalid.
pub fn run_on(
    config: &ExperimentConfig,
    digits: &Digits,
    run: &mut Run,
) -> Result<RunResults, ExperimentError> {
    let seed = config.seed + run.seed;
    let (device, memory) = (&run.device, run.memory());
    let phases = &mut run.phases;
    let models = ModelKind::ALL
        .iter()
        .map(|&kind| {
            phases.run(&format!("model/{}", kind.name()), || {
                run_model(kind, config, digits, seed, device, memory)
            })
        })
        .collect::<Result<Vec<_>, ExperimentError>>()?;
    let ablations = match &config.ablations {
        Some(ablation) => ablations::run(config, ablation, digits, seed, run)?,
        None => Vec::new(),
    };
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
