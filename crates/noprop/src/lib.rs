//! # NoProp: training neural networks without full back-propagation
//!
//! Li, Teh and Pascanu (2025), arXiv 2503.24322 (v2, CoLLAs 2025). Section and equation numbers
//! below are those of v2.
//!
//! NoProp trains `T` blocks that never exchange gradients. Block `t` sees the image `x` and a
//! noisy version `z_{t−1}` of its class embedding `u_y`, and learns to predict `u_y` — a
//! denoising task set by a fixed noise schedule, not by the blocks around it. At inference the
//! blocks run as `T` denoising steps that turn Gaussian noise `z_0` into a label `z_T`, from which
//! a linear read-out predicts the class.
//!
//! This file is the method for the discrete-time variant, NoProp-DT, read top to bottom:
//! 1. the read-out `p̂(y | z_T)` and the embeddings it shares with the blocks;
//! 2. the forward (noising) process `q(z_t | y)`;
//! 3. the local loss of block `t` (Eq. 8, Algorithm 1);
//! 4. inference by iterating the denoising step (Eq. 3).
//!
//! The rest of the crate:
//! - [`schedule`]: `ᾱ_t`, SNR and the step coefficients `a_t`, `b_t`, `c_t`;
//! - [`embedding`]: one-hot, learned and prototype class embeddings;
//! - [`block`]: the Fig. 5 block and the [`Denoiser`] trait for bringing your own;
//! - [`train`]: one optimizer per block (Algorithm 1), and the whole-model trainer;
//! - [`ct`]: NoProp-CT with the learned schedule of Appendix B;
//! - [`fm`]: NoProp-FM (flow matching);
//! - [`backprop`]: the end-to-end baseline built from the same blocks;
//! - [`config`]: RON configs and the Table 4 presets;
//! - `experiment` (feature `reproduce`): the reproduction behind `cargo xtask reproduce noprop`.
//!
//! Training three blocks of a small MLP denoiser for one step each, then predicting:
//!
//! ```
//! use burn::prelude::*;
//! use kiln_noprop::{NoPropDt, block::MlpBlock, schedule::{DiscreteSchedule, ScheduleConfig}};
//! use kiln_noprop::embedding::ClassEmbedding;
//! use kiln_noprop::train::{DtTrainer, OptimizerConfig};
//!
//! let device = Device::default().autodiff();
//! let (classes, t_blocks) = (4, 3);
//! let blocks = (0..t_blocks).map(|_| MlpBlock::new(16, classes, 64, classes, false, &device)).collect();
//! let schedule = DiscreteSchedule::new(&ScheduleConfig::default(), t_blocks).unwrap();
//! let mut model = NoPropDt::new(blocks, ClassEmbedding::one_hot(classes, &device), schedule, 0.1, &device);
//! let mut trainer = DtTrainer::new(t_blocks, &OptimizerConfig::default());
//! let x = Tensor::<4>::random([8, 1, 1, 16], burn::tensor::Distribution::Default, &device);
//! let y = Tensor::<1, Int>::from_ints([0, 1, 2, 3, 0, 1, 2, 3], &device);
//! for t in 1..=t_blocks {
//!     let (next, _loss) = trainer.step(model, t, x.clone(), y.clone());
//!     model = next;
//! }
//! let predictions = model.valid().predict(x.inner(), true);
//! ```

#![recursion_limit = "256"]

pub mod backprop;
pub mod block;
pub mod config;
pub mod ct;
pub mod embedding;
#[cfg(feature = "reproduce")]
pub mod experiment;
pub mod fm;
pub mod schedule;
pub mod train;

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use kiln_core::train::cross_entropy;

pub use block::{BlockConfig, Denoiser, MlpBlock, PaperBlock};
pub use embedding::{ClassEmbedding, EmbeddingKind};
pub use schedule::{DiscreteSchedule, ScheduleConfig};

// ---------------------------------------------------------------------------------------------
// 1. The read-out and the embeddings (§2.2)
// ---------------------------------------------------------------------------------------------

/// What the blocks share: the class embeddings `W_Embed` and the read-out
/// `p̂(y | z) = softmax(W_out z + b_out)`. Every block's loss trains these (Eq. 8's first term).
#[derive(Module, Debug)]
pub struct ReadoutHead {
    /// `W_Embed`.
    pub embedding: ClassEmbedding,
    /// `W_out`, `b_out`.
    pub readout: Linear,
}

impl ReadoutHead {
    /// A read-out from embedding width to classes, on top of `embedding`.
    pub fn new(embedding: ClassEmbedding, device: &Device) -> Self {
        let readout = LinearConfig::new(embedding.dim(), embedding.num_classes()).init(device);
        Self { embedding, readout }
    }

    /// Class logits `W_out z + b_out`.
    pub fn logits(&self, z: Tensor<2>) -> Tensor<2> {
        self.readout.forward(z)
    }
}

/// The model: `T` denoising blocks, the shared head, the schedule and `η`.
#[derive(Module, Debug)]
pub struct NoPropDt<D> {
    /// Block `t` is `blocks[t − 1]`, `t = 1..=T`.
    pub blocks: Vec<D>,
    /// Embeddings and read-out.
    pub head: ReadoutHead,
    /// `ᾱ_0..ᾱ_T`.
    #[module(skip)]
    pub schedule: DiscreteSchedule,
    /// `η`, the weight of the denoising term (0.1 in the paper's Table 4).
    #[module(skip)]
    pub eta: f64,
}

