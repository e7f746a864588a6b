//! Step B: the update from the drifted starting point, and the three soft-reset methods.
//!
//! With `γ_t` from Step A ([`crate::gamma`]), each group starts from `m(γ_t) = γ_t θ_t + (1 − γ_t) μ₀`
//! and moves with a learning rate that grows as `γ_t` falls:
//!
//! ```text
//! Soft Reset            θ_{t+1} = m(γ_t) − α_t(γ_t) ∇L_{t+1}(m(γ_t))
//! Soft Reset Proximal   θ_{t+1} ≈ argmin_θ L_{t+1}(θ) + ‖θ − m(γ_t)‖² / (2 α_t(γ_t))     (K_θ steps)
//! learning-rate rule    α_t(γ) = α · (γ² + (1 − γ²) ρ)                                   (VarianceRatio)
//! ```
//!
//! The rule reads SGD as one linearised MAP step under a Gaussian belief whose variance is
//! proportional to `α`: the drift widens the belief from `s²` to `v(γ)`, and the rate follows
//! the ratio `v(γ)/s²` with `ρ = σ₀²/s²`. At `γ = 1` it is `α`, at a full reset `ρα` (the "reset
//! learning rate"). The proximal variant takes `K_θ` fixed-point steps of size `α_t(γ_t)` on its
//! objective, `θ_{k+1} = m − α_t ∇L(θ_k)`, an implicit SGD step. The Bayesian variant is in
//! [`crate::bayesian`].

use std::collections::HashMap;

use burn::module::{Module, ParamId};
use burn::prelude::*;
use kiln_core::train::{ModuleStep, SeededRng};
use serde::{Deserialize, Serialize};

use crate::bayesian::BayesianStep;
use crate::drift::{Coef, drift_mean};
use crate::gamma::{GammaConfig, GammaInit, GammaProblem, Granularity, estimate_gamma};
use crate::learner::{BatchNll, StepStats, StreamLearner, mean_nll_grads};
use crate::params::{edit_grads, flat_params, map_flat};
use crate::prior::InitPrior;

/// How the learning rate follows `γ` (`α_t(γ) = α · factor(γ)`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum LrRule {
    /// `factor = 1`: the drift moves the starting point only.
    Constant,
    /// `factor = γ² + (1 − γ²) ρ`: the belief-variance ratio (our reading of the paper's rule).
    VarianceRatio {
        /// `ρ`, the factor at a full reset.
        rho: f64,
    },
    /// `factor = 1 + c (1 − γ)`.
    Linear {
        /// The slope `c`.
        c: f64,
    },
}

impl LrRule {
    /// The multiplier at `γ` (per group or per element).
    pub fn factor(&self, gamma: &Coef) -> Coef {
        match *self {
            LrRule::Constant => Coef::Scalar(1.0),
            _ if gamma.is_one() => Coef::Scalar(1.0),
            LrRule::VarianceRatio { rho } => gamma.map(
                |g| rho + g * g * (1.0 - rho),
                |g| g.square().mul_scalar(1.0 - rho).add_scalar(rho),
            ),
            LrRule::Linear { c } => gamma.map(
                |g| 1.0 + c * (1.0 - g),
                |g| g.neg().add_scalar(1.0).mul_scalar(c).add_scalar(1.0),
            ),
        }
    }
}

/// Where `γ_t` comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum GammaSource {
    /// Estimated online from each batch (Step A).
    Learned(GammaConfig),
    /// A perfect soft reset: `γ = at_boundary` on the first batch of each task, 1 otherwise
    /// (the paper's Fig. 16; it reads the task boundaries).
    Oracle {
        /// `γ` at a boundary.
        at_boundary: f64,
    },
}

/// How `θ` is updated once `γ_t` is known.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Variant {
    /// Soft Reset: one step from `m(γ_t)`.
    Sgd,
    /// Soft Reset Proximal: `steps` fixed-point steps on the proximal objective.
    Proximal {
        /// `K_θ`.
        steps: usize,
    },
    /// Bayesian Soft Reset Proximal: a mean-field Gaussian posterior ([`crate::bayesian`]).
    BayesianProximal {
        /// `K_θ`.
        steps: usize,
        /// `M_θ`: reparameterised samples per step.
        samples: usize,
        /// `λ`, the weight of `KL(q ‖ q̃)` against the batch-mean negative log-likelihood.
        kl_weight: f64,
    },
}

/// A soft-reset method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoftResetConfig {
    /// One `γ` per tensor or per parameter.
    pub granularity: Granularity,
    /// The base learning rate `α`.
    pub lr: f64,
    /// How the rate follows `γ`.
    pub lr_rule: LrRule,
    /// Where `γ` comes from.
    pub gamma: GammaSource,
    /// The update.
    pub variant: Variant,
}

/// A soft-reset method wrapped around a Burn optimizer `O` (plain SGD reproduces the paper's
/// setting exactly; with a stateful optimizer the rate multiplier scales the gradient instead
/// of the step).
pub struct SoftReset<O> {
    config: SoftResetConfig,
    prior: InitPrior,
    belief: HashMap<ParamId, Coef>,
    gammas: HashMap<ParamId, Coef>,
    optim: O,
    rng: SeededRng,
}

