//! Step A: the drift parameter `γ_t`, estimated online from the incoming batch before it is
//! used for the update.
//!
//! The objective is the predictive likelihood of the batch `D_{t+1}` under the drifted belief,
//! estimated with reparameterised samples `θ̃ = m(γ) + √v(γ) ε` (see [`crate::drift`]):
//!
//! ```text
//! ℓ(γ) = log (1/M Σ_m p(D_{t+1} | θ̃_m))        or        1/M Σ_m log p(D_{t+1} | θ̃_m)
//! γ ← clip( γ + η_γ ∂ℓ/∂γ , γ_min, 1 )          K_γ times
//! ```
//!
//! with the log-likelihood summed over the batch. One backward pass gives `∂(−log p)/∂θ̃` for
//! every parameter, and the chain rule through the sample gradient `∂θ̃/∂γ` is elementwise, so a
//! per-layer `γ` costs one sum per tensor and a per-parameter `γ` nothing more.
//!
//! The point estimate `θ_t` of plain SGD is given a belief variance `s² = σ₀²/ρ_b`
//! ([`GammaConfig::belief_rho`]), so that `√v(γ) ≥ s > 0` and the gradient is finite at `γ = 1`.

use std::collections::HashMap;

use burn::module::{Module, ParamId};
use burn::optim::GradientsParams;
use burn::prelude::*;
use kiln_core::train::SeededRng;
use serde::{Deserialize, Serialize};

use crate::drift::{Coef, drift_mean, drift_std_slope, drift_variance, sample_gradient};
use crate::noise;
use crate::params::{FlatParam, flat_grads, flat_params, map_flat};
use crate::prior::InitPrior;

/// Where each step's search for `γ` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GammaInit {
    /// At `γ = 1` (no drift) every step: `γ_t` depends on the current batch only (the default).
    One,
    /// At the previous step's `γ` (as the group's earlier OU prior learned its coefficient).
    WarmStart,
}

/// One `γ` per parameter tensor or per parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Granularity {
    /// One `γ` per parameter tensor (a layer's weight and its bias each have their own).
    PerLayer,
    /// One `γ` per scalar parameter.
    PerParameter,
}

/// How Step A estimates `γ`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GammaConfig {
    /// The step size `η_γ` of gradient ascent on the batch-summed log-likelihood.
    pub lr: f64,
    /// `K_γ`: gradient steps per training step.
    pub steps: usize,
    /// `M_γ`: reparameterised samples per gradient step.
    pub samples: usize,
    /// `γ_min`: the projection's lower end.
    pub min: f64,
    /// Where the search starts.
    pub init: GammaInit,
    /// Use `log mean exp` over the samples instead of the mean log-likelihood (the same at
    /// `M_γ = 1`).
    pub log_mean_exp: bool,
    /// `ρ_b`: the point estimate's belief variance is `σ₀²/ρ_b` (must be ≥ 1).
    pub belief_rho: f64,
}

impl GammaConfig {
    /// One step of size `lr` from `γ = 1`, one sample, `ρ_b = ρ`: the defaults of our runs.
    pub fn new(lr: f64, belief_rho: f64) -> Self {
        Self {
            lr,
            steps: 1,
            samples: 1,
            min: 0.0,
            init: GammaInit::One,
            log_mean_exp: false,
            belief_rho,
        }
    }

    /// Checks the values.
    ///
    /// # Errors
    /// If a count is zero, `η_γ` is not positive, `γ_min` is outside `[0, 1)` or `ρ_b < 1`.
    pub fn validate(&self) -> Result<(), kiln_core::InvalidConfig> {
        kiln_core::ensure_config!(
            self.lr.is_finite() && self.lr > 0.0,
            "gamma.lr must be positive, found {}",
            self.lr
        );
        kiln_core::ensure_config!(
            self.steps > 0 && self.samples > 0,
            "gamma.steps and gamma.samples must be at least 1"
        );
        kiln_core::ensure_config!(
            (0.0..1.0).contains(&self.min),
            "gamma.min must lie in [0, 1), found {}",
            self.min
        );
        kiln_core::ensure_config!(
            self.belief_rho >= 1.0,
            "gamma.belief_rho must be at least 1 (the belief is never wider than the prior), found {}",
            self.belief_rho
        );
        Ok(())
    }
}

