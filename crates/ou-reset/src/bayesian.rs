//! Step B of Bayesian Soft Reset Proximal: a mean-field Gaussian posterior `q = N(μ, diag s²)`.
//!
//! The drift turns the previous posterior `N(μ_t, s_t²)` into the prior of this step,
//!
//! ```text
//! q̃ = N( γ μ_t + (1 − γ) μ₀ ,  γ² s_t² + (1 − γ²) σ₀² )
//! ```
//!
//! and `q` starts at `q̃`, then takes `K_θ` steps with `M_θ` reparameterised samples
//! `θ = μ + s ε` on
//!
//! ```text
//! E_q[ −(1/B) log p(D_{t+1} | θ) ] + λ KL(q ‖ q̃),
//! KL = Σ_i [ log(s̃_i/s_i) + (s_i² + (μ_i − μ̃_i)²) / (2 s̃_i²) − ½ ]
//! ∂KL/∂μ = (μ − μ̃)/s̃²,     ∂KL/∂log s = s²/s̃² − 1,     ∂θ/∂log s = s ε
//! ```
//!
//! by SGD on `μ` and `log s` at the step's rate `α_t(γ_t)`. The model carries `μ` (predictions
//! use the mean); the variances are this method's state.

use std::collections::HashMap;

use burn::module::{Module, ParamId};
use burn::optim::GradientsParams;
use burn::prelude::*;
use kiln_core::train::SeededRng;

use crate::drift::{Coef, drift_mean, drift_variance};
use crate::learner::BatchNll;
use crate::noise;
use crate::params::{flat_grads, flat_params, map_flat};
use crate::prior::InitPrior;

/// One Bayesian update's settings.
pub struct BayesianStep<'a> {
    /// The prior.
    pub prior: &'a InitPrior,
    /// `α`.
    pub lr: f64,
    /// `K_θ`.
    pub steps: usize,
    /// `M_θ`.
    pub samples: usize,
    /// `λ`.
    pub kl_weight: f64,
}

/// The posterior of one group during the update.
struct Posterior {
    mean: Tensor<1>,
    log_std: Tensor<1>,
    prior_mean: Tensor<1>,
    prior_var: Tensor<1>,
}

impl BayesianStep<'_> {
    /// Updates the model (carrying `μ_t`) and `belief` (`s_t²` per group, elementwise after the
    /// first step) with the batch `nll` scores; returns the model at `μ_{t+1}` and the first
    /// sample's batch-mean loss.
    pub fn update<M: Module + Clone>(
        &self,
        model: M,
        gammas: &HashMap<ParamId, Coef>,
        factors: &HashMap<ParamId, Coef>,
        belief: &mut HashMap<ParamId, Coef>,
        rng: &mut SeededRng,
        nll: BatchNll<'_, M>,
    ) -> (M, f64) {
        let mut posts: HashMap<ParamId, Posterior> = HashMap::new();
        for p in flat_params(&model) {
            let (Some(group), Some(gamma), Some(s2)) =
                (self.prior.group(p.id), gammas.get(&p.id), belief.get(&p.id))
            else {
                continue;
            };
            let device = p.value.device();
            let mean = drift_mean(p.value, group.mean.as_ref(), gamma);
            let var = drift_variance(gamma, s2, group.var, group.numel, &device)
                .to_tensor(group.numel, &device);
            posts.insert(
                p.id,
                Posterior {
                    log_std: var.clone().log().mul_scalar(0.5),
                    mean: mean.clone(),
                    prior_mean: mean,
                    prior_var: var,
                },
            );
        }
        let mut first_loss = f64::NAN;
        for _ in 0..self.steps.max(1) {
            let loss = self.posterior_step(&model, &mut posts, factors, rng, nll);
            if first_loss.is_nan() {
                first_loss = loss;
            }
        }
        for (id, post) in &posts {
            belief.insert(
                *id,
                Coef::Elementwise(post.log_std.clone().mul_scalar(2.0).exp()),
            );
        }
        let model = map_flat(model, |id, theta| match posts.remove(&id) {
            Some(post) => post.mean,
            None => theta,
        });
        (model, first_loss)
    }

    /// One SGD step of `μ` and `log s` on the sampled loss plus `λ KL`; the mean loss of the
    /// samples.
    fn posterior_step<M: Module + Clone>(
        &self,
        model: &M,
        posts: &mut HashMap<ParamId, Posterior>,
        factors: &HashMap<ParamId, Coef>,
        rng: &mut SeededRng,
        nll: BatchNll<'_, M>,
    ) -> f64 {
        let m = self.samples.max(1);
        let mut grad_mean: HashMap<ParamId, Tensor<1>> = HashMap::new();
        let mut grad_log_std: HashMap<ParamId, Tensor<1>> = HashMap::new();
        let mut total_loss = 0.0;
        for _ in 0..m {
            let mut noise_of: HashMap<ParamId, Tensor<1>> = HashMap::new();
            let sample = map_flat(model.clone(), |id, theta| match posts.get(&id) {
                Some(post) => {
                    let eps = noise::normal(rng, theta.dims()[0], &theta.device());
                    let std_eps = post.log_std.clone().exp() * eps;
                    noise_of.insert(id, std_eps.clone());
                    post.mean.clone() + std_eps
                }
                None => theta,
            });
            let loss = nll(&sample).mean();
            total_loss += f64::from(loss.clone().into_scalar::<f32>());
            let grads = GradientsParams::from_grads(loss.backward(), &sample);
            for (id, g) in flat_grads(&sample, &grads) {
                let Some(std_eps) = noise_of.remove(&id) else {
                    continue;
                };
                let scale = 1.0 / m as f64;
                let gs = (g.clone() * std_eps).mul_scalar(scale);
                let gm = g.mul_scalar(scale);
                accumulate(&mut grad_mean, id, gm);
                accumulate(&mut grad_log_std, id, gs);
            }
        }
        let lambda = self.kl_weight;
        for (id, post) in posts.iter_mut() {
            let (Some(gm), Some(gs)) = (grad_mean.remove(id), grad_log_std.remove(id)) else {
                continue;
            };
            let rate = |g: Tensor<1>| match factors.get(id) {
                Some(f) => f.times(g).mul_scalar(self.lr),
                None => g.mul_scalar(self.lr),
            };
            let kl_mean = (post.mean.clone() - post.prior_mean.clone()) / post.prior_var.clone();
            let var = post.log_std.clone().mul_scalar(2.0).exp();
            let kl_log_std = (var / post.prior_var.clone()).sub_scalar(1.0);
            post.mean = post.mean.clone() - rate(gm + kl_mean.mul_scalar(lambda));
            post.log_std = post.log_std.clone() - rate(gs + kl_log_std.mul_scalar(lambda));
        }
        total_loss / m as f64
    }
}

/// `map[id] += g`.
fn accumulate(map: &mut HashMap<ParamId, Tensor<1>>, id: ParamId, g: Tensor<1>) {
    let next = match map.remove(&id) {
        Some(sum) => sum + g,
        None => g,
    };
    map.insert(id, next);
}
