//! # kiln-tam-optim: Torque-Aware Momentum
//!
//! Malviya, Mordido, Baratin, Babanezhad Harikandeh, Dziugaite, Pascanu, Chandar (2024),
//! *Torque-Aware Momentum*, arXiv 2412.18790.
//!
//! Classical momentum adds every new gradient to its velocity at full weight, so a large gradient
//! that points away from the velocity knocks the trajectory sideways and it oscillates. TAM damps
//! each new gradient by how well it agrees with the previous momentum: the more it turns against
//! the momentum (the larger the "torque"), the less of it is added.
//!
//! ## The method (the paper's update rule)
//!
//! At step `t`, with gradient `g_t` and the momentum `m_{t−1}` of the previous step:
//!
//! ```text
//! S_t = ⟨m_{t−1}, g_t⟩ / (‖m_{t−1}‖ ‖g_t‖)        cosine with the previous momentum
//! ŝ_t = γ ŝ_{t−1} + (1 − γ) S_t                   smoothed, ŝ_0 = 0, no bias correction
//! d_t = (1 + ŝ_t) / 2                              damping, in [0, 1]
//! m_t = β m_{t−1} + (ε + d_t) g_t                  TAM (SGD family)
//! θ_t = θ_{t−1} − η m_t
//! ```
//!
//! AdaTAM puts the same damped momentum into Adam's update, `θ_t = θ_{t−1} − η m_t / (√v_t + ε)`
//! with `v_t = β₂ v_{t−1} + (1 − β₂) g_t²`, without bias correction ([`adatam`]).
//!
//! This file holds the three equations every variant shares: the cosine `S_t` ([`Alignment`]),
//! its smoothing ([`smooth`]) and the damping factor ([`damping`]). The optimizers are in
//! [`tam`], [`adatam`] and the two-pass whole-model step of [`TorqueOptimizer`].
//!
//! ## Scope of the cosine
//!
//! The equation is written for one vector. [`CosineScope::Global`] (the default, as in the first
//! author's prototype) takes `θ` to be every parameter of the model at once: one cosine, one `ŝ`,
//! one damping factor per step. That needs every gradient before any parameter moves, which
//! Burn's per-tensor [`burn::optim::Optimizer`] cannot give, so [`TorqueOptimizer`] walks the
//! model twice: a [`ModuleVisitor`](burn::module::ModuleVisitor) sums the three dot products,
//! then a [`ModuleMapper`](burn::module::ModuleMapper) applies the update.
//! [`CosineScope::PerTensor`] gives each parameter tensor its own cosine and `ŝ`; it also comes as
//! a plain [`burn::optim::Optimizer`] ([`TamConfig::build_per_tensor`]) for Burn's
//! [`ModuleOptimizer`](burn::optim::ModuleOptimizer), parameter groups and `Learner`.
//!
//! ## Use
//!
//! Replace `SgdConfig::new().with_momentum(..).init()` by [`TamConfig::new().init()`](TamConfig::init):
//!
//! ```
//! use burn::nn::{Linear, LinearConfig};
//! use burn::optim::GradientsParams;
//! use burn::prelude::*;
//! use kiln_tam_optim::{ModuleStep, TamConfig};
//!
//! let device = Device::default().autodiff();
//! let mut model: Linear = LinearConfig::new(4, 1).init(&device);
//! let mut optim = TamConfig::new().init();
//! let x = Tensor::<2>::ones([8, 4], &device);
//! for _ in 0..3 {
//!     let loss = model.forward(x.clone()).powf_scalar(2.0).mean();
//!     let grads = GradientsParams::from_grads(loss.backward(), &model);
//!     model = optim.step(0.1, model, grads);
//! }
//! let stats = optim.stats().expect("three steps were taken");
//! assert!((0.0..=1.0).contains(&stats.damping));
//! ```

pub mod adatam;
#[cfg(feature = "reproduce")]
pub mod experiment;
pub mod mlp;
mod optimizer;
mod per_tensor;
mod record;
pub mod reference;
mod switch;
pub mod tam;

use burn::prelude::Tensor;
use serde::{Deserialize, Serialize};