/// The terms of Eq. 8 for one block and batch, and their weighted sum.
#[derive(Debug, Clone)]
pub struct DtLoss {
    /// `CE + KL + w_t · denoise`, what is back-propagated (inside the block only).
    pub total: Tensor<1>,
    /// `mean_i −log p̂(y_i | z_T,i)` with `z_T ~ q(z_T | y)`.
    pub cross_entropy: Tensor<1>,
    /// `mean_i ‖û_t(z_{t−1,i}, x_i) − u_{y_i}‖²`, before the weight `(T/2) η ΔSNR(t)`.
    pub denoise: Tensor<1>,
}

impl<D: Denoiser> NoPropDt<D> {
    /// Assembles a model; `blocks.len()` must equal the schedule's `T`.
    ///
    /// # Panics
    /// If the number of blocks and the schedule disagree.
    pub fn new(
        blocks: Vec<D>,
        embedding: ClassEmbedding,
        schedule: DiscreteSchedule,
        eta: f64,
        device: &Device,
    ) -> Self {
        assert_eq!(
            blocks.len(),
            schedule.t_blocks(),
            "one block per step t = 1..=T"
        );
        Self {
            blocks,
            head: ReadoutHead::new(embedding, device),
            schedule,
            eta,
        }
    }

    /// The number of blocks `T`.
    pub fn t_blocks(&self) -> usize {
        self.blocks.len()
    }

    // -----------------------------------------------------------------------------------------
    // 2. The forward process q(z_t | y) (§2.1)
    // -----------------------------------------------------------------------------------------

    /// A draw from `q(z_t | y) = N(√ᾱ_t u_y, (1 − ᾱ_t) I)`, reparameterised so that gradients
    /// reach learned embeddings.
    pub fn sample_q(&self, t: usize, targets: Tensor<2>) -> Tensor<2> {
        let abar = self.schedule.abar(t);
        let noise = targets.random_like(Distribution::Normal(0.0, 1.0));
        targets.mul_scalar(abar.sqrt()) + noise.mul_scalar((1.0 - abar).sqrt())
    }

    // -----------------------------------------------------------------------------------------
    // 3. The local loss of block t (Eq. 8, Algorithm 1)
    // -----------------------------------------------------------------------------------------

    /// Block `t`'s loss on a batch:
    ///
    /// `L_t = E[−log p̂(y | z_T)] + KL(q(z_0|y) ‖ N(0, I)) + (T/2) η (SNR(t) − SNR(t−1)) E‖û_t(z_{t−1}, x) − u_y‖²`
    ///
    /// with `z_{t−1} ~ q(z_{t−1} | y)` and `z_T ~ q(z_T | y)` drawn fresh from the forward
    /// process, never from the chain of blocks. Only block `t`'s parameters, the read-out and
    /// the embeddings are in the graph, so `backward` cannot reach any other block.
    pub fn block_loss(&self, t: usize, x: Tensor<4>, labels: Tensor<1, Int>) -> DtLoss {
        assert!(
            (1..=self.t_blocks()).contains(&t),
            "block t must be in 1..=T"
        );
        let targets = self.head.embedding.targets(labels.clone());
        let z_last = self.sample_q(self.t_blocks(), targets.clone());
        let cross_entropy = cross_entropy(self.head.logits(z_last), labels);

        let z_prev = self.sample_q(t - 1, targets.clone());
        let u_hat = self
            .head
            .embedding
            .predict(self.blocks[t - 1].logits(x, z_prev, None));
        let denoise = (u_hat - targets.clone()).powi_scalar(2).sum_dim(1).mean();

        let mut total = cross_entropy.clone()
            + denoise
                .clone()
                .mul_scalar(self.schedule.loss_weight(t, self.eta));
        if self.schedule.abar(0) > 0.0 {
            // ½[ᾱ_0 ‖u_y‖² − d ᾱ_0 − d ln(1 − ᾱ_0)], averaged over the batch.
            let d = targets.dims()[1] as f64;
            let a0 = self.schedule.abar(0);
            let kl = targets
                .powi_scalar(2)
                .sum_dim(1)
                .mean()
                .mul_scalar(0.5 * a0)
                .add_scalar(-0.5 * d * (a0 + (1.0 - a0).ln()));
            total = total + kl;
        }
        DtLoss {
            total,
            cross_entropy,
            denoise,
        }
    }

    // -----------------------------------------------------------------------------------------
    // 4. Inference (Eq. 3)
    // -----------------------------------------------------------------------------------------

    /// Runs the blocks as `T` denoising steps from `z_0 ~ N(0, I)`:
    ///
    /// `z_t = a_t û_t(z_{t−1}, x) + b_t z_{t−1} + √c_t ε`, `t = 1..=T`,
    ///
    /// and returns `z_1..z_T`. Without `noise` the `√c_t ε` term is dropped (a deterministic
    /// variant the paper does not use; reported as a side result).
    pub fn trajectory(&self, x: Tensor<4>, noise: bool) -> Vec<Tensor<2>> {
        let batch = x.dims()[0];
        let d = self.head.embedding.dim();
        let mut z = Tensor::<2>::random([batch, d], Distribution::Normal(0.0, 1.0), &x.device());
        let mut states = Vec::with_capacity(self.t_blocks());
        for t in 1..=self.t_blocks() {
            let step = self.schedule.step(t);
            let u_hat =
                self.head
                    .embedding
                    .predict(self.blocks[t - 1].logits(x.clone(), z.clone(), None));
            z = step.apply(u_hat, z, noise);
            states.push(z.clone());
        }
        states
    }

    /// The predicted class of each image: `argmax p̂(y | z_T)`.
    pub fn predict(&self, x: Tensor<4>, noise: bool) -> Tensor<1, Int> {
        let z_last = self.trajectory(x, noise).pop().expect("T ≥ 1");
        self.head.logits(z_last).argmax(1).squeeze_dim(1)
    }
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
