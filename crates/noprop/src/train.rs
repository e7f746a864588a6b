//! Training NoProp-DT block by block (Algorithm 1).
//!
//! Each block has its own AdamW state; the shared read-out and embeddings have one more. A step
//! on block `t` back-propagates `L_t` (Eq. 8), collects the gradients of block `t` and of the
//! head only, and updates exactly those — the other blocks are not touched, and could not be:
//! their parameters are not in `L_t`'s graph.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use kiln_core::train::{FitOptions, Update, fit};
use serde::{Deserialize, Serialize};

use crate::{Denoiser, NoPropDt};

/// Optimizer settings (Table 4: learning rate 1e-3, weight decay 1e-3 for every method).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// Learning rate.
    pub lr: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            weight_decay: 1e-3,
        }
    }
}

impl OptimizerConfig {
    /// A fresh AdamW, Table 4's optimizer for NoProp-DT and the backprop baseline
    /// (β = 0.9/0.999 and ε = 1e-8, PyTorch's defaults).
    pub fn adamw(&self) -> ModuleOptimizer {
        AdamWConfig::new()
            .with_weight_decay(self.weight_decay as f32)
            .with_epsilon(1e-8)
            .init()
    }

    /// A fresh Adam with (L2, coupled) weight decay, Table 4's optimizer for NoProp-CT and -FM.
    pub fn adam(&self) -> ModuleOptimizer {
        AdamConfig::new()
            .with_epsilon(1e-8)
            .with_weight_decay(Some(WeightDecayConfig::new(self.weight_decay as f32)))
            .init()
    }
}

/// The optimizers of a NoProp-DT model: one per block, one for the shared head.
///
/// The backprop baseline, NoProp-CT and NoProp-FM train one network on one loss, which is
/// `kiln_core::train::fit` with [`Optimize`](kiln_core::train::Optimize) over
/// [`OptimizerConfig::adamw`] or [`OptimizerConfig::adam`].
pub struct DtTrainer {
    block_optims: Vec<ModuleOptimizer>,
    head_optim: ModuleOptimizer,
    lr: f64,
}

impl DtTrainer {
    /// Optimizers for `t_blocks` blocks.
    pub fn new(t_blocks: usize, config: &OptimizerConfig) -> Self {
        Self {
            block_optims: (0..t_blocks).map(|_| config.adamw()).collect(),
            head_optim: config.adamw(),
            lr: config.lr,
        }
    }

    /// One step of block `t` on a batch: `L_t`'s gradients update block `t` and the head.
    /// Returns the updated model and the loss value before the step.
    pub fn step<D: Denoiser>(
        &mut self,
        model: NoPropDt<D>,
        t: usize,
        x: Tensor<4>,
        labels: Tensor<1, Int>,
    ) -> (NoPropDt<D>, f64) {
        let loss = model.block_loss(t, x, labels);
        let value = loss.total.clone().into_scalar::<f64>();
        (self.update_block(model, t, &loss.total), value)
    }

    /// One epoch of Algorithm 1: block `t = 1..=T` in turn trains for one pass over
    /// `pass(t)`, the `(images, labels)` batches of that pass. `on_step(t, loss)` sees every step.
    pub fn fit_epoch<D: Denoiser, I>(
        &mut self,
        mut model: NoPropDt<D>,
        mut pass: impl FnMut(usize) -> I,
        mut on_step: impl FnMut(usize, f64),
    ) -> NoPropDt<D>
    where
        I: IntoIterator<Item = (Tensor<4>, Tensor<1, Int>)>,
    {
        for t in 1..=model.t_blocks() {
            let fitted = fit(
                model,
                pass(t),
                |m: &NoPropDt<D>, (x, y)| m.block_loss(t, x, y).total,
                &mut BlockUpdate { trainer: self, t },
                FitOptions::default(),
                |_, loss| on_step(t, loss.unwrap_or(f64::NAN)),
            );
            model = fitted.model;
        }
        model
    }

    /// `epochs` epochs of [`fit_epoch`](Self::fit_epoch); `pass(epoch, t)` gives the batches
    /// of block `t` in epoch `epoch` (0-based).
    pub fn fit<D: Denoiser, I>(
        &mut self,
        mut model: NoPropDt<D>,
        epochs: usize,
        mut pass: impl FnMut(usize, usize) -> I,
        mut on_step: impl FnMut(usize, f64),
    ) -> NoPropDt<D>
    where
        I: IntoIterator<Item = (Tensor<4>, Tensor<1, Int>)>,
    {
        for epoch in 0..epochs {
            model = self.fit_epoch(model, |t| pass(epoch, t), &mut on_step);
        }
        model
    }

    /// Back-propagates `loss = L_t` and steps block `t` and the head on their gradients.
    fn update_block<D: Denoiser>(
        &mut self,
        mut model: NoPropDt<D>,
        t: usize,
        loss: &Tensor<1>,
    ) -> NoPropDt<D> {
        let mut grads = loss.backward();
        let block_grads = GradientsParams::from_module(&mut grads, &model.blocks[t - 1]);
        let head_grads = GradientsParams::from_module(&mut grads, &model.head);
        let block = model.blocks[t - 1].clone();
        model.blocks[t - 1] = self.block_optims[t - 1].step(self.lr, block, block_grads);
        model.head = self
            .head_optim
            .step(self.lr, model.head.clone(), head_grads);
        model
    }
}

/// Block `t`'s step as a [`fit`] update.
struct BlockUpdate<'a> {
    trainer: &'a mut DtTrainer,
    t: usize,
}

impl<D: Denoiser> Update<NoPropDt<D>> for BlockUpdate<'_> {
    fn update(&mut self, model: NoPropDt<D>, loss: Tensor<1>, _step: usize) -> NoPropDt<D> {
        self.trainer.update_block(model, self.t, &loss)
    }
}