pub use adatam::{AdaTam, AdaTamConfig, AdaTamRule};
// The `RecordState` derive on `Slot` refers to these three names from the crate root.
pub(crate) use burn::optim::{RecordState, StateSink, StateSource};
pub use kiln_core::train::ModuleStep;
pub use optimizer::{Slot, TamStats, TorqueConfig, TorqueOptimizer, TorqueRule};
pub use per_tensor::PerTensor;
pub use record::StateError;
pub use switch::SwitchAfter;
pub use tam::{Tam, TamConfig, TamRule};

/// Over which parameters the cosine `S_t` is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CosineScope {
    /// One cosine over all parameters that have a gradient this step, as if the model were one
    /// vector (the first author's prototype; the default).
    Global,
    /// One cosine, and one smoothed `ŝ`, per parameter tensor.
    PerTensor,
}

/// What the first step does, when there is no previous momentum to take a cosine with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FirstStep {
    /// The momentum starts as the gradient itself, undamped, and `ŝ` is left at 0: the first step
    /// is a plain SGD step (the prototype; the default). A parameter that gets its first gradient
    /// later does the same and stays out of that step's cosine.
    CopyGrad,
    /// The momentum starts at zero, so the first cosine is 0 (0/0 read as 0), `ŝ_1 = 0` and the
    /// first gradient enters at `ε + ½`.
    ZeroMomentum,
}

/// The three sums behind the cosine `S_t = ⟨m, g⟩ / (‖m‖ ‖g‖)`, kept on the device as one-element
/// tensors so that a step never waits for the host.
#[derive(Clone, Debug)]
pub struct Alignment {
    /// `⟨m, g⟩`.
    pub dot: Tensor<1>,
    /// `‖m‖²`.
    pub momentum_sq: Tensor<1>,
    /// `‖g‖²`.
    pub grad_sq: Tensor<1>,
}

impl Alignment {
    /// The sums for one flattened momentum `m` and gradient `g`, accumulated in the tensors' own
    /// precision (f32).
    pub fn of(momentum: &Tensor<1>, grad: &Tensor<1>) -> Self {
        Self {
            dot: (momentum.clone() * grad.clone()).sum(),
            momentum_sq: momentum.clone().square().sum(),
            grad_sq: grad.clone().square().sum(),
        }
    }

    /// The sums over two disjoint sets of parameters: what the cosine of their concatenation
    /// needs.
    pub fn merge(self, other: Self) -> Self {
        Self {
            dot: self.dot + other.dot,
            momentum_sq: self.momentum_sq + other.momentum_sq,
            grad_sq: self.grad_sq + other.grad_sq,
        }
    }

    /// `S_t`, clamped to `[−1, 1]`; 0 when either vector is zero (never NaN).
    pub fn cosine(self) -> Tensor<1> {
        let norms = self.momentum_sq.sqrt() * self.grad_sq.sqrt();
        // Where the product of norms is 0 the dot product is 0 too, so any positive floor gives
        // 0/floor = 0; the floor is far below anything a real product of norms reaches.
        let zero = norms.clone().equal_elem(0.0);
        (self.dot / norms.mask_fill(zero, 1.0)).clamp(-1.0, 1.0)
    }
}

/// `ŝ_t = γ ŝ_{t−1} + (1 − γ) S_t`: the exponential moving average of the cosine, started at
/// `ŝ_0 = 0` (`previous = None`) and not bias-corrected, so that for the first steps `d_t` stays
/// near ½ unless gradients agree: an implicit warm-up.
pub fn smooth(previous: Option<Tensor<1>>, cosine: Tensor<1>, smoothing: f64) -> Tensor<1> {
    let fresh = cosine.mul_scalar(1.0 - smoothing);
    match previous {
        Some(s_hat) => s_hat.mul_scalar(smoothing) + fresh,
        None => fresh,
    }
}

/// `d_t = (1 + ŝ_t) / 2`, in `[0, 1]`: 1 when gradients keep agreeing with the momentum, ½ when
/// they are orthogonal to it on average, 0 when they keep reversing it.
pub fn damping(s_hat: Tensor<1>) -> Tensor<1> {
    s_hat.add_scalar(1.0).mul_scalar(0.5)
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