/// What Step A works on: the model at `θ_t`, its prior and the belief variance of each group.
pub struct GammaProblem<'a, M> {
    /// The model at `θ_t`.
    pub model: &'a M,
    /// The prior.
    pub prior: &'a InitPrior,
    /// The belief variance `s²` of each group.
    pub belief: &'a HashMap<ParamId, Coef>,
    /// Per layer or per parameter.
    pub granularity: Granularity,
}

/// Runs Step A from `start` (1 for a group it lacks): `K_γ` projected gradient steps on the
/// predictive log-likelihood of the batch that `nll` scores (per-example negative
/// log-likelihoods, `[B]`). Returns `γ_t` per group and the batch's summed negative
/// log-likelihood at the first sample.
pub fn estimate_gamma<M: Module + Clone>(
    problem: &GammaProblem<'_, M>,
    start: HashMap<ParamId, Coef>,
    config: &GammaConfig,
    rng: &mut SeededRng,
    nll: &dyn Fn(&M) -> Tensor<1>,
) -> (HashMap<ParamId, Coef>, f64) {
    let thetas = flat_params(problem.model);
    let mut gammas = start;
    let mut first_nll = f64::NAN;
    for _ in 0..config.steps {
        let (slopes, loss) = gamma_slope(problem, &gammas, config, rng, nll);
        if first_nll.is_nan() {
            first_nll = loss;
        }
        for param in &thetas {
            let Some(slope) = slopes.get(&param.id) else {
                continue;
            };
            let gamma = gammas
                .remove(&param.id)
                .unwrap_or_else(|| start_value(problem.granularity, &param.value));
            gammas.insert(param.id, projected_step(gamma, slope, config, &param.value));
        }
    }
    (gammas, first_nll)
}

/// `clip(γ − η_γ · slope, γ_min, 1)`.
fn projected_step(gamma: Coef, slope: &Coef, config: &GammaConfig, value: &Tensor<1>) -> Coef {
    let (lr, min) = (config.lr, config.min);
    match (gamma, slope) {
        (Coef::Scalar(g), Coef::Scalar(d)) => Coef::Scalar((g - lr * d).clamp(min, 1.0)),
        (g, d) => {
            let (n, device) = (value.dims()[0], value.device());
            let step = d.to_tensor(n, &device).mul_scalar(lr);
            Coef::Elementwise((g.to_tensor(n, &device) - step).clamp(min, 1.0))
        }
    }
}

/// The derivative in each group's `γ` of the batch's summed negative log-likelihood under the
/// drifted belief at `gammas` (1 where missing), estimated with `M_γ` samples (the mean
/// log-likelihood, or `log mean exp` when configured); also the first sample's loss.
pub fn gamma_slope<M: Module + Clone>(
    problem: &GammaProblem<'_, M>,
    gammas: &HashMap<ParamId, Coef>,
    config: &GammaConfig,
    rng: &mut SeededRng,
    nll: &dyn Fn(&M) -> Tensor<1>,
) -> (HashMap<ParamId, Coef>, f64) {
    let thetas = flat_params(problem.model);
    let samples: Vec<(f64, HashMap<ParamId, Coef>)> = (0..config.samples.max(1))
        .map(|_| sample_slope(problem, &thetas, gammas, rng, nll))
        .collect();
    let weights = sample_weights(&samples, config.log_mean_exp);
    let mut total: HashMap<ParamId, Coef> = HashMap::new();
    for ((_, slope), w) in samples.iter().zip(&weights) {
        for (id, s) in slope {
            let part = s.map(|v| v * w, |t| t.mul_scalar(*w));
            let sum = match total.remove(id) {
                None => part,
                Some(Coef::Scalar(a)) => part.map(|b| a + b, |b| b.add_scalar(a)),
                Some(Coef::Elementwise(a)) => Coef::Elementwise(part.times(a.ones_like()) + a),
            };
            total.insert(*id, sum);
        }
    }
    (total, samples.first().map_or(f64::NAN, |s| s.0))
}

