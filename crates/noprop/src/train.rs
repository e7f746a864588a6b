//! Training NoProp-DT block by block (Algorithm 1).
//!
//! Each block has its own AdamW state; the shared read-out and embeddings have one more. A step
//! on block `t` back-propagates `L_t` (Eq. 8), collects the gradients of block `t` and of the
//! head only, and updates exactly those — the other blocks are not touched, and could not be:
//! their parameters are not in `L_t`'s graph.

use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
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

/// One optimizer over every parameter of a model trained on one loss: the backprop baseline,
/// NoProp-CT and NoProp-FM.
pub struct WholeModelTrainer {
    optim: ModuleOptimizer,
    lr: f64,
}

impl WholeModelTrainer {
    /// Steps `optim` with learning rate `lr`.
    pub fn new(optim: ModuleOptimizer, lr: f64) -> Self {
        Self { optim, lr }
    }

    /// One step on `loss(&model)`; returns the updated model and the loss before the step.
    pub fn step<M: Module>(&mut self, model: M, loss: impl FnOnce(&M) -> Tensor<1>) -> (M, f64) {
        let loss = loss(&model);
        let value = loss.clone().into_scalar::<f64>();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        (self.optim.step(self.lr, model, grads), value)
    }
}

/// The optimizers of a NoProp-DT model: one per block, one for the shared head.
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
        mut model: NoPropDt<D>,
        t: usize,
        x: Tensor<4>,
        labels: Tensor<1, Int>,
    ) -> (NoPropDt<D>, f64) {
        let loss = model.block_loss(t, x, labels);
        let value = loss.total.clone().into_scalar::<f64>();
        let mut grads = loss.total.backward();
        let block_grads = GradientsParams::from_module(&mut grads, &model.blocks[t - 1]);
        let head_grads = GradientsParams::from_module(&mut grads, &model.head);
        let block = model.blocks[t - 1].clone();
        model.blocks[t - 1] = self.block_optims[t - 1].step(self.lr, block, block_grads);
        model.head = self
            .head_optim
            .step(self.lr, model.head.clone(), head_grads);
        (model, value)
    }
}
