//! AdaTAM, the Adam form: the damped momentum of TAM divided by Adam's second-moment scale.
//!
//! ```text
//! m_t = β₁ m_{t−1} + (ε_d + d_t) g_t          not an EMA: no (1 − β₁)
//! v_t = β₂ v_{t−1} + (1 − β₂) g_t²
//! θ_t = θ_{t−1} (1 − ηλ) − η m_t / (√v_t + ε)   no bias correction; λ > 0 is AdaTAMW
//! ```
//!
//! This is the form both independent implementations agree on; the paper body could not be read
//! here to confirm it. Because `m_t` is not an average, with `d ≡ 1` AdaTAM at `η` is
//! bias-uncorrected Adam at `η / (1 − β₁)`: give AdaTAM about `(1 − β₁)` times Adam's rate.
//! `ema_first_moment` and `bias_correction` turn it into Adam's own form, which with
//! `force_adam` is exactly Adam.

use burn::config::Config;
use burn::optim::{LearningRate, ModuleOptimizer};
use burn::prelude::*;

use crate::optimizer::{Slot, TorqueConfig, TorqueOptimizer, TorqueRule};
use crate::{CosineScope, FirstStep, PerTensor};

/// Settings of [`AdaTam`], in the style of Burn's `AdamConfig` (whose `epsilon` default is 1e-5;
/// here it is PyTorch's 1e-8, as in the implementations we follow).
#[derive(Config, Debug)]
pub struct AdaTamConfig {
    /// `β₁`, the momentum.
    #[config(default = 0.9)]
    pub beta1: f64,
    /// `β₂`, the decay of the second moment.
    #[config(default = 0.999)]
    pub beta2: f64,
    /// `γ`, the smoothing of the cosine.
    #[config(default = 0.9)]
    pub smoothing: f64,
    /// `ε_d`, the floor of the damping factor.
    #[config(default = 1e-8)]
    pub eps_damp: f64,
    /// `ε` of the denominator `√v + ε`.
    #[config(default = 1e-8)]
    pub eps: f64,
    /// Decoupled weight decay `λ` (AdaTAMW when positive).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Divide `m` and `v` by `1 − β^t` as Adam does.
    #[config(default = false)]
    pub bias_correction: bool,
    /// Make `m` an average: `m_t = β₁ m_{t−1} + (1 − β₁)(ε_d + d_t) g_t`.
    #[config(default = false)]
    pub ema_first_moment: bool,
    /// Over which parameters the cosine is taken.
    #[config(default = "CosineScope::Global")]
    pub scope: CosineScope,
    /// What the first step does.
    #[config(default = "FirstStep::CopyGrad")]
    pub first_step: FirstStep,
    /// `d ≡ 1`, `ε_d = 0`: no damping (with the two options above, Adam itself).
    #[config(default = false)]
    pub force_adam: bool,
}

/// AdaTAM over a whole module.
pub type AdaTam = TorqueOptimizer<AdaTamRule>;

impl AdaTamConfig {
    /// The optimizer, with the configured scope.
    pub fn init(&self) -> AdaTam {
        TorqueOptimizer::new(self.rule())
    }

    /// A per-tensor AdaTAM as a plain [`burn::optim::Optimizer`], whatever `scope` says.
    pub fn build_per_tensor(&self) -> PerTensor<AdaTamRule> {
        PerTensor::new(self.clone().with_scope(CosineScope::PerTensor).rule())
    }

    /// [`build_per_tensor`](Self::build_per_tensor) wrapped in Burn's `ModuleOptimizer`.
    pub fn init_module_optimizer(&self) -> ModuleOptimizer {
        self.build_per_tensor().into()
    }

    fn rule(&self) -> AdaTamRule {
        AdaTamRule {
            config: self.clone(),
        }
    }
}

/// The update of one parameter under AdaTAM.
#[derive(Clone, Debug)]
pub struct AdaTamRule {
    config: AdaTamConfig,
}

impl AdaTamRule {
    /// The settings.
    pub fn config(&self) -> &AdaTamConfig {
        &self.config
    }
}

impl TorqueRule for AdaTamRule {
    const NAME: &'static str = "adatam";

    fn torque(&self) -> TorqueConfig {
        let c = &self.config;
        TorqueConfig {
            smoothing: c.smoothing,
            floor: c.eps_damp,
            scope: c.scope,
            first_step: c.first_step,
            undamped: c.force_adam,
        }
    }

    fn has_second_moment(&self) -> bool {
        true
    }

    fn update(
        &self,
        lr: LearningRate,
        mut theta: Tensor<1>,
        grad: Tensor<1>,
        kick: Option<Tensor<1>>,
        slot: Option<Slot>,
    ) -> (Tensor<1>, Slot) {
        let c = &self.config;
        if c.weight_decay > 0.0 {
            theta = theta.mul_scalar(1.0 - lr * c.weight_decay);
        }
        let grad_sq = grad.clone().square().mul_scalar(1.0 - c.beta2);
        let mut kicked = match kick {
            Some(kick) => grad * kick,
            None => grad,
        };
        if c.ema_first_moment {
            kicked = kicked.mul_scalar(1.0 - c.beta1);
        }
        // m_t = β₁ m_{t−1} + (ε_d + d_t) g_t,  v_t = β₂ v_{t−1} + (1 − β₂) g_t²
        let (momentum, second, s_hat, steps) = match slot {
            Some(slot) => {
                let v = slot
                    .second_moment
                    .map_or(grad_sq.clone(), |v| v.mul_scalar(c.beta2) + grad_sq.clone());
                let m = slot.momentum.mul_scalar(c.beta1) + kicked;
                (m, v, slot.s_hat, slot.steps)
            }
            None => (kicked, grad_sq, None, 0),
        };
        let t = (steps + 1) as i32;
        let (m_hat, v_hat) = if c.bias_correction {
            (
                momentum.clone().div_scalar(1.0 - c.beta1.powi(t)),
                second.clone().div_scalar(1.0 - c.beta2.powi(t)),
            )
        } else {
            (momentum.clone(), second.clone())
        };
        // θ_t = θ_{t−1} − η m_t / (√v_t + ε)
        let theta = theta - (m_hat / v_hat.sqrt().add_scalar(c.eps)).mul_scalar(lr);
        let slot = Slot {
            momentum,
            second_moment: Some(second),
            s_hat,
            steps: steps + 1,
        };
        (theta, slot)
    }
}