/// `γ = 1` in the granularity's shape.
pub fn start_value(granularity: Granularity, value: &Tensor<1>) -> Coef {
    match granularity {
        Granularity::PerLayer => Coef::Scalar(1.0),
        Granularity::PerParameter => Coef::Elementwise(Tensor::ones(value.dims(), &value.device())),
    }
}

/// One reparameterised sample: the batch's summed negative log-likelihood at `θ̃` and its
/// derivative in each group's `γ` (a sum per tensor, or elementwise).
fn sample_slope<M: Module + Clone>(
    view: &GammaProblem<'_, M>,
    thetas: &[FlatParam],
    gammas: &HashMap<ParamId, Coef>,
    rng: &mut SeededRng,
    nll: &dyn Fn(&M) -> Tensor<1>,
) -> (f64, HashMap<ParamId, Coef>) {
    let mut noise_of: HashMap<ParamId, (Tensor<1>, Coef)> = HashMap::new();
    let perturbed = map_flat(view.model.clone(), |id, theta| {
        let (Some(group), Some(belief)) = (view.prior.group(id), view.belief.get(&id)) else {
            return theta;
        };
        let device = theta.device();
        let gamma = gammas
            .get(&id)
            .cloned()
            .unwrap_or_else(|| start_value(view.granularity, &theta));
        let eps = noise::normal(rng, group.numel, &device);
        let v = drift_variance(&gamma, belief, group.var, group.numel, &device);
        let slope = drift_std_slope(&gamma, belief, group.var, group.numel, &device);
        let sample = drift_mean(theta, group.mean.as_ref(), &gamma)
            + v.map(f64::sqrt, Tensor::sqrt).times(eps.clone());
        noise_of.insert(id, (eps, slope));
        sample
    });
    let loss = nll(&perturbed).sum();
    let loss_value = f64::from(loss.clone().into_scalar::<f32>());
    let grads = GradientsParams::from_grads(loss.backward(), &perturbed);
    let grads = flat_grads(&perturbed, &grads);
    let mut slopes = HashMap::new();
    for param in thetas {
        let (Some((eps, std_slope)), Some(g), Some(group)) = (
            noise_of.remove(&param.id),
            grads.get(&param.id),
            view.prior.group(param.id),
        ) else {
            continue;
        };
        let dtheta = sample_gradient(param.value.clone(), group.mean.as_ref(), eps, &std_slope);
        let d = g.clone() * dtheta;
        let slope = match view.granularity {
            Granularity::PerLayer => Coef::Scalar(f64::from(d.sum().into_scalar::<f32>())),
            Granularity::PerParameter => Coef::Elementwise(d),
        };
        slopes.insert(param.id, slope);
    }
    (loss_value, slopes)
}

/// The weight of each sample's slope: `1/M` for the mean log-likelihood; the posterior share
/// `p_m / Σ p` (a softmax of the log-likelihoods) for `log mean exp`.
fn sample_weights(samples: &[(f64, HashMap<ParamId, Coef>)], log_mean_exp: bool) -> Vec<f64> {
    let m = samples.len().max(1) as f64;
    if !log_mean_exp {
        return vec![1.0 / m; samples.len()];
    }
    let best = samples
        .iter()
        .map(|(nll, _)| -nll)
        .fold(f64::NEG_INFINITY, f64::max);
    let raw: Vec<f64> = samples.iter().map(|(nll, _)| (-nll - best).exp()).collect();
    let total: f64 = raw.iter().sum();
    raw.iter().map(|r| r / total).collect()
}