impl<O: ModuleStep> SoftReset<O> {
    /// The method for a model whose prior is `prior`, drawing its noise from `seed`.
    pub fn new(prior: InitPrior, config: SoftResetConfig, optim: O, seed: u64) -> Self {
        let rho = match &config.gamma {
            GammaSource::Learned(g) => g.belief_rho,
            GammaSource::Oracle { .. } => 1.0,
        };
        let belief = prior
            .groups
            .iter()
            .map(|g| (g.id, Coef::Scalar(g.var / rho)))
            .collect();
        Self {
            config,
            prior,
            belief,
            gammas: HashMap::new(),
            optim,
            rng: SeededRng::new(seed),
        }
    }

    /// The prior the method drifts toward.
    pub fn prior(&self) -> &InitPrior {
        &self.prior
    }

    /// Step A: `γ_t` of every group for this batch.
    fn gammas<M: Module + Clone>(
        &mut self,
        model: &M,
        boundary: bool,
        nll: BatchNll<'_, M>,
    ) -> HashMap<ParamId, Coef> {
        match &self.config.gamma {
            GammaSource::Oracle { at_boundary } => {
                let g = if boundary { *at_boundary } else { 1.0 };
                self.prior
                    .groups
                    .iter()
                    .map(|p| (p.id, Coef::Scalar(g)))
                    .collect()
            }
            GammaSource::Learned(config) => {
                let start = match config.init {
                    GammaInit::One => HashMap::new(),
                    GammaInit::WarmStart => self.gammas.clone(),
                };
                let problem = GammaProblem {
                    model,
                    prior: &self.prior,
                    belief: &self.belief,
                    granularity: self.config.granularity,
                };
                estimate_gamma(&problem, start, config, &mut self.rng, nll).0
            }
        }
    }

    /// `model` moved to `m(γ)`, group by group.
    fn drifted<M: Module>(&self, model: M, gammas: &HashMap<ParamId, Coef>) -> M {
        map_flat(model, |id, theta| {
            match (self.prior.group(id), gammas.get(&id)) {
                (Some(group), Some(gamma)) => drift_mean(theta, group.mean.as_ref(), gamma),
                _ => theta,
            }
        })
    }

    /// Step B of Soft Reset (`steps = 1`) and Soft Reset Proximal (`steps = K_θ`).
    fn proximal_update<M: Module + Clone>(
        &mut self,
        start: M,
        factors: &HashMap<ParamId, Coef>,
        steps: usize,
        nll: BatchNll<'_, M>,
    ) -> (M, f64) {
        let lr = self.config.lr;
        let anchor: HashMap<ParamId, Tensor<1>> = if steps > 1 {
            flat_params(&start)
                .into_iter()
                .map(|p| (p.id, p.value))
                .collect()
        } else {
            HashMap::new()
        };
        let mut model = start;
        let mut first_loss = f64::NAN;
        for k in 0..steps.max(1) {
            let (grads, loss) = mean_nll_grads(&model, nll);
            if k == 0 {
                first_loss = loss;
            }
            // G = factor·∇L + (θ_k − m)/α, so that θ − α G = θ_k − α_t ∇L − (θ_k − m).
            let grads = edit_grads(&model, grads, |id, theta, g| {
                let g = match factors.get(&id) {
                    Some(f) if !f.is_one() => f.times(g),
                    _ => g,
                };
                match anchor.get(&id) {
                    Some(m) if k > 0 => g + (theta - m.clone()).div_scalar(lr),
                    _ => g,
                }
            });
            model = self.optim.step(lr, model, grads);
        }
        (model, first_loss)
    }
}

impl<M: Module + Clone, O: ModuleStep> StreamLearner<M> for SoftReset<O> {
    fn step(&mut self, model: M, boundary: bool, nll: BatchNll<'_, M>) -> (M, StepStats) {
        let gammas = self.gammas(&model, boundary, nll);
        let factors: HashMap<ParamId, Coef> = gammas
            .iter()
            .map(|(id, g)| (*id, self.config.lr_rule.factor(g)))
            .collect();
        let (model, loss) = match self.config.variant {
            Variant::Sgd => {
                let start = self.drifted(model, &gammas);
                self.proximal_update(start, &factors, 1, nll)
            }
            Variant::Proximal { steps } => {
                let start = self.drifted(model, &gammas);
                self.proximal_update(start, &factors, steps, nll)
            }
            Variant::BayesianProximal {
                steps,
                samples,
                kl_weight,
            } => {
                let step = BayesianStep {
                    prior: &self.prior,
                    lr: self.config.lr,
                    steps,
                    samples,
                    kl_weight,
                };
                step.update(
                    model,
                    &gammas,
                    &factors,
                    &mut self.belief,
                    &mut self.rng,
                    nll,
                )
            }
        };
        let stats = StepStats {
            loss,
            gammas: self
                .prior
                .groups
                .iter()
                .map(|g| gammas.get(&g.id).map_or(1.0, Coef::mean))
                .collect(),
            lr_factor: mean_factor(&factors, self.prior.len()),
            reset: false,
        };
        self.gammas = gammas;
        (model, stats)
    }
}

/// The mean of the groups' rate multipliers.
fn mean_factor(factors: &HashMap<ParamId, Coef>, groups: usize) -> f64 {
    if groups == 0 {
        return 1.0;
    }
    factors.values().map(Coef::mean).sum::<f64>() / groups as f64
}
