//! TAM, the SGD form: `m_t = β m_{t−1} + (ε + d_t) g_t`, `θ_t = θ_{t−1} − η m_t`.

use burn::config::Config;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{LearningRate, ModuleOptimizer};
use burn::prelude::*;

use crate::optimizer::{Slot, TorqueConfig, TorqueOptimizer, TorqueRule};
use crate::{CosineScope, FirstStep, PerTensor};

/// Settings of [`Tam`], in the style of Burn's `SgdConfig`. Defaults follow the first author's
/// prototype: `β = 0.9`, `γ = 0.9`, `ε = 1e-8`, global cosine, first step a plain SGD step.
#[derive(Config, Debug)]
pub struct TamConfig {
    /// `β`, the momentum.
    #[config(default = 0.9)]
    pub momentum: f64,
    /// `γ`, the smoothing of the cosine (fixed at 0.9 in the paper).
    #[config(default = 0.9)]
    pub smoothing: f64,
    /// `ε`, the floor of the damping factor (fixed at 1e-8 in the paper).
    #[config(default = 1e-8)]
    pub eps: f64,
    /// Weight decay `λ`: coupled L2 (`g ← g + λθ` before the momentum, as in the prototype) or,
    /// with `decoupled_weight_decay`, `θ ← θ (1 − ηλ)` before the update. The cosine always uses
    /// the raw gradient.
    pub weight_decay: Option<WeightDecayConfig>,
    /// Decouple the weight decay from the gradient (SGDW style).
    #[config(default = false)]
    pub decoupled_weight_decay: bool,
    /// Over which parameters the cosine is taken.
    #[config(default = "CosineScope::Global")]
    pub scope: CosineScope,
    /// What the first step does.
    #[config(default = "FirstStep::CopyGrad")]
    pub first_step: FirstStep,
    /// `d ≡ 1`, `ε = 0`: exactly SGD with momentum (dampening 0), the prototype's `use_sgdm`.
    #[config(default = false)]
    pub force_sgdm: bool,
    /// Step along `β m_t + (ε + d_t) g_t` instead of `m_t` (Nesterov's look-ahead).
    #[config(default = false)]
    pub nesterov: bool,
}

/// TAM over a whole module.
pub type Tam = TorqueOptimizer<TamRule>;

impl TamConfig {
    /// The optimizer, with the configured scope.
    pub fn init(&self) -> Tam {
        TorqueOptimizer::new(self.rule())
    }

    /// A per-tensor TAM as a plain [`burn::optim::Optimizer`], whatever `scope` says: for Burn's
    /// `ModuleOptimizer`, its parameter groups and its `Learner`.
    pub fn build_per_tensor(&self) -> PerTensor<TamRule> {
        PerTensor::new(self.clone().with_scope(CosineScope::PerTensor).rule())
    }

    /// [`build_per_tensor`](Self::build_per_tensor) wrapped in Burn's `ModuleOptimizer`.
    pub fn init_module_optimizer(&self) -> ModuleOptimizer {
        self.build_per_tensor().into()
    }

    fn rule(&self) -> TamRule {
        TamRule {
            config: self.clone(),
        }
    }
}

/// The update of one parameter under TAM.
#[derive(Clone, Debug)]
pub struct TamRule {
    config: TamConfig,
}

impl TamRule {
    /// The settings.
    pub fn config(&self) -> &TamConfig {
        &self.config
    }
}

impl TorqueRule for TamRule {
    const NAME: &'static str = "tam";

    fn torque(&self) -> TorqueConfig {
        let c = &self.config;
        TorqueConfig {
            smoothing: c.smoothing,
            floor: c.eps,
            scope: c.scope,
            first_step: c.first_step,
            undamped: c.force_sgdm,
        }
    }

    fn has_second_moment(&self) -> bool {
        false
    }

    fn update(
        &self,
        lr: LearningRate,
        mut theta: Tensor<1>,
        mut grad: Tensor<1>,
        kick: Option<Tensor<1>>,
        slot: Option<Slot>,
    ) -> (Tensor<1>, Slot) {
        let c = &self.config;
        if let Some(decay) = &c.weight_decay {
            let penalty = f64::from(decay.penalty);
            if c.decoupled_weight_decay {
                theta = theta.mul_scalar(1.0 - lr * penalty);
            } else {
                grad = grad + theta.clone().mul_scalar(penalty);
            }
        }
        // (ε + d_t) g_t
        let kicked = match kick {
            Some(kick) => grad * kick,
            None => grad,
        };
        // m_t = β m_{t−1} + (ε + d_t) g_t; on a `CopyGrad` first step m_1 = g_1.
        let (momentum, s_hat, steps) = match slot {
            Some(slot) => (
                slot.momentum.mul_scalar(c.momentum) + kicked.clone(),
                slot.s_hat,
                slot.steps,
            ),
            None => (kicked.clone(), None, 0),
        };
        let direction = if c.nesterov {
            momentum.clone().mul_scalar(c.momentum) + kicked
        } else {
            momentum.clone()
        };
        // θ_t = θ_{t−1} − η m_t
        let theta = theta - direction.mul_scalar(lr);
        let slot = Slot {
            momentum,
            second_moment: None,
            s_hat,
            steps: steps + 1,
        };
        (theta, slot)
    }
}
