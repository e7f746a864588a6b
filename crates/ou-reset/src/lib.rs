//! # kiln-ou-reset: automatic soft parameter resets
//!
//! Galashov, Titsias, György, Lyle, Pascanu, Teh, Sahani (NeurIPS 2024), *Non-Stationary
//! Learning of Neural Networks with Automatic Soft Parameter Reset*, arXiv 2411.04034.
//!
//! A network trained on data that keep changing loses plasticity: it stops fitting new tasks.
//! Resetting parameters to their initialisation restores it but throws away what was learned.
//! The paper links consecutive parameters by an Ornstein–Uhlenbeck drift toward the
//! initialisation distribution, whose strength `γ_t` is estimated online from the data: when a
//! batch is better explained by parameters drawn back toward the prior, `γ_t` drops, the
//! parameters are softly reset and the learning rate rises in proportion.
//!
//! ## The method
//!
//! Per parameter tensor (group) with initialisation prior `p₀ = N(μ₀, σ₀²)` ([`prior`]):
//!
//! ```text
//! drift          p(θ | θ_t, γ_t) = N( γ_t θ_t + (1 − γ_t) μ₀ , (1 − γ_t²) σ₀² )          [drift]
//! Step A (γ)     γ_t = argmax_γ  log E_{θ ~ drifted belief}[ p(D_{t+1} | θ) ]            [gamma]
//! Step B (θ)     θ_{t+1} = m(γ_t) − α_t(γ_t) ∇L_{t+1}(m(γ_t)),  m(γ) = γ θ_t + (1 − γ) μ₀  [soft_reset]
//!                α_t(γ) = α (γ² + (1 − γ²) ρ)
//! ```
//!
//! Step A takes projected gradient steps on `γ` through reparameterised samples of the drifted
//! belief; the chain rule to `γ` is elementwise, so one `γ` per tensor or per parameter costs
//! the same backward pass. [`SoftReset`] runs both steps around any Burn optimizer, in three
//! variants ([`Variant`]): Soft Reset, Soft Reset Proximal and Bayesian Soft Reset Proximal
//! ([`bayesian`], a mean-field Gaussian posterior). The baselines ([`baselines`]: hard reset,
//! L2 Init, shrink & perturb, and [`Online`] SGD) share the [`StreamLearner`] interface, and
//! [`streams`] and [`toy`] hold the non-stationary benchmarks.
//!
//! The paper's equations could not be read when this crate was written; every form above is a
//! decision recorded in the README, with its alternatives as options.
//!
//! ## Use
//!
//! ```
//! use burn::nn::{Linear, LinearConfig};
//! use burn::optim::SgdConfig;
//! use burn::prelude::*;
//! use kiln_ou_reset::{
//!     GammaConfig, GammaSource, Granularity, InitPrior, LrRule, PriorMean, SoftReset,
//!     SoftResetConfig, StreamLearner, VarRule, Variant,
//! };
//!
//! let device = Device::default().autodiff();
//! let mut model: Linear = LinearConfig::new(4, 1).init(&device);
//! let prior = InitPrior::from_model(&model, PriorMean::InitialDraw, VarRule::Empirical { floor: 1e-6 });
//! let config = SoftResetConfig {
//!     granularity: Granularity::PerLayer,
//!     lr: 0.05,
//!     lr_rule: LrRule::VarianceRatio { rho: 3.0 },
//!     gamma: GammaSource::Learned(GammaConfig::new(0.01, 3.0)),
//!     variant: Variant::Sgd,
//! };
//! let mut method = SoftReset::new(prior, config, SgdConfig::new().init(), 0);
//! let x = Tensor::<2>::ones([8, 4], &device);
//! let y = Tensor::<2>::zeros([8, 1], &device);
//! for _ in 0..3 {
//!     let nll = |m: &Linear| (m.forward(x.clone()) - y.clone()).square().sum_dim(1).squeeze_dim(1);
//!     let (next, stats) = method.step(model, false, &nll);
//!     model = next;
//!     assert!(stats.gammas.iter().all(|g| (0.0..=1.0).contains(g)));
//! }
//! ```

pub mod baselines;
pub mod bayesian;
pub mod drift;
#[cfg(feature = "reproduce")]
pub mod experiment;
pub mod gamma;
pub mod learner;
pub mod noise;
pub mod prior;
pub mod soft_reset;
pub mod streams;
pub mod toy;

/// A model's float parameters as flat vectors (kiln-core's, where the LM fine-tuning tests use
/// them too).
pub use kiln_core::train::flat as params;

pub use baselines::{HardReset, L2Init, ResetSchedule, ShrinkPerturb};
pub use drift::Coef;
pub use gamma::{GammaConfig, GammaInit, Granularity};
pub use learner::{BatchNll, Online, StepStats, StreamLearner};
pub use prior::{InitPrior, PriorMean, VarRule};
pub use soft_reset::{GammaSource, LrRule, SoftReset, SoftResetConfig, Variant};
pub use streams::{ImagePool, StreamConfig, StreamKind, Task, TaskAccuracy, TaskStream};
pub use toy::{ScalarMean, ToyMeanTracking};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
